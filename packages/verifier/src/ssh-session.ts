import { type Admission, admitGrant } from "./admission.js";
import { decodeCertificateBase64, decodeCertificateClaims, MAX_CERTIFICATE_BASE64 } from "./certificate-claims.js";
import type { GrantClaims } from "./claims.js";
import type { DenyCode, Refusal } from "./grant-rules.js";
import { loadInstalledBundle } from "./host-state.js";
import { loginAncestry } from "./login-processes.js";
import { recordAdmittedLogin } from "./login-session.js";
import { type PamEnvironment, readPamEnvironment } from "./pam-environment.js";
import { hostState } from "./state-paths.js";

const CERT_SUFFIX = "-cert-v01@openssh.com";

export interface SshSessionInput {
  /** From `--state` only: the PAM environment is not to be trusted for it. */
  stateDir: string;
  host: string;
  /** pam_exec's environment: the PAM environment (SSH_AUTH_INFO_0) plus PAM_TYPE, PAM_USER and the items. */
  env: NodeJS.ProcessEnv;
  clock: () => Date;
}

export interface SshSessionResult {
  /** True when the login may go on: a use was taken, or it was not a login with an airgrant certificate. */
  allowed: boolean;
  code: string;
  message: string;
  pam: PamEnvironment;
  /** The admission of each airgrant certificate the login used (normally one); empty when none. */
  checks: Admission[];
}

/** A certificate a login used, as SSH_AUTH_INFO_0 gives it, decoded or refused. */
export interface PresentedCertificate {
  /** The certificate blob; what was written when it is not base64 of one. */
  presented: Uint8Array;
  claims: GrantClaims | Refusal<DenyCode>;
}

/**
 * The certificates in sshd's SSH_AUTH_INFO_0: one line per authentication
 * method that succeeded, `publickey <key type> <base64 key>` for a key
 * (OpenSSH auth2-pubkey.c, auth2_record_info; exposed by auth-pam.c's
 * expose_authinfo before pam_open_session). A line of a certificate type
 * that is not base64 of at most 16 KiB is kept, refused: sshd let the login
 * in with a certificate, and one this cannot read is not let through.
 */
export function certificatesInAuthInfo(authInfo: string): PresentedCertificate[] {
  const out: PresentedCertificate[] = [];
  for (const line of authInfo.split("\n")) {
    const [method, type, base64 = ""] = line.split(" ");
    if (method !== "publickey" || type === undefined || !type.endsWith(CERT_SUFFIX)) continue;
    const blob = decodeCertificateBase64(base64);
    out.push(
      blob === undefined
        ? {
            presented: new TextEncoder().encode(base64.slice(0, MAX_CERTIFICATE_BASE64)),
            claims: { code: "malformed-certificate", message: "the certificate is not base64 of at most 16 KiB" },
          }
        : { presented: blob, claims: decodeCertificateClaims(blob, type) },
    );
  }
  return out;
}

/**
 * The `ssh-session` entry point's work, run by `pam_exec.so type=open_session`
 * in sshd's session stack, the one airgrant step of a certificate login: sshd
 * has checked the certificate against TrustedUserCAKeys, its principal and
 * its window; this applies every airgrant rule to each certificate the login
 * used and takes one of its grant's uses in the one-time store (the same
 * store as grants typed at a prompt). Exactly one of several connections
 * racing with one certificate gets the use; the others' sessions fail to
 * open and sshd runs nothing for them. Every certificate is judged, whoever
 * signed it: TrustedUserCAKeys lists the bundle's issuers, so a certificate of
 * any other CA is a stale or foreign key in that file, refused
 * (`unknown-issuer`). A login without a certificate (a plain key, a grant
 * typed at the prompt, a password) is not ours to judge here: allowed, not
 * logged.
 */
export function runSshSession(input: SshSessionInput): SshSessionResult {
  const pam = readPamEnvironment(input.env, "ssh-session");
  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  const certificates = certificatesInAuthInfo(pam.authInfo ?? "");
  if (certificates.length === 0) {
    return {
      allowed: true,
      code: "not-airgrant",
      message: "not a login with a certificate",
      pam,
      checks: [],
    };
  }
  const checks: Admission[] = [];
  for (const { presented, claims } of certificates) {
    const admission = admitGrant({
      state,
      bundle,
      claims,
      presented,
      caller: pam,
      host: input.host,
      clock: input.clock,
    });
    checks.push(admission);
    recordAdmittedLogin(state, admission, { user: pam.user, host: input.host }, loginAncestry(), input.clock);
    const { verdict } = admission;
    if (!verdict.allowed) return { allowed: false, code: verdict.code, message: verdict.message, pam, checks };
  }
  const last = checks.at(-1) as Admission;
  return { allowed: true, code: "allowed", message: last.verdict.message, pam, checks };
}
