import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ecdsaTwin, makeTestIssuer, signWith, trustedIssuer } from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { CheckpointChecker, checkpointData, checkpointMessage } from "./audit-checkpoint.js";
import { type AuditEntry, encodeAuditEntry } from "./audit-entry.js";
import { appendAuditEntry, readAuditHead, readAuditLogId } from "./audit-log.js";
import { toHex } from "./hex.js";
import { verifyAuditLog } from "./verify-audit-log.js";

const dir = mkdtempSync(join(tmpdir(), "airgrant-checkpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const issuer = makeTestIssuer("ed25519");
const other = makeTestIssuer("ed25519");

function signerLog(name: string, signer = issuer): string {
  const path = join(dir, name);
  for (let i = 0; i < 4; i++) {
    appendAuditEntry(path, "grant-issued", { grantId: `${i}`.padStart(32, "0") });
    const head = readAuditHead(path) as { seq: number; hash: string };
    const logId = readAuditLogId(path);
    const signature = signWith(signer, checkpointMessage(logId, head.seq, head.hash));
    appendAuditEntry(
      path,
      "checkpoint",
      checkpointData(logId, head, { keyId: toHex(signer.keyId), algorithm: signer.algorithm }, signature),
    );
  }
  return path;
}

function check(path: string) {
  const checker = new CheckpointChecker([trustedIssuer(issuer)]);
  return { report: verifyAuditLog(path, { onEntry: (e) => checker.check(e) }), checker };
}

describe("signed checkpoints", () => {
  it("verify with the issuer key from the bundle", () => {
    const { report, checker } = check(signerLog("good.log"));
    expect(report).toMatchObject({ ok: true, entries: 9 });
    expect(checker).toMatchObject({ checkpoints: 4, lastCheckpointedSeq: 8 });
  });

  it("catch a log rewritten and re-chained without the token", () => {
    const path = signerLog("forged.log");
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    let prev = "";
    const forged = lines.map((text, i) => {
      const e = JSON.parse(text) as AuditEntry;
      const data = i === 3 ? { grantId: "f".repeat(32) } : e.data;
      const { entry, line } = encodeAuditEntry(e.seq, e.time, e.type, data, i === 0 ? e.prev : prev);
      prev = entry.hash;
      return line.toString();
    });
    writeFileSync(path, `${forged.join("\n")}\n`);
    expect(verifyAuditLog(path)).toMatchObject({ ok: true });
    // The forger could not re-sign: checkpoint 5 covers entry 4, whose hash changed.
    expect(check(path).report).toMatchObject({ ok: false, code: "bad-checkpoint-signature", seq: 5 });
  });

  it("refuse the high-S twin of an ECDSA checkpoint signature, which verifies as ECDSA", () => {
    const ecdsa = makeTestIssuer("ecdsa-p256-sha256");
    const log = (name: string, twin: boolean) => {
      const path = join(dir, name);
      appendAuditEntry(path, "grant-issued", { grantId: "0".repeat(32) });
      const head = readAuditHead(path) as { seq: number; hash: string };
      const logId = readAuditLogId(path);
      const signature = signWith(ecdsa, checkpointMessage(logId, head.seq, head.hash));
      const key = { keyId: toHex(ecdsa.keyId), algorithm: ecdsa.algorithm };
      appendAuditEntry(path, "checkpoint", checkpointData(logId, head, key, twin ? ecdsaTwin(signature) : signature));
      const checker = new CheckpointChecker([trustedIssuer(ecdsa)]);
      return verifyAuditLog(path, { onEntry: (e) => checker.check(e) });
    };
    expect(log("low-s.log", false)).toMatchObject({ ok: true, entries: 3 });
    expect(log("high-s.log", true)).toMatchObject({ ok: false, code: "bad-checkpoint-signature", seq: 3 });
  });

  it("refuse checkpoints by a key the bundle does not list", () => {
    expect(check(signerLog("other.log", other)).report).toMatchObject({ ok: false, code: "bad-checkpoint", seq: 3 });
  });

  it("tell a signature that does not vouch for the log from a checkpoint out of place", () => {
    /** The signer log with checkpoint 5's data edited, then chained again as a forger would. */
    const forge = (name: string, edit: (data: AuditEntry["data"], prev: string) => AuditEntry["data"]): string => {
      const path = signerLog(name);
      const lines = readFileSync(path, "utf8").trimEnd().split("\n");
      let prev = "";
      const forged = lines.map((text, i) => {
        const e = JSON.parse(text) as AuditEntry;
        const data = i === 3 ? { grantId: "f".repeat(32) } : i === 4 ? edit({ ...e.data }, prev) : e.data;
        const { entry, line } = encodeAuditEntry(e.seq, e.time, e.type, data, i === 0 ? e.prev : prev);
        prev = entry.hash;
        return line.toString();
      });
      writeFileSync(path, `${forged.join("\n")}\n`);
      return path;
    };
    // Entry 4 changed and checkpoint 5 made to name its new hash: the old signature does not cover it.
    const reheaded = forge("reheaded.log", (data, prev) => ({ ...data, head: prev }));
    expect(check(reheaded).report).toMatchObject({ ok: false, code: "bad-checkpoint-signature", seq: 5 });
    // A checkpoint naming another entry than the one before it is out of place, whoever signed it.
    const misplaced = forge("misplaced.log", (data) => ({ ...data, seq: 3 }));
    expect(check(misplaced).report).toMatchObject({ ok: false, code: "bad-checkpoint", seq: 5 });
  });
});
