import { AirgrantError, auditData, fromHex, printableLine, toHex } from "@airgrant/core";
import { readIssuedGrants } from "./issued-grants.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import type { Signer } from "./signer.js";
import { writeCheckpoint } from "./write-checkpoint.js";

/**
 * The longest reason, in bytes of UTF-8: fewer than the shortest grant text
 * has characters, so a reason can never hold a usable grant (the signer log
 * holds none, docs/signer.md, "What is logged").
 */
export const MAX_REVOCATION_REASON_BYTES = 128;

/** A grant id as given to `revoke`: 32 hex digits, lower-cased. */
export function parseGrantId(text: string): string {
  return toHex(fromHex(text.toLowerCase(), 16, "bad-input", `'${text}': a grant id`));
}

/** Checks `--reason` of `revoke`: 1-128 bytes of UTF-8, none of them a control or bidi character. */
export function checkRevocationReason(reason: string): void {
  if (reason.trim() === "" || Buffer.byteLength(reason, "utf8") > MAX_REVOCATION_REASON_BYTES) {
    throw new AirgrantError(
      "bad-input",
      `--reason must be 1-${MAX_REVOCATION_REASON_BYTES} bytes of UTF-8, not only spaces`,
    );
  }
  if (printableLine(reason) !== reason) {
    throw new AirgrantError("bad-input", "--reason must be printable: no control, line-break or bidi characters");
  }
}

export interface RevokedGrant {
  grantId: string;
  auditSeq: number;
  /** The certificate's key id, when one was minted with the grant: `krl` revokes it. */
  sshKeyId?: string;
}

/**
 * Records the revocation of a grant this signer issued: one step of a
 * Signer's operation (withSigner), under the home's lock, so two revocations
 * of one grant cannot both pass the check. A grant id the log never issued
 * is `unknown-grant`, one already revoked `already-revoked`; otherwise
 * `grant-revoked` is appended and the log's head signed as a checkpoint.
 * Hosts learn of it from the next `bundle` and `krl`, which read every
 * revocation from the log.
 */
export function revokeGrant(
  signer: Signer,
  grantId: string,
  reason: string,
  clock: () => Date = () => new Date(),
): RevokedGrant {
  checkRevocationReason(reason);
  const { home } = signer;
  const grant = readIssuedGrants(home.auditLogPath).grants.get(grantId);
  if (grant === undefined) {
    throw new AirgrantError("unknown-grant", `this signer's log (${home.auditLogPath}) never issued grant ${grantId}`);
  }
  if (grant.revocation !== undefined) {
    throw new AirgrantError(
      "already-revoked",
      `grant ${grantId} was revoked at ${new Date(grant.revocation.time * 1000).toISOString()} (audit log entry ${grant.revocation.seq})`,
    );
  }
  const entry = appendSignerEntry(home, "grant-revoked", auditData("grant-revoked", { grantId, reason }), clock);
  writeCheckpoint(signer, clock);
  return { grantId, auditSeq: entry.seq, ...(grant.sshKeyId === undefined ? {} : { sshKeyId: grant.sshKeyId }) };
}
