import { describe, expect, it } from "vitest";
import { parseTarget } from "./grant.js";
import { targetsPermit } from "./target-permission.js";

describe("targetsPermit", () => {
  it("permits `*`, the target named exactly, and a group only as a group", () => {
    const cases: Array<[string[], string, boolean]> = [
      [["*"], "db1.example", true],
      [["*"], "group:dbs", true],
      [["db1.example"], "db1.example", true],
      [["db1.example"], "db2.example", false],
      [["db1.example"], "group:dbs", false],
      [["group:dbs"], "group:dbs", true],
      // The group's hosts by name: not permitted, whatever a bundle lists in it.
      [["group:dbs"], "db1.example", false],
      [["group:dbs"], "group:db", false],
      [["group:db1.example"], "db1.example", false],
      [[], "db1.example", false],
    ];
    for (const [permitted, target, expected] of cases) {
      expect(targetsPermit(permitted, parseTarget(target)), `${permitted.join(",")} / ${target}`).toBe(expected);
    }
  });
});
