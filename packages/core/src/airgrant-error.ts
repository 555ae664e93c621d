/**
 * The one error class of airgrant. `code` is a stable kebab-case word listed
 * in docs/errors.md; callers switch on it, people read `message`.
 */
export class AirgrantError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AirgrantError";
    this.code = code;
  }
}

/** What a command's exit status says (PRODUCT.md, command-line contract). */
export type ExitClass = "verdict" | "usage" | "environment";

export const EXIT_STATUS: Readonly<Record<ExitClass, number>> = {
  verdict: 1,
  usage: 2,
  environment: 3,
};

/**
 * Every code that is not a verdict of no. Anything absent from this table is
 * a verdict (exit 1): a new denial reason cannot accidentally exit 0 or look
 * like a usage error.
 */
const NON_VERDICT_CODES: Readonly<Record<string, Exclude<ExitClass, "verdict">>> = {
  usage: "usage",
  "bad-input": "usage",
  "malformed-bundle": "usage",
  "malformed-ssh-key": "usage",
  "malformed-receipt": "usage",
  "file-unreadable": "usage",
  "pam-misconfigured": "usage",
  "no-bundle": "environment",
  "state-unwritable": "environment",
  "lock-timeout": "environment",
  "state-unreadable": "environment",
  "state-corrupt": "environment",
  "audit-log-corrupt": "environment",
  "otp-store-corrupt": "environment",
  "audit-unwritable": "environment",
  "module-not-found": "environment",
  "token-not-found": "environment",
  "wrong-pin": "environment",
  "pin-locked": "environment",
  "key-missing": "environment",
  "mechanism-unsupported": "environment",
  "pin-required": "environment",
  internal: "environment",
};

/** The exit class of an error code; unknown codes are verdicts of no. */
export function exitClassOf(code: string): ExitClass {
  return NON_VERDICT_CODES[code] ?? "verdict";
}

/** The process exit status for an error code. */
export function exitStatusOf(code: string): number {
  return EXIT_STATUS[exitClassOf(code)];
}
