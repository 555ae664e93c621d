import { type AuditChainReport, type SealReceipt, type TrustedIssuer, verifyAuditLog } from "@airgrant/core";
import { type CheckpointSummary, describeEvidence, LogEvidence, type SealSummary } from "./log-evidence.js";

export interface LogVerdict {
  path: string;
  report: AuditChainReport;
  seals?: SealSummary;
  checkpoints?: CheckpointSummary;
}

/**
 * Verify each log's chain on its own, streaming, in the order given; a log
 * whose id matches a receipt has every seal checked in the same pass
 * (docs/audit-log.md, "Sealing"), and with the bundle's issuers every
 * checkpoint.
 */
export function verifyLogs(
  paths: readonly string[],
  receipts: readonly SealReceipt[] = [],
  issuers: readonly TrustedIssuer[] = [],
): LogVerdict[] {
  return paths.map((path) => {
    const evidence = new LogEvidence(receipts, issuers);
    const report = verifyAuditLog(path, { onEntry: (entry) => evidence.onEntry(entry) });
    const verdict: LogVerdict = { path, report };
    evidence.recordOn(verdict);
    return verdict;
  });
}

/** One line a log, as the auditor reads it. */
export function describeLogVerdict({ path, report, seals, checkpoints }: LogVerdict): string {
  if (!report.ok) {
    return `${path}: BROKEN at entry ${report.seq} (line ${report.line}): ${report.code}: ${report.message}; ${report.entriesVerified} entries before it verified`;
  }
  const recovered = report.recoveries > 0 ? `, ${report.recoveries} torn tail(s) recovered` : "";
  return `${path}: intact, ${report.entries} entries${recovered}${describeEvidence(seals, checkpoints)}, log ${report.logId}, head ${report.head.seq} ${report.head.hash}`;
}
