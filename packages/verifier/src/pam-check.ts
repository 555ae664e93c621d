import { isIP } from "node:net";
import { AirgrantError, readBounded, toHex } from "@airgrant/core";
import { checkGrant } from "./check-grant.js";
import { hostState, loadInstalledBundle } from "./host-state.js";

/** The PAM items pam_exec exports (pam_exec(8)) that go into the audit entry, and their audit keys. */
const PAM_ITEMS = [
  ["PAM_SERVICE", "pamService"],
  ["PAM_RHOST", "pamRhost"],
  ["PAM_TTY", "pamTty"],
] as const;

/**
 * Items are set by the PAM application from what the client sent (a remote
 * host name, a tty name): kept to this many characters, controls replaced.
 */
export const PAM_ITEM_MAX_LENGTH = 128;

/** Presented input beyond this is not a grant (the same bound as `check`). */
const MAX_INPUT_BYTES = 16 * 1024;

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

export interface PamCheckResult {
  allowed: boolean;
  code: string;
  message: string;
  user: string;
  auditSeq: number;
  grantId?: string;
  principal?: string;
  /** The sanitised PAM items, as logged. */
  context: Record<string, string>;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A PAM item as it may go into the log: printable, at most PAM_ITEM_MAX_LENGTH code points. */
export function sanitizePamItem(value: string): { value: string; truncated: boolean } {
  // By code points, so that a cut never leaves half a surrogate pair (which the log refuses).
  const points = Array.from(value.replace(CONTROLS, "?"));
  return { value: points.slice(0, PAM_ITEM_MAX_LENGTH).join(""), truncated: points.length > PAM_ITEM_MAX_LENGTH };
}

function misconfigured(message: string): AirgrantError {
  return new AirgrantError("pam-misconfigured", message);
}

/**
 * The `pam` entry point's work: check the grant `pam_exec expose_authtok`
 * passes on stdin for PAM_USER, record the attempt with the PAM service,
 * remote host and tty, and take a use if it is allowed. Throws an
 * AirgrantError for anything that is not a verdict (misconfiguration,
 * missing bundle, unwritable state): the caller exits non-zero and PAM
 * refuses, so the host fails closed.
 */
export function runPamCheck(input: PamCheckInput): PamCheckResult {
  const { env } = input;
  const type = env.PAM_TYPE;
  if (type === undefined || type === "") {
    throw misconfigured("PAM_TYPE is not set: 'airgrant-verifier pam' is run by pam_exec.so");
  }
  if (type !== "auth") {
    throw misconfigured(
      `called for PAM type '${type}': the pam_exec line belongs in the auth section only (docs/pam.md)`,
    );
  }
  const user = env.PAM_USER ?? "";
  if (user === "") throw misconfigured("PAM_USER is not set: the application asked for no user");

  const context: Record<string, string> = {};
  let truncated = false;
  for (const [name, key] of PAM_ITEMS) {
    const raw = env[name];
    if (raw === undefined || raw === "") continue;
    const item = sanitizePamItem(raw);
    context[key] = item.value;
    truncated ||= item.truncated;
  }
  const rhost = env.PAM_RHOST;
  // sshd gives the client's address unless UseDNS is on; a name proves nothing about the source.
  const remoteAddress = rhost !== undefined && isIP(rhost) !== 0 ? rhost : undefined;

  const state = hostState(input.stateDir);
  const bundle = loadInstalledBundle(state);
  // pam_exec expose_authtok writes the token then a NUL (Linux-PAM 1.5.3 and
  // later) or just closes the pipe (1.5.2): stop at either.
  const token = readBounded(input.fd ?? 0, MAX_INPUT_BYTES, 0x00);
  const auditContext: Record<string, string> = truncated ? { ...context, pamTruncated: "true" } : context;
  const { verdict, auditSeq } = checkGrant({
    state,
    bundle,
    presented: token.bytes,
    oversized: token.oversized,
    user,
    host: input.host,
    clock: input.clock,
    ...(remoteAddress === undefined ? {} : { remoteAddress }),
    context: auditContext,
  });
  let message = verdict.message;
  if (!verdict.allowed && verdict.grant === undefined) {
    // An empty password and a pam_exec line without expose_authtok look alike
    // here (both are an empty stdin): the attempt is logged, with a hint.
    if (token.bytes.length === 0)
      message += "; nothing on stdin: an empty password, or no expose_authtok on the pam_exec line";
    if (token.bytes.length === PAM_PASSWORD_LIMIT || token.bytes.length === PAM_PASSWORD_LIMIT + 1) {
      message += `; PAM passed ${token.bytes.length} bytes, its limit for a password: a grant this long cannot be entered at a PAM prompt`;
    }
  }
  const grant = verdict.grant;
  return {
    allowed: verdict.allowed,
    code: verdict.code,
    message,
    user,
    auditSeq,
    context,
    ...(grant === undefined ? {} : { grantId: toHex(grant.grantId), principal: grant.principal }),
  };
}
