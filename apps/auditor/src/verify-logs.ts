import { type AuditChainReport, verifyAuditLog } from "@airgrant/core";

export interface LogVerdict {
  path: string;
  report: AuditChainReport;
}

/** Verify each log's chain on its own, streaming, in the order given. */
export function verifyLogs(paths: readonly string[]): LogVerdict[] {
  return paths.map((path) => ({ path, report: verifyAuditLog(path) }));
}

/** One line a log, as the auditor reads it. */
export function describeLogVerdict({ path, report }: LogVerdict): string {
  if (report.ok) {
    const recovered = report.recoveries > 0 ? `, ${report.recoveries} torn tail(s) recovered` : "";
    return `${path}: intact, ${report.entries} entries${recovered}, log ${report.logId}, head ${report.head.seq} ${report.head.hash}`;
  }
  return `${path}: BROKEN at entry ${report.seq} (line ${report.line}): ${report.code}: ${report.message}; ${report.entriesVerified} entries before it verified`;
}
