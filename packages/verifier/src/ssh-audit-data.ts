import { type AuditValue, sha256, toHex } from "@airgrant/core";
import type { SshVerdict } from "./ssh-certificate-check.js";

const LOGGED_USER_LENGTH = 64;

/** At most `max` code points: a cut never leaves half a surrogate pair, which the log refuses. */
function cutForLog(text: string, max: number): string {
  return Array.from(text).slice(0, max).join("");
}

/**
 * The audit data members every certificate check records (docs/openssh.md,
 * "What is logged"): the verdict, who and where, the SHA-256 of the
 * certificate as presented (never the certificate), and what it says about
 * its grant once its CA is a bundle issuer.
 */
export function sshAuditData(
  verdict: SshVerdict,
  presented: Uint8Array,
  user: string,
  host: string,
): Record<string, AuditValue> {
  const data: Record<string, AuditValue> = {
    verdict: verdict.code,
    user: cutForLog(user, LOGGED_USER_LENGTH),
    host: cutForLog(host, LOGGED_USER_LENGTH),
    presented: toHex(sha256(presented)),
    presentedBytes: presented.length,
  };
  if (data.user !== user) data.userTruncated = true;
  const facts = verdict.facts;
  if (facts !== undefined) {
    data.grantId = facts.grantId;
    data.issuer = facts.issuer;
    data.sshSerial = facts.serial;
    data.maxUses = facts.maxUses;
    data.principal = cutForLog(facts.principals[0] ?? "", LOGGED_USER_LENGTH);
    if (facts.validAfter !== undefined) data.notBefore = facts.validAfter;
    if (facts.validBefore !== undefined) data.notAfter = facts.validBefore;
  }
  return data;
}
