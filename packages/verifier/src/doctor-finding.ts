import type { ErrorCode } from "@airgrant/core";

/**
 * What `airgrant-verifier doctor` reports: one code per thing an
 * administrator gets wrong, each with where it is and what to do. Each is a
 * verdict code of ERROR_CODES, in docs/errors.md's "doctor" table, which
 * doctor.test.ts holds equal to this list.
 */
export const FINDING_CODES = [
  // the state directory
  "state-refused",
  "state-mode",
  "bundle-missing",
  "bundle-damaged",
  "bundle-expired",
  "signed-bundle-expired",
  "use-store-missing",
  "seal-key-missing",
  "seal-receipt-on-host",
  "audit-log-damaged",
  "clock-behind",
  // PAM
  "pam-not-configured",
  "pam-wrong-section",
  "pam-control",
  "pam-expose-authtok",
  "pam-request-stdout",
  "pam-env-above",
  "pam-line-order",
  "pam-no-breakglass",
  "pam-state",
  "pam-log",
  "ssh-session-not-first",
  "ssh-session-control",
  "ssh-session-type",
  "ssh-session-missing",
  "session-end-order",
  "session-end-type",
  "session-end-missing",
  // sshd
  "sshd-config-invalid",
  "sshd-use-pam",
  "sshd-no-prompt",
  "sshd-principals-command",
  "sshd-ca-keys-unset",
  "sshd-ca-keys-missing",
  "sshd-ca-keys-unsafe",
  "sshd-ca-keys-stale",
  "sshd-revoked-keys-missing",
  "sshd-revoked-keys-unsafe",
] as const satisfies readonly ErrorCode[];

export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  code: FindingCode;
  /** The file (and line) or directory it is about. */
  where: string;
  /** What is wrong and what it does. */
  message: string;
  /** What to do about it. */
  fix: string;
}
