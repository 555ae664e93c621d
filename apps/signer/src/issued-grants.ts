import { existsSync } from "node:fs";
import { AirgrantError, readAuditData, verifyAuditLog } from "@airgrant/core";

/** A revocation as the signer log records it (`grant-revoked`). */
export interface Revocation {
  /** The entry's sequence number in the signer log. */
  seq: number;
  /** Seconds since the epoch, from the entry's time. */
  time: number;
  reason: string;
}

/** What the signer log says of one grant it issued. */
export interface IssuedGrant {
  grantId: string;
  /** The key id of its OpenSSH certificates (docs/openssh.md), when one was minted with it or by `certify`. */
  sshKeyId?: string;
  revocation?: Revocation;
}

/** Every grant the signer log records as issued, by grant id, and the last revocation among them. */
export interface IssuedGrants {
  grants: Map<string, IssuedGrant>;
  lastRevocation?: Revocation;
}

/**
 * Reads the signer log's `grant-issued`, `grant-certified` and `grant-revoked` entries, its
 * chain verified on the way: what `revoke`, `bundle` and `krl` decide from.
 * A torn last line is an append that never completed (its command never
 * answered) and is left out; any other break is `audit-log-corrupt`, since
 * a revocation read from a log that does not verify could be one forged or
 * one lost. A home with no log yet has issued nothing.
 */
export function readIssuedGrants(logPath: string): IssuedGrants {
  const grants = new Map<string, IssuedGrant>();
  const issued: IssuedGrants = { grants };
  if (!existsSync(logPath)) return issued;
  const report = verifyAuditLog(logPath, {
    onEntry(entry) {
      if (entry.type === "grant-issued") {
        const { grantId, sshCertificate } = readAuditData("grant-issued", entry.data).record;
        if (grantId === undefined) return `a grant-issued entry without a grant id`;
        grants.set(grantId, { grantId, ...(sshCertificate === undefined ? {} : { sshKeyId: sshCertificate.keyId }) });
      } else if (entry.type === "grant-certified") {
        const { grantId, sshCertificate } = readAuditData("grant-certified", entry.data).record;
        const grant = grantId === undefined ? undefined : grants.get(grantId);
        if (grant === undefined || sshCertificate === undefined) {
          return `a grant-certified entry of no grant issued before it`;
        }
        grant.sshKeyId = sshCertificate.keyId;
      } else if (entry.type === "grant-revoked") {
        const { grantId, reason } = readAuditData("grant-revoked", entry.data).record;
        const grant = grantId === undefined ? undefined : grants.get(grantId);
        if (grant === undefined || reason === undefined) return `a grant-revoked entry of no grant issued before it`;
        const revocation = { seq: entry.seq, time: Math.floor(Date.parse(entry.time) / 1000), reason };
        grant.revocation ??= revocation;
        issued.lastRevocation = revocation;
      }
      return undefined;
    },
  });
  if (!report.ok && report.code !== "torn-tail") {
    throw new AirgrantError(
      "audit-log-corrupt",
      `${logPath} fails verification at entry ${report.seq} (${report.code}: ${report.message}); the grants and revocations it records cannot be trusted`,
    );
  }
  return issued;
}
