/** What a command's exit status says (docs/errors.md). */
export type ExitClass = "verdict" | "usage" | "environment";

export const EXIT_STATUS: Readonly<Record<ExitClass, number>> = {
  verdict: 1,
  usage: 2,
  environment: 3,
};

/**
 * Every code airgrant reports, with its exit class: the one table the
 * commands map exit statuses from, held equal to docs/errors.md by
 * error-codes.test.ts. A new code is one row here and one row there.
 */
export const ERROR_CODES = {
  // general
  usage: "usage",
  "bad-input": "usage",
  "file-unreadable": "usage",
  "invalid-json": "usage",
  "malformed-receipt": "usage",
  "state-unwritable": "environment",
  "state-unreadable": "environment",
  "state-corrupt": "environment",
  "state-insecure": "environment",
  "identity-unsafe": "environment",
  "lock-timeout": "environment",
  internal: "environment",
  // grants and the verifier
  "malformed-grant": "verdict",
  "bad-checksum": "verdict",
  "unsupported-version": "verdict",
  "invalid-user": "verdict",
  "unknown-issuer": "verdict",
  "bad-signature": "verdict",
  "issuer-not-valid": "verdict",
  "issuer-retired": "verdict",
  "not-enough-signatures": "verdict",
  "not-enough-approvals": "verdict",
  "trust-expired": "verdict",
  "grant-revoked": "verdict",
  "trust-version-required": "verdict",
  "grant-lifetime-exceeded": "verdict",
  "grant-not-yet-valid": "verdict",
  "grant-expired": "verdict",
  "wrong-user": "verdict",
  "wrong-host": "verdict",
  "target-not-allowed": "verdict",
  "wrong-source": "verdict",
  "constraint-unenforceable": "verdict",
  "grant-replayed": "verdict",
  // requests (docs/requests.md)
  "bad-request-code": "usage",
  "request-required": "verdict",
  "request-unknown": "verdict",
  "request-wrong-host": "verdict",
  "request-wrong-user": "verdict",
  "request-expired": "verdict",
  "request-redeemed": "verdict",
  "request-limit": "verdict",
  "invalid-grant-field": "verdict",
  "malformed-bundle": "usage",
  "bad-public-key": "usage",
  "no-bundle": "environment",
  // signed trust
  "bundle-rollback": "verdict",
  "not-enough-root-signatures": "verdict",
  "root-rotation-unsigned": "verdict",
  "bundle-unsigned": "verdict",
  "signed-trust-installed": "usage",
  "no-signed-trust": "environment",
  // YubiKey OTP
  "otp-malformed": "verdict",
  "otp-unknown-key": "verdict",
  "otp-bad-crc": "verdict",
  "otp-wrong-private-id": "verdict",
  "otp-replayed": "verdict",
  "otp-store-corrupt": "environment",
  // PKCS#11 tokens
  "module-not-found": "environment",
  "token-not-found": "environment",
  "wrong-pin": "environment",
  "pin-locked": "environment",
  "key-missing": "environment",
  "mechanism-unsupported": "environment",
  // audit log
  "hash-mismatch": "verdict",
  "prev-mismatch": "verdict",
  "sequence-gap": "verdict",
  "malformed-entry": "verdict",
  "non-canonical-entry": "verdict",
  "entry-too-long": "verdict",
  "torn-tail": "verdict",
  "empty-log": "verdict",
  "bad-first-entry": "verdict",
  "misplaced-log-opened": "verdict",
  "rejected-entry": "verdict",
  "bad-checkpoint": "verdict",
  "bad-checkpoint-signature": "verdict",
  "bad-seal": "verdict",
  rewritten: "verdict",
  truncated: "verdict",
  "audit-log-corrupt": "environment",
  "audit-unwritable": "environment",
  // PAM and OpenSSH
  "pam-misconfigured": "usage",
  "malformed-certificate": "verdict",
  "malformed-ssh-key": "usage",
  "doctor-findings": "verdict",
  "doctor-unreadable": "environment",
  // doctor's findings
  "state-refused": "verdict",
  "state-mode": "verdict",
  "bundle-missing": "verdict",
  "bundle-damaged": "verdict",
  "bundle-expired": "verdict",
  "use-store-missing": "verdict",
  "seal-key-missing": "verdict",
  "seal-receipt-on-host": "verdict",
  "audit-log-damaged": "verdict",
  "clock-behind": "verdict",
  "pam-not-configured": "verdict",
  "pam-wrong-section": "verdict",
  "pam-control": "verdict",
  "pam-expose-authtok": "verdict",
  "pam-request-stdout": "verdict",
  "pam-env-above": "verdict",
  "pam-line-order": "verdict",
  "pam-no-breakglass": "verdict",
  "pam-state": "verdict",
  "pam-log": "verdict",
  "ssh-session-not-first": "verdict",
  "ssh-session-control": "verdict",
  "ssh-session-type": "verdict",
  "ssh-session-missing": "verdict",
  "session-end-order": "verdict",
  "session-end-type": "verdict",
  "session-end-missing": "verdict",
  "sshd-config-invalid": "verdict",
  "sshd-use-pam": "verdict",
  "sshd-no-prompt": "verdict",
  "sshd-principals-command": "verdict",
  "sshd-ca-keys-unset": "verdict",
  "sshd-ca-keys-missing": "verdict",
  "sshd-ca-keys-unsafe": "verdict",
  "sshd-ca-keys-stale": "verdict",
  "signed-bundle-expired": "verdict",
  "sshd-revoked-keys-missing": "verdict",
  "sshd-revoked-keys-unsafe": "verdict",
  // signer
  "officer-not-allowed": "verdict",
  "ttl-too-long": "verdict",
  "grant-too-long": "verdict",
  "unknown-officer": "verdict",
  "officer-exists": "verdict",
  "pin-required": "environment",
  "secret-file-exposed": "usage",
  "otp-counter-rollback": "environment",
  "already-revoked": "verdict",
  "already-approved": "verdict",
  "self-approval": "verdict",
  "pending-grant-closed": "verdict",
  "pending-grant-incomplete": "verdict",
  "malformed-pending-grant": "usage",
  // auditor
  "chain-broken": "verdict",
  "receipt-unmatched": "verdict",
  "reconcile-findings": "verdict",
  "anchor-not-on-chain": "verdict",
  "unknown-grant": "verdict",
  "grant-overused": "verdict",
  "use-outside-window": "verdict",
  "session-outlived-grant": "verdict",
  "user-mismatch": "verdict",
  "target-mismatch": "verdict",
  "grant-mismatch": "verdict",
  "revoked-grant-used": "verdict",
  "retired-issuer-used": "verdict",
  "trust-version-unmet": "verdict",
  "approvals-unmet": "verdict",
  "approval-unlogged": "verdict",
  "certificate-unlogged": "verdict",
  "request-not-logged": "verdict",
  "unbound-grant-used": "verdict",
  "bundle-not-exported": "verdict",
  "duplicate-grant": "verdict",
  "otp-counter-not-increasing": "verdict",
  "log-recovered": "verdict",
  "malformed-record": "verdict",
} as const satisfies Record<string, ExitClass>;

/** A code of refusal or failure: the closed set of docs/errors.md. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes a successful result carries in its `code` (exit 0; docs/errors.md). */
export const SUCCESS_CODES = [
  "allowed",
  "not-airgrant",
  "session-opened",
  "session-closed",
  "bundle-installed",
  "trust-updated",
  "ssh-ca-keys",
  "request-pending",
  "chain-intact",
  "reconciled",
] as const;

export type SuccessCode = (typeof SUCCESS_CODES)[number];

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * The one error class of airgrant. `code` is one of ERROR_CODES; callers
 * switch on it, people read `message`.
 */
export class AirgrantError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AirgrantError";
    this.code = code;
  }
}

/** The exit class of an error code. */
export function exitClassOf(code: ErrorCode): ExitClass {
  return ERROR_CODES[code];
}

/** The process exit status for an error code. */
export function exitStatusOf(code: ErrorCode): number {
  return EXIT_STATUS[exitClassOf(code)];
}
