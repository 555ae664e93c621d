import type { AuditEntry, AuditValue } from "./audit-entry.js";
import { fromHex, toHex } from "./hex.js";
import { keyIdOf, type SignatureAlgorithm, verifySignature } from "./signature-algorithm.js";
import { issuerPublicKey, type TrustedIssuer } from "./trust-bundle.js";

/**
 * Signed checkpoints in the signer's log (docs/audit-log.md, "Checkpoints"):
 * an entry whose data carries the issuer key's signature over the log's id
 * and the sequence number and hash of the entry it follows. Whoever can
 * rewrite the log file cannot sign without the token, so a re-chained
 * forgery loses its checkpoints.
 */

export const CHECKPOINT_TYPE = "checkpoint";
const CHECKPOINT_LABEL = "airgrant-checkpoint-v1";

/**
 * The signed bytes: `airgrant-checkpoint-v1\n<log id>\n<seq>\n<head hash>\n`,
 * ASCII, the ids and hash in lower-case hex. Its first bytes differ from a
 * grant's ("AG") and an OpenSSH certificate's (a length), so no signature
 * can be taken for another.
 */
export function checkpointMessage(logId: string, seq: number, head: string): Uint8Array {
  return new TextEncoder().encode(`${CHECKPOINT_LABEL}\n${logId}\n${seq}\n${head}\n`);
}

/** The data of a checkpoint entry covering the head `{seq, hash}` of log `logId`. */
export function checkpointData(
  logId: string,
  head: { seq: number; hash: string },
  issuer: { keyId: string; algorithm: SignatureAlgorithm },
  signature: Uint8Array,
): Record<string, AuditValue> {
  return {
    logId,
    seq: head.seq,
    head: head.hash,
    keyId: issuer.keyId,
    algorithm: issuer.algorithm,
    signature: toHex(signature),
  };
}

/** Why a checkpoint does not vouch for its log (CheckpointChecker.check). */
export type CheckpointProblem = "bad-checkpoint" | "bad-checkpoint-signature";

/**
 * Checks every checkpoint of a log in a verifyAuditLog pass (its onEntry
 * hook) against the issuer keys of a trust bundle: it must name this log,
 * cover the entry just before it, and carry a valid signature by a trusted
 * key. Counts them, so the auditor can say up to where the log is vouched for.
 */
export class CheckpointChecker {
  checkpoints = 0;
  /** The last entry a valid checkpoint covers. */
  lastCheckpointedSeq = 0;
  /**
   * `logId`: for a check that starts mid-log (one half of a large log), the
   * log's id; from the log's start it is read from entry 1.
   */
  constructor(
    private readonly issuers: readonly TrustedIssuer[],
    private logId = "",
  ) {}

  /**
   * `bad-checkpoint-signature` when a well-formed checkpoint by a listed key
   * does not vouch for the log as it is (the head it signs is not the entry
   * before it, or the signature does not verify): the log was changed after
   * it was signed. `bad-checkpoint` for any other fault.
   */
  check(entry: AuditEntry): { code: CheckpointProblem; message: string } | undefined {
    const problem = this.problem(entry);
    if (problem === undefined) return undefined;
    return typeof problem === "string" ? { code: "bad-checkpoint", message: problem } : problem;
  }

  private problem(entry: AuditEntry): string | { code: "bad-checkpoint-signature"; message: string } | undefined {
    if (entry.seq === 1 && typeof entry.data.logId === "string") this.logId = entry.data.logId;
    if (entry.type !== CHECKPOINT_TYPE) return undefined;
    const { logId, seq, head, keyId, algorithm, signature } = entry.data;
    if (
      typeof logId !== "string" ||
      typeof seq !== "number" ||
      typeof head !== "string" ||
      typeof keyId !== "string" ||
      typeof algorithm !== "string" ||
      typeof signature !== "string"
    ) {
      return `checkpoint ${entry.seq} is malformed`;
    }
    if (logId !== this.logId) return `checkpoint ${entry.seq} names log ${logId}, not this log ${this.logId}`;
    if (seq !== entry.seq - 1) return `checkpoint ${entry.seq} covers entry ${seq}, not the entry before it`;
    const issuer = this.issuers.find((i) => i.keyId === keyId && i.algorithm === algorithm);
    if (issuer === undefined)
      return `checkpoint ${entry.seq} is signed by key ${keyId}, which the bundle does not list`;
    let bytes: Uint8Array;
    try {
      bytes = fromHex(signature, 64, "bad-checkpoint", "checkpoint signature");
    } catch {
      return `checkpoint ${entry.seq} has a malformed signature`;
    }
    if (toHex(keyIdOf(issuer.publicKey)) !== keyId)
      return `checkpoint ${entry.seq} names a key id that is not its key's`;
    if (head !== entry.prev) {
      return {
        code: "bad-checkpoint-signature",
        message: `checkpoint ${entry.seq} signs a head that is not entry ${seq}'s hash: the log was changed after it was signed`,
      };
    }
    if (!verifySignature(issuer.algorithm, issuerPublicKey(issuer), checkpointMessage(logId, seq, head), bytes)) {
      return {
        code: "bad-checkpoint-signature",
        message: `checkpoint ${entry.seq}'s signature does not verify: the log was rewritten after it was signed`,
      };
    }
    this.checkpoints++;
    this.lastCheckpointedSeq = seq;
    return undefined;
  }
}
