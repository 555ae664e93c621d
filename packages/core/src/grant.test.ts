import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkTarget, parseTarget } from "./grant.js";

const host = (name: string) => codeOf(() => checkTarget({ kind: "host", name }));

describe('host names (docs/grant-format.md, "Host names")', () => {
  it("accepts labels of 1-63 characters up to 64 characters in all", () => {
    for (const name of ["a", "db1.example", "x-1.b2", "a".repeat(63), `${"a".repeat(62)}.b`, "10.0.0.1"]) {
      expect(host(name), name).toBeUndefined();
    }
  });

  it("refuses a label of 64 characters, a name over 64, empty labels and misplaced hyphens", () => {
    for (const name of [
      "a".repeat(64),
      `b.${"a".repeat(64)}`,
      `${"a".repeat(32)}.${"b".repeat(32)}`,
      "",
      ".",
      "a.",
      ".a",
      "a..b",
      "-a",
      "a-",
      "a.-b",
      "A",
      "a_b",
      "a b",
    ]) {
      expect(host(name), name).toBe("invalid-grant-field");
    }
  });

  it("agrees with the grammar on every name of labels", () => {
    const label = fc.stringMatching(/^[a-z0-9-]{0,70}$/);
    fc.assert(
      fc.property(fc.array(label, { minLength: 1, maxLength: 4 }), (labels) => {
        const name = labels.join(".");
        const valid = name.length <= 64 && labels.every((l) => l.length >= 1 && l.length <= 63 && !/^-|-$/.test(l));
        expect(host(name) === undefined, name).toBe(valid);
      }),
      { numRuns: 2000 },
    );
  });

  it("lower-cases a host on the command line, not a group", () => {
    expect(parseTarget("DB1.Example")).toEqual({ kind: "host", name: "db1.example" });
    expect(codeOf(() => parseTarget("group:DBS"))).toBe("invalid-grant-field");
  });
});
