import { appendHostEntry } from "./host-log.js";
import { hostState, loadInstalledBundle } from "./host-state.js";
import { sshAuditData } from "./ssh-audit-data.js";
import { checkSshCertificate, type SshVerdict } from "./ssh-certificate-check.js";
import { hasUseLeft, replayedMessage } from "./use-store.js";

/** A certificate's base64 beyond this is not one of ours (an RSA-8192 subject key is under 2 KiB). */
export const MAX_CERTIFICATE_BASE64 = 16 * 1024;

export interface SshPrincipalsInput {
  stateDir: string;
  host: string;
  /** sshd's `%u`: the account asked for. */
  user: string;
  /** sshd's `%t`: the certificate's key type. */
  type: string;
  /** sshd's `%k`: the certificate, base64. */
  certificate: string;
  clock: () => Date;
}

export interface SshPrincipalsResult {
  verdict: SshVerdict;
  auditSeq: number;
}

/** Strict base64 as sshd writes `%k`: anything else is not a certificate. */
export function decodeCertificateBase64(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > MAX_CERTIFICATE_BASE64) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? new Uint8Array(bytes) : undefined;
}

/**
 * The AuthorizedPrincipalsCommand's work: check the certificate sshd is
 * considering for `user` and say whether the user may log in with it. It
 * takes no use: sshd 9.2 runs the command once when the client asks whether
 * the key would do and again for the signed attempt, so a use taken here
 * would be gone before the login. The use is taken by ssh-session when the
 * PAM session opens (docs/openssh.md). Every call is one `ssh-principals`
 * entry in the host log.
 */
export function runSshPrincipals(input: SshPrincipalsInput): SshPrincipalsResult {
  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  const now = Math.floor(input.clock().getTime() / 1000);
  const host = input.host.toLowerCase();
  const blob = decodeCertificateBase64(input.certificate);
  const presented = blob ?? new TextEncoder().encode(input.certificate.slice(0, MAX_CERTIFICATE_BASE64));
  let verdict: SshVerdict =
    blob === undefined
      ? { allowed: false, code: "malformed-certificate", message: "the certificate is not base64 of at most 16 KiB" }
      : checkSshCertificate({ blob, bundle, user: input.user, host, now });
  if (verdict.allowed && verdict.certificate.type !== input.type) {
    verdict = {
      allowed: false,
      code: "malformed-certificate",
      message: `sshd names the key type '${input.type.slice(0, 60)}', the certificate says '${verdict.certificate.type}'`,
      facts: verdict.facts,
    };
  }
  if (verdict.allowed && !hasUseLeft(state.usedDir, verdict.facts.grantId, verdict.facts.maxUses)) {
    const { grantId, maxUses } = verdict.facts;
    verdict = {
      allowed: false,
      code: "grant-replayed",
      message: replayedMessage(grantId, maxUses),
      facts: verdict.facts,
    };
  }
  const entry = appendHostEntry(
    state,
    "ssh-principals",
    sshAuditData(verdict, presented, input.user, host),
    input.clock,
  );
  return { verdict, auditSeq: entry.seq };
}
