import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AirgrantError } from "@airgrant/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  encodePolicy,
  normaliseYubikeyId,
  type Officer,
  officerMayApprove,
  parseTargetList,
  readPolicy,
  type SignerPolicy,
  writePolicy,
} from "./signer-policy.js";

const work = mkdtempSync(join(tmpdir(), "airgrant-signer-policy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const alice: Officer = {
  name: "alice",
  yubikeyId: "cccccccccccb",
  privateId: "8792ebfe26cc",
  aesKeyLabel: "airgrant-otp-cccccccccccb",
  targets: ["db1.example", "group:dbs"],
  maxTtl: 7200,
  enrolled: "2026-11-25T12:00:00.000Z",
};

let files = 0;
function policyFile(text: string): string {
  files += 1;
  const path = join(work, `policy-${files}.json`);
  writeFileSync(path, text);
  return path;
}

describe("signer policy", () => {
  it("round-trips through policy.json, officers sorted by name, mode 0600", () => {
    const path = join(work, "round-trip.json");
    const bob = { ...alice, name: "bob", yubikeyId: "cccccccccccd", aesKeyLabel: "airgrant-otp-cccccccccccd" };
    const policy: SignerPolicy = { maxLifetime: 3600, officers: [bob, alice] };
    writePolicy(path, policy);
    expect(readPolicy(path)).toEqual({ maxLifetime: 3600, officers: [alice, bob] });
    chmodSync(path, 0o600);
  });

  it("is empty with the default lifetime when the file does not exist", () => {
    expect(readPolicy(join(work, "none.json"))).toEqual({ maxLifetime: 28_800, officers: [] });
  });

  it("refuses a damaged file as state-corrupt rather than guessing", () => {
    const good = JSON.parse(encodePolicy({ maxLifetime: 3600, officers: [alice] }));
    const variants: unknown[] = [
      { ...good, format: "other" },
      { ...good, extra: 1 },
      { ...good, maxLifetime: 0 },
      { ...good, maxLifetime: 8 * 24 * 3600 },
      { ...good, officers: [{ ...alice, privateId: "xyz" }] },
      { ...good, officers: [{ ...alice, yubikeyId: "abc" }] },
      { ...good, officers: [{ ...alice, aesKeyLabel: "someone-else" }] },
      { ...good, officers: [{ ...alice, targets: [] }] },
      { ...good, officers: [{ ...alice, targets: ["group:dbs", "db1.example"] }] },
      { ...good, officers: [{ ...alice, maxTtl: 1.5 }] },
      { ...good, officers: [alice, { ...alice, name: "alice2" }] },
      { ...good, officers: [{ ...alice, secret: "x" }] },
    ];
    for (const value of variants) {
      expect(() => readPolicy(policyFile(JSON.stringify(value))), JSON.stringify(value)).toThrow(
        expect.objectContaining({ code: "state-corrupt" }),
      );
    }
    expect(() => readPolicy(policyFile("{"))).toThrow(expect.objectContaining({ code: "state-corrupt" }));
  });

  it("parses target lists into canonical sorted form and matches targets exactly", () => {
    expect(parseTargetList("group:dbs, DB1.example,*,db1.example")).toEqual(["*", "db1.example", "group:dbs"]);
    for (const bad of ["", "a,,b", "group:", "bad host", "group:Bad"]) {
      expect(() => parseTargetList(bad), bad).toThrow(expect.objectContaining({ code: "bad-input" }));
    }
    expect(officerMayApprove(alice, { kind: "host", name: "db1.example" })).toBe(true);
    expect(officerMayApprove(alice, { kind: "group", name: "dbs" })).toBe(true);
    expect(officerMayApprove(alice, { kind: "host", name: "db2.example" })).toBe(false);
    expect(officerMayApprove(alice, { kind: "group", name: "db1.example" })).toBe(false);
    expect(officerMayApprove({ ...alice, targets: ["*"] }, { kind: "host", name: "anything" })).toBe(true);
    // As hosts read an issuer's targets (docs/trust-bundle.md, "What targets permit"): a group, not its hosts.
    expect(officerMayApprove({ ...alice, targets: ["group:dbs"] }, { kind: "host", name: "db1.example" })).toBe(false);
  });

  it("takes YubiKey public ids in modhex, whole bytes, case-insensitively", () => {
    expect(normaliseYubikeyId("CCCCCCCCCCCB")).toBe("cccccccccccb");
    for (const bad of ["", "c", "ccccccccccca", "c".repeat(18)]) {
      expect(() => normaliseYubikeyId(bad), bad).toThrow(expect.objectContaining({ code: "bad-input" }));
    }
  });

  it("reads any file either as a valid policy or as state-corrupt, never anything else", () => {
    const good = encodePolicy({ maxLifetime: 3600, officers: [alice] });
    const path = join(work, "fuzz.json");
    const text = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      // The good file with one character changed or cut short.
      fc
        .tuple(fc.nat(good.length - 1), fc.string({ minLength: 1, maxLength: 1 }))
        .map(([at, c]) => good.slice(0, at) + c + good.slice(at + 1)),
      fc.nat(good.length).map((n) => good.slice(0, n)),
    );
    fc.assert(
      fc.property(text, (content) => {
        writeFileSync(path, content);
        try {
          const policy = readPolicy(path);
          // Whatever parses is a policy this module would write the same way.
          expect(readPolicy(policyFile(encodePolicy(policy)))).toEqual(policy);
        } catch (err) {
          expect(err).toBeInstanceOf(AirgrantError);
          expect((err as AirgrantError).code).toBe("state-corrupt");
        }
      }),
      { numRuns: 300 },
    );
  });
});
