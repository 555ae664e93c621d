import { type AuditEntry, unsliced } from "@airgrant/core";

/**
 * What reconciliation can find wrong (docs/auditor.md, "Findings";
 * docs/errors.md, "auditor"). Each finding names the log and entry it comes
 * from, so that an auditor can go and read the line.
 */
export type FindingCode =
  | "chain-broken"
  | "receipt-unmatched"
  | "unknown-grant"
  | "grant-overused"
  | "use-outside-window"
  | "session-outlived-grant"
  | "user-mismatch"
  | "target-mismatch"
  | "grant-mismatch"
  | "anchor-not-on-chain"
  | "revoked-grant-used"
  | "retired-issuer-used"
  | "trust-version-unmet"
  | "approvals-unmet"
  | "approval-unlogged"
  | "certificate-unlogged"
  | "request-not-logged"
  | "unbound-grant-used"
  | "bundle-not-exported"
  | "duplicate-grant"
  | "otp-counter-not-increasing"
  | "log-recovered"
  | "malformed-record";

/** Every finding code, in the order the report lists them. */
export const FINDING_CODES: readonly FindingCode[] = [
  "chain-broken",
  "receipt-unmatched",
  "log-recovered",
  "anchor-not-on-chain",
  "unknown-grant",
  "grant-overused",
  "use-outside-window",
  "session-outlived-grant",
  "user-mismatch",
  "target-mismatch",
  "grant-mismatch",
  "revoked-grant-used",
  "retired-issuer-used",
  "trust-version-unmet",
  "approvals-unmet",
  "approval-unlogged",
  "certificate-unlogged",
  "request-not-logged",
  "unbound-grant-used",
  "bundle-not-exported",
  "duplicate-grant",
  "otp-counter-not-increasing",
  "malformed-record",
];

export interface Finding {
  code: FindingCode;
  /** The log the finding comes from (for grant-overused, the signer log). */
  log: string;
  /** The entry's sequence number (= line number) in that log, when one entry is at fault. */
  seq?: number;
  /** The grant concerned, 32 hex digits, when there is one. */
  grantId?: string;
  /** The host named by the entry, for findings about a use. */
  host?: string;
  /** The account named by the entry, for findings about a use. */
  user?: string;
  /** The entry's time, ISO 8601. */
  time?: string;
  /** For chain-broken: the chain verifier's reason code (hash-mismatch, sequence-gap, torn-tail, …). */
  reason?: string;
  message: string;
}

/**
 * A log-recovered entry: an append was torn (a crash or a full disk) and
 * the log set its bytes aside and went on. Nothing was lost that any
 * command answered on, but someone should read the sidecar it names.
 */
export function logRecoveredFinding(log: string, entry: AuditEntry): Finding {
  const { tornBytes, sidecar } = entry.data;
  return {
    code: "log-recovered",
    log,
    seq: entry.seq,
    time: entry.time,
    message: `a torn append of ${typeof tornBytes === "number" ? tornBytes : "?"} byte(s) was set aside here${typeof sidecar === "string" ? ` in ${keptString(sidecar)}` : ""}: the process writing the log crashed or the disk filled mid-append`,
  };
}

/** Longest string kept from a log: logs are hostile input and lines may be 64 KiB. */
export const MAX_KEPT_STRING = 200;

/**
 * A string from a log, cut to a bounded length and copied (unsliced), so
 * that memory stays small whatever the log holds: the cut alone would be a
 * slice that keeps the whole string.
 */
export function keptString(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  return unsliced(value.length > MAX_KEPT_STRING ? `${value.slice(0, MAX_KEPT_STRING)}…` : value);
}

/**
 * Collects findings with a bound on how many are kept in full: a hostile log
 * of a million bad entries must not exhaust memory. Findings past the bound
 * are counted per code, and the verdict is the same.
 */
export class FindingList {
  readonly kept: Finding[] = [];
  readonly omitted = new Map<FindingCode, number>();

  constructor(private readonly limit: number) {}

  add(finding: Finding): void {
    if (this.kept.length < this.limit) this.kept.push(finding);
    else this.omitted.set(finding.code, (this.omitted.get(finding.code) ?? 0) + 1);
  }

  get total(): number {
    let n = this.kept.length;
    for (const count of this.omitted.values()) n += count;
    return n;
  }
}
