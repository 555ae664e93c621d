import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entryTimeSeconds } from "./audit-entry.js";

describe("entryTimeSeconds", () => {
  it("gives what Date.parse gives for every canonical time, years 1 to 9999", () => {
    const times = fc.date({
      min: new Date("0001-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59.999Z"),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(times, (t) => {
        const time = t.toISOString();
        expect([time, entryTimeSeconds(time)]).toEqual([time, Math.floor(Date.parse(time) / 1000)]);
      }),
      { numRuns: 20_000 },
    );
    for (const time of [
      "2000-02-29T23:59:59.999Z",
      "1900-03-01T00:00:00.000Z",
      "0001-01-01T00:00:00.000Z",
      "1969-12-31T23:59:59.999Z",
    ]) {
      expect([time, entryTimeSeconds(time)]).toEqual([time, Math.floor(Date.parse(time) / 1000)]);
    }
  });
});
