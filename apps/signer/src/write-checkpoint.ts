import { checkpointData, checkpointMessage, readAuditHead, readAuditLogId } from "@airgrant/core";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import type { Signer } from "./signer.js";

/**
 * Sign the signer log's head on the token and append it as a checkpoint
 * (docs/audit-log.md, "Checkpoints"), inside the signer's lock. A grant
 * writes one before it is returned; the `bundle` and `checkpoint` commands
 * write one too.
 */
export function writeCheckpoint(signer: Signer, clock: () => Date = () => new Date()): { seq: number; covers: number } {
  const { home, session, issuer } = signer;
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
  const entry = appendSignerEntry(home, "checkpoint", data, clock);
  return { seq: entry.seq, covers: head.seq };
}
