import { type Admission, admitGrant } from "./admission.js";
import { decodeCertificateBase64, decodeCertificateClaims, MAX_CERTIFICATE_BASE64 } from "./certificate-claims.js";
import { loadInstalledBundle } from "./host-state.js";
import { hostState } from "./state-paths.js";

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

/**
 * The AuthorizedPrincipalsCommand's work: check the certificate sshd is
 * considering for `user` and say whether the user may log in with it. It
 * takes no use: sshd 9.2 runs the command once when the client asks whether
 * the key would do and again for the signed attempt, so a use taken here
 * would be gone before the login. The use is taken by ssh-session when the
 * PAM session opens (docs/openssh.md). Every call is one `ssh-principals`
 * entry in the host log.
 */
export function runSshPrincipals(input: SshPrincipalsInput): Admission {
  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  const blob = decodeCertificateBase64(input.certificate);
  return admitGrant({
    state,
    bundle,
    claims:
      blob === undefined
        ? { code: "malformed-certificate", message: "the certificate is not base64 of at most 16 KiB" }
        : decodeCertificateClaims(blob, input.type),
    presented: blob ?? new TextEncoder().encode(input.certificate.slice(0, MAX_CERTIFICATE_BASE64)),
    caller: { user: input.user },
    host: input.host,
    clock: input.clock,
    entryType: "ssh-principals",
  });
}
