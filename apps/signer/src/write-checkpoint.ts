import { checkpointData, checkpointMessage, readAuditHead, readAuditLogId } from "@airgrant/core";
import { withHomeLock } from "./home-lock.js";
import { signatureAlgorithmOf } from "./issuer-record.js";
import { appendWithoutCounters } from "./log-backed-counters.js";
import type { Signer } from "./mint-grant.js";

/**
 * Sign the signer log's head on the token and append it as a checkpoint
 * (docs/audit-log.md, "Checkpoints"), under the home's lock. The command
 * writes one after every grant, on every bundle export, and on demand.
 */
export function writeCheckpoint(signer: Signer, clock: () => Date = () => new Date()): { seq: number; covers: number } {
  const { home, session, issuer } = signer;
  return withHomeLock(home.lockPath, () => {
    const logId = readAuditLogId(home.auditLogPath);
    const head = readAuditHead(home.auditLogPath);
    if (head === undefined) throw new Error("the signer log vanished under its lock");
    const signature = session.sign(issuer.keyLabel, checkpointMessage(logId, head.seq, head.hash));
    const data = checkpointData(
      logId,
      head,
      { keyId: issuer.keyId, algorithm: signatureAlgorithmOf(issuer.alg) },
      signature,
    );
    const entry = appendWithoutCounters(home.countersPath, home.auditLogPath, "checkpoint", data, clock);
    return { seq: entry.seq, covers: head.seq };
  });
}
