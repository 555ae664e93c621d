import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AuditValue } from "./audit-entry.js";
import { AUDIT_RECORDS, type AuditRecordType, auditData, readAuditData } from "./audit-records.js";

const doc = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), "utf8");

/** Where the docs list each type's members: the text in which every member must appear in backticks. */
function documented(type: AuditRecordType): string {
  if (type === "grant-check" || type === "ssh-principals") {
    const verifier = doc("verifier.md");
    const start = verifier.indexOf("## Audit entries");
    return verifier.slice(start, verifier.indexOf("`install-bundle` appends one", start));
  }
  if (type === "session-closed") {
    const verifier = doc("verifier.md");
    const start = verifier.indexOf("The `session` line and the watcher append one `session-closed`");
    return verifier.slice(start, verifier.indexOf("Each entry type's members", start));
  }
  if (type === "request-created") {
    const requests = doc("requests.md");
    const start = requests.indexOf("## Audit entries");
    return requests.slice(start, requests.indexOf("\n## ", start + 1));
  }
  if (type === "bundle-installed") {
    const verifier = doc("verifier.md");
    const start = verifier.indexOf("`install-bundle` appends one `bundle-installed` entry");
    return verifier.slice(start, verifier.indexOf("Each entry type's members", start));
  }
  const row = doc("signer.md")
    .split("\n")
    .find((line) => line.startsWith(`| \`${type}\` |`));
  if (row === undefined) throw new Error(`docs/signer.md, "What is logged", has no row for ${type}`);
  return row;
}

const good: { [T in AuditRecordType]: Record<string, AuditValue> } = {
  "grant-check": { verdict: "allowed", user: "alice", host: "db1", presented: "a".repeat(64), presentedBytes: 327 },
  "ssh-principals": { verdict: "wrong-host", user: "alice", host: "db2", presented: "b".repeat(64), presentedBytes: 9 },
  "request-created": { request: "B8BW797J2132RPKMN5", user: "alice", host: "db1", created: 1, lifetime: 3600 },
  "bundle-installed": { bundleId: "c".repeat(32), sha256: "d".repeat(64), issuers: ["e".repeat(16)] },
  "session-closed": {
    reason: "expiry",
    user: "alice",
    host: "db1",
    grantId: "a".repeat(32),
    checkSeq: 4,
    auditSession: 83,
    openedAt: 100,
    accessEndsAt: 125,
    seconds: 25,
    processesEnded: 4,
  },
  "issuer-initialised": { keyId: "f".repeat(16), algorithm: "ed25519", keyLabel: "k", token: "t", generated: true },
  "issuer-rotated": {
    keyId: "f".repeat(16),
    algorithm: "ed25519",
    keyLabel: "k2",
    token: "t",
    generated: true,
    retiredKeyId: "e".repeat(16),
    retireAt: 1767225600,
  },
  "officer-added": { officer: "o", yubikeyId: "cccccccccccb", aesKeyLabel: "l", targets: ["*"], maxTtl: 3600 },
  "officer-removed": { officer: "o", yubikeyId: "cccccccccccb", tokenObjectsDeleted: 1 },
  "grant-issued": {
    grantId: "0".repeat(32),
    user: "bob",
    target: "group:dbs",
    notBefore: 1,
    notAfter: 2,
    maxUses: 1,
    officer: "o",
    yubikeyId: "cccccccccccb",
    reason: "r",
    issuerKeyId: "1".repeat(16),
    grantSha256: "2".repeat(64),
    sshCertificate: { serial: "42", keyId: `${"0".repeat(32)}@group:dbs`, subjectKeySha256: "3".repeat(64) },
    otpCounter: [1, 2],
  },
  "grant-refused": { code: "otp-replayed", user: "bob", target: "db1", ttl: 60, yubikeyId: "cccccccccccb" },
  "grant-revoked": { grantId: "7".repeat(32), reason: "the laptop holding it was stolen" },
  "bundle-exported": {
    bundleId: "4".repeat(32),
    sha256: "5".repeat(64),
    issuerKeyId: "6".repeat(16),
    maxLifetime: 28800,
    clockSkew: 300,
    groups: ["dbs"],
    revokedGrants: [],
  },
  "root-initialised": { keyId: "7".repeat(16), algorithm: "ecdsa-p256", keyLabel: "k", token: "t", generated: true },
  "root-removed": { keyId: "7".repeat(16) },
  "bundle-signed": { bundleId: "8".repeat(32), trustVersion: 2, keyId: "7".repeat(16), signedSha256: "9".repeat(64) },
  "approver-enrolled": {
    officer: "bob",
    keyId: "a".repeat(16),
    algorithm: "ecdsa-p256",
    keyLabel: "airgrant-approval",
    token: "bob",
    modulePath: "/usr/lib/softhsm/libsofthsm2.so",
    targets: ["group:prod"],
    maxTtl: 3600,
    generated: true,
  },
  "approver-removed": { officer: "bob", keyId: "a".repeat(16) },
  "grant-approved": {
    grantId: "0".repeat(32),
    officer: "bob",
    keyId: "a".repeat(16),
    approvals: 1,
    approvalsNeeded: 2,
    bodySha256: "b".repeat(64),
  },
  "grant-denied": { grantId: "0".repeat(32), officer: "bob", reason: "no", approvals: 0, bodySha256: "b".repeat(64) },
  "grant-completed": {
    grantId: "0".repeat(32),
    approvers: ["a".repeat(16)],
    officers: ["bob"],
    grantSha256: "c".repeat(64),
  },
  "grant-certified": {
    grantId: "0".repeat(32),
    sshCertificate: { serial: "42", keyId: `${"0".repeat(32)}@db1.example`, subjectKeySha256: "d".repeat(64) },
    grantSha256: "c".repeat(64),
  },
};

const types = Object.keys(AUDIT_RECORDS) as AuditRecordType[];

describe("audit records", () => {
  it("documents every member of every entry type the signer and the verifier write", () => {
    for (const type of types) {
      const text = documented(type);
      const { required, optional } = AUDIT_RECORDS[type];
      for (const name of [...Object.keys(required), ...Object.keys(optional)]) {
        expect(text, `${type}.${name}`).toContain(`\`${name}\``);
      }
    }
  });

  it("round-trips a record through its writer's encoder and the auditor's decoder", () => {
    for (const type of types) {
      const data = auditData(type, good[type] as never);
      expect(readAuditData(type, data)).toEqual({ record: good[type], problems: [] });
    }
  });

  it("refuses to write a record with a member missing, of the wrong kind or unknown", () => {
    const { notBefore: _, ...missing } = good["grant-issued"];
    expect(() => auditData("grant-issued", missing as never)).toThrow(/no notBefore/);
    expect(() => auditData("grant-check", { ...good["grant-check"], presented: "xyz" } as never)).toThrow(
      /presented that is not 64 lower-case hex digits/,
    );
    expect(() => auditData("bundle-installed", { ...good["bundle-installed"], extra: 1 } as never)).toThrow(
      /unknown member 'extra'/,
    );
  });

  it("reads hostile data without throwing, keeping only members of their kind", () => {
    const value: fc.Arbitrary<AuditValue> = fc.letrec<{ v: AuditValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.string(),
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 8 }), tie("v"), { maxKeys: 3 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.dictionary(fc.string({ maxLength: 12 }), value), (type, data) => {
        const { record, problems } = readAuditData(type, data);
        const { required, optional } = AUDIT_RECORDS[type];
        const kinds: Record<string, { is(v: AuditValue | undefined): boolean }> = { ...required, ...optional };
        for (const [name, v] of Object.entries(record)) expect(kinds[name]?.is(v as AuditValue)).toBe(true);
        for (const name of Object.keys(required)) {
          if (!(name in record)) expect(problems.join("\n")).toContain(name);
        }
      }),
    );
  });
});
