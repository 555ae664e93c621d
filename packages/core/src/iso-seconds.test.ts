import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoSeconds, isoTime } from "./iso-seconds.js";

const MAX_TIME_MS = 8.64e15;

describe("isoTime", () => {
  it("writes what Date.prototype.toISOString writes, over all of Date's range", () => {
    const near = (ms: number) =>
      fc.integer({ min: Math.max(-MAX_TIME_MS, ms - 4e10), max: Math.min(MAX_TIME_MS, ms + 4e10) });
    const times = fc.oneof(
      fc.integer({ min: -MAX_TIME_MS, max: MAX_TIME_MS }),
      // Around the epoch, years 0 and 9999/10000, and the range's ends.
      ...[0, -62_167_219_200_000, 253_402_300_800_000, -MAX_TIME_MS, MAX_TIME_MS].map(near),
    );
    fc.assert(
      fc.property(times, (ms) => {
        expect([ms, isoTime(ms)]).toEqual([ms, new Date(ms).toISOString()]);
      }),
      { numRuns: 20_000 },
    );
    for (const ms of [0, -1, 951_868_799_999, -2_208_988_800_000, -MAX_TIME_MS, MAX_TIME_MS, -62_198_755_200_001]) {
      expect([ms, isoTime(ms)]).toEqual([ms, new Date(ms).toISOString()]);
    }
  });
});

describe("isoSeconds", () => {
  it("writes a time without its milliseconds, and a time Date cannot hold as the number", () => {
    const seconds = fc.oneof(
      fc.integer({ min: -9e12, max: 9e12 }),
      fc.double({ noDefaultInfinity: false }),
      fc.constantFrom(8.64e12, 8.64e12 + 1, -8.64e12, 2 ** 64 - 1, Number.NaN, 0.0005, -0.0005, 1.5),
    );
    const byDate = (s: number) => {
      const date = new Date(s * 1000);
      return Number.isNaN(date.getTime()) ? `${s} s` : date.toISOString().replace(".000Z", "Z");
    };
    fc.assert(
      fc.property(seconds, (s) => {
        expect([s, isoSeconds(s)]).toEqual([s, byDate(s)]);
      }),
      { numRuns: 20_000 },
    );
  });
});
