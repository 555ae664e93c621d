import {
  type AuditChainReport,
  type SealReceipt,
  type TrustedIssuer,
  verifyAuditLog,
  verifyAuditLogChecked,
} from "@airgrant/core";
import type { KnownHeads } from "./known-heads.js";
import {
  type CheckpointSummary,
  describeEvidence,
  evidenceSplitCheck,
  recordEvidence,
  type SealSummary,
  type SinceSummary,
} from "./log-evidence.js";
import { type CounterRepeat, repeatMessage } from "./otp-counters.js";

export interface LogVerdict {
  path: string;
  report: AuditChainReport;
  seals?: SealSummary;
  checkpoints?: CheckpointSummary;
  since?: SinceSummary;
  /** The first YubiKey OTP counter in a signer log that is not above an earlier one of its key. */
  otpCounterRepeat?: CounterRepeat;
}

/**
 * Verify each log's chain on its own, streaming, in the order given; a log
 * whose id matches a receipt has every seal checked in the same pass
 * (docs/audit-log.md, "Sealing"), with the bundle's issuers every
 * checkpoint, and with an earlier audit's heads that it still holds them.
 * A large log is verified on two cores, its evidence checked in each half.
 */
export function verifyLogs(
  paths: readonly string[],
  receipts: readonly SealReceipt[] = [],
  issuers: readonly TrustedIssuer[] = [],
  known?: KnownHeads,
): LogVerdict[] {
  const chainOnly = receipts.length === 0 && issuers.length === 0 && known === undefined;
  return paths.map((path) => {
    if (chainOnly) return { path, report: verifyAuditLog(path) };
    const { report, summary } = verifyAuditLogChecked(
      path,
      evidenceSplitCheck({ receipts, issuers, known, otpCounters: true }),
    );
    const verdict: LogVerdict = { path, report };
    recordEvidence(verdict, summary);
    return verdict;
  });
}

/** One line a log, as the auditor reads it. */
export function describeLogVerdict(verdict: LogVerdict): string {
  const { path, report } = verdict;
  if (!report.ok) {
    return `${path}: BROKEN at entry ${report.seq} (line ${report.line}): ${report.code}: ${report.message}; ${report.entriesVerified} entries before it verified`;
  }
  const recovered = report.recoveries > 0 ? `, ${report.recoveries} torn tail(s) recovered` : "";
  const repeat = verdict.otpCounterRepeat;
  if (repeat !== undefined) {
    return `${path}: chain intact, but entry ${repeat.at.seq} reuses an OTP: ${repeatMessage(repeat)}`;
  }
  return `${path}: intact, ${report.entries} entries${recovered}${describeEvidence(verdict)}, log ${report.logId}, head ${report.head.seq} ${report.head.hash}`;
}
