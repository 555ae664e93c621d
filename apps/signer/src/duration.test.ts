import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it("reads the units the CLI documents", () => {
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("30m")).toBe(1800);
    expect(parseDuration("2h")).toBe(7200);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("1d2h3m4s")).toBe(93_784);
  });

  it("refuses bare numbers, units out of order or repeated, signs, spaces and zero", () => {
    for (const text of ["", "30", "m", "30m1h", "1h1h", "-5m", "+5m", " 5m", "5 m", "5M", "0s", "0h0m", "1.5h", "1w"]) {
      expect(() => parseDuration(text), text).toThrow(expect.objectContaining({ code: "bad-input" }));
    }
  });

  it("reads back what formatDuration writes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), (seconds) => {
        expect(parseDuration(formatDuration(seconds))).toBe(seconds);
      }),
    );
    expect(formatDuration(5400)).toBe("1h30m");
    expect(formatDuration(28_800)).toBe("8h");
  });
});
