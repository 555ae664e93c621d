import { type Admission, admitGrant } from "./admission.js";
import { decodeBundleCertificateClaims, decodeCertificateBase64 } from "./certificate-claims.js";
import { loadInstalledBundle } from "./host-state.js";
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

/**
 * The certificates in sshd's SSH_AUTH_INFO_0: one line per authentication
 * method that succeeded, `publickey <key type> <base64 key>` for a key
 * (OpenSSH auth2-pubkey.c, auth2_record_info; exposed by auth-pam.c's
 * expose_authinfo before pam_open_session).
 */
export function certificatesInAuthInfo(authInfo: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const line of authInfo.split("\n")) {
    const [method, type, base64] = line.split(" ");
    if (method !== "publickey" || type === undefined || !type.endsWith(CERT_SUFFIX) || base64 === undefined) continue;
    const blob = decodeCertificateBase64(base64);
    if (blob !== undefined) out.push(blob);
  }
  return out;
}

/**
 * The `ssh-session` entry point's work, run by `pam_exec.so type=open_session`
 * in sshd's session stack: find the airgrant certificate the login used and
 * admit it, which takes one of its grant's uses in the one-time store (the
 * same store as grants typed at a prompt). Exactly one of several
 * connections racing with one certificate gets the use; the others' sessions
 * fail to open and sshd runs nothing for them. A login by anything else (a
 * plain key, a certificate of another CA, a PAM grant) is not ours to judge
 * here: allowed, not logged.
 */
export function runSshSession(input: SshSessionInput): SshSessionResult {
  const pam = readPamEnvironment(input.env, "ssh-session");
  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  const ours = certificatesInAuthInfo(pam.authInfo ?? "").flatMap((blob) => {
    const claims = decodeBundleCertificateClaims(blob, bundle);
    return claims === undefined ? [] : [{ blob, claims }];
  });
  if (ours.length === 0) {
    return {
      allowed: true,
      code: "not-airgrant",
      message: "not a login with an airgrant certificate",
      pam,
      checks: [],
    };
  }
  const checks: Admission[] = [];
  for (const { blob, claims } of ours) {
    const admission = admitGrant({
      state,
      bundle,
      claims,
      presented: blob,
      caller: pam,
      host: input.host,
      clock: input.clock,
      entryType: "grant-check",
    });
    checks.push(admission);
    const { verdict } = admission;
    if (!verdict.allowed) return { allowed: false, code: verdict.code, message: verdict.message, pam, checks };
  }
  const last = checks.at(-1) as Admission;
  return { allowed: true, code: "allowed", message: last.verdict.message, pam, checks };
}
