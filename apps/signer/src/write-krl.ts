import { AirgrantError, printableLine, sha256, toHex, writeFileAtomic } from "@airgrant/core";
import { readIssuedGrants } from "./issued-grants.js";
import { encodeKrl } from "./openssh-krl.js";
import type { SignerHome } from "./signer-home.js";

export interface WrittenKrl {
  /** krl_version: the signer log's sequence number of the last revocation, 0 before any. */
  krlVersion: number;
  /** The certificate key ids it revokes, in the KRL's order. */
  keyIds: string[];
  sha256: string;
}

/**
 * The key id a grant's certificate was minted with, as the signer log
 * records it: it must name its grant (`<grant id>@…` or `<grant id>/N@…`,
 * docs/openssh.md) and be printable. A string with a NUL would make sshd
 * refuse to load the whole KRL, and with it every public-key login.
 */
function checkedKeyId(grantId: string, keyId: string, logPath: string): string {
  if (!/^[/@]/.test(keyId.slice(grantId.length)) || !keyId.startsWith(grantId) || printableLine(keyId) !== keyId) {
    throw new AirgrantError(
      "state-corrupt",
      `${logPath} records the certificate key id '${keyId}' for grant ${grantId}, which does not name it`,
    );
  }
  return keyId;
}

/**
 * Writes the OpenSSH KRL (docs/signer.md, `krl`) of every certificate the
 * signer log records for a revoked grant: revoked by key id, for any CA. The
 * bytes follow from the log alone (version and date are those of the last
 * `grant-revoked` entry), so the same log always gives the same file; it is
 * replaced atomically, mode 0644 (sshd reads it; it names no secret). Reads
 * the log as it is; needs neither the token nor the home's lock, and writes
 * nothing in the home.
 */
export function writeKrl(home: SignerHome, outPath: string): WrittenKrl {
  const issued = readIssuedGrants(home.auditLogPath);
  const keyIds: string[] = [];
  for (const grant of issued.grants.values()) {
    if (grant.revocation !== undefined && grant.sshKeyId !== undefined) {
      keyIds.push(checkedKeyId(grant.grantId, grant.sshKeyId, home.auditLogPath));
    }
  }
  const last = issued.lastRevocation;
  const bytes = encodeKrl({
    version: BigInt(last?.seq ?? 0),
    generatedDate: BigInt(last?.time ?? 0),
    comment: `airgrant revocations to signer log entry ${last?.seq ?? 0}`,
    sections: [{ caKey: new Uint8Array(0), keyIds }],
  });
  writeFileAtomic(outPath, bytes, { mode: 0o644 });
  return { krlVersion: last?.seq ?? 0, keyIds: keyIds.sort(), sha256: toHex(sha256(bytes)) };
}
