import { join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hostState, inDir } from "./state-paths.js";

describe("the state's paths", () => {
  it("name the same files path.join does, for any directory a --state can give", () => {
    const component = fc.stringMatching(/^[a-z.]{1,4}$/);
    const dir = fc
      .tuple(
        fc.boolean(),
        fc.array(fc.oneof(component, fc.constantFrom("", ".", "..")), { maxLength: 5 }),
        fc.boolean(),
      )
      .map(([absolute, parts, trailing]) => `${absolute ? "/" : ""}${parts.join("/")}${trailing ? "/" : ""}`);
    fc.assert(
      fc.property(dir, (given) => {
        const state = hostState(given);
        expect(resolve(state.bundlePath)).toBe(resolve(join(given, "bundle.json")));
        expect(resolve(inDir(state.usedDir, "abc.1"))).toBe(resolve(join(given, "used", "abc.1")));
        expect(state.auditLogPath).not.toContain("//");
      }),
      { numRuns: 2000 },
    );
  });

  it("keep an empty --state in the working directory, never at /", () => {
    expect(hostState("").bundlePath).toBe("./bundle.json");
    expect(hostState("/").bundlePath).toBe("/bundle.json");
    expect(hostState("/var/lib/airgrant/").auditLogPath).toBe("/var/lib/airgrant/audit.log");
  });
});
