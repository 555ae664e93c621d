import { readBounded } from "@airgrant/core";
import { type Admission, admitGrant } from "./admission.js";
import { decodeGrantClaims, MAX_GRANT_INPUT_BYTES } from "./grant-claims.js";
import { loadInstalledBundle } from "./host-state.js";
import { loginAncestry } from "./login-processes.js";
import { recordAdmittedLogin } from "./login-session.js";
import { type PamEnvironment, readPamEnvironment } from "./pam-environment.js";
import { hostState } from "./state-paths.js";

/**
 * PAM keeps at most PAM_MAX_RESP_SIZE (512) bytes of a password, its NUL
 * included: pam_exec passes a module at most 511 (measured with Linux-PAM
 * 1.5.2) and cuts a longer one there. A refused input of this length was
 * probably a grant too long to type at a PAM prompt.
 */
export const PAM_PASSWORD_LIMIT = 511;

export interface PamCheckInput {
  /** The state directory: from `--state` only, never from the PAM environment. */
  stateDir: string;
  host: string;
  /** pam_exec's environment: the PAM environment plus PAM_USER, PAM_TYPE and the items. */
  env: NodeJS.ProcessEnv;
  clock: () => Date;
  /** Where the token is read from; pam_exec makes it stdin. */
  fd?: number;
}

export interface PamCheckResult extends Admission {
  pam: PamEnvironment;
  /** The verdict's message, with a hint when the input looks like a PAM limit or a missing expose_authtok. */
  message: string;
}

/**
 * The `pam` entry point's work: admit the grant `pam_exec expose_authtok`
 * passes on stdin for PAM_USER, recording the PAM service, remote host and
 * tty with the check. Throws an AirgrantError for anything that is not a
 * verdict (misconfiguration, missing bundle, unwritable state): the caller
 * exits non-zero and PAM refuses, so the host fails closed.
 */
export function runPamCheck(input: PamCheckInput): PamCheckResult {
  const pam = readPamEnvironment(input.env, "pam");
  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  // pam_exec expose_authtok writes the token then a NUL (Linux-PAM 1.5.3 and
  // later) or just closes the pipe (1.5.2): stop at either.
  const token = readBounded(input.fd ?? 0, MAX_GRANT_INPUT_BYTES, 0x00);
  const admission = admitGrant({
    state,
    bundle,
    claims: decodeGrantClaims(token.bytes, token.oversized),
    presented: token.bytes,
    oversized: token.oversized,
    caller: pam,
    host: input.host,
    clock: input.clock,
  });
  recordAdmittedLogin(state, admission, { user: pam.user, host: input.host }, loginAncestry(), input.clock);
  const { verdict } = admission;
  let message = verdict.message;
  if (!verdict.allowed && verdict.claims === undefined) {
    // An empty password and a pam_exec line without expose_authtok look alike
    // here (both are an empty stdin): the attempt is logged, with a hint.
    if (token.bytes.length === 0)
      message += "; nothing on stdin: an empty password, or no expose_authtok on the pam_exec line";
    if (token.bytes.length === PAM_PASSWORD_LIMIT || token.bytes.length === PAM_PASSWORD_LIMIT + 1) {
      message += `; PAM passed ${token.bytes.length} bytes, its limit for a password: a grant this long cannot be entered at a PAM prompt`;
    }
  }
  return { ...admission, pam, message };
}
