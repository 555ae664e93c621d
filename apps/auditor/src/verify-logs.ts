import { type AuditChainReport, SealChecker, type SealReceipt, verifyAuditLog } from "@airgrant/core";

/** What the seals of a host log say, when the auditor holds its receipt. */
export interface SealSummary {
  host: string;
  /** Entries whose seal verified. */
  lastSealedSeq: number;
  /** The last epoch seen and the first entry sealed in it. */
  epoch: number;
  epochStartSeq: number;
}

export interface LogVerdict {
  path: string;
  report: AuditChainReport;
  seals?: SealSummary;
}

/**
 * Verify each log's chain on its own, streaming, in the order given; a log
 * whose id matches a receipt has every seal checked in the same pass
 * (docs/audit-log.md, "Sealing").
 */
export function verifyLogs(paths: readonly string[], receipts: readonly SealReceipt[] = []): LogVerdict[] {
  return paths.map((path) => {
    let checker: SealChecker | undefined;
    let receipt: SealReceipt | undefined;
    const report = verifyAuditLog(path, {
      onEntry: (entry) => {
        if (entry.seq === 1) {
          receipt = receipts.find((r) => r.logId === entry.data.logId);
          if (receipt !== undefined) checker = new SealChecker(receipt);
        }
        return checker?.check(entry);
      },
    });
    if (checker === undefined || receipt === undefined) return { path, report };
    const { lastSealedSeq, epoch, epochStartSeq } = checker;
    return { path, report, seals: { host: receipt.host, lastSealedSeq, epoch, epochStartSeq } };
  });
}

/** One line a log, as the auditor reads it. */
export function describeLogVerdict({ path, report, seals }: LogVerdict): string {
  if (!report.ok) {
    return `${path}: BROKEN at entry ${report.seq} (line ${report.line}): ${report.code}: ${report.message}; ${report.entriesVerified} entries before it verified`;
  }
  const recovered = report.recoveries > 0 ? `, ${report.recoveries} torn tail(s) recovered` : "";
  const sealed =
    seals === undefined
      ? ", not sealed or no receipt given"
      : `, sealed (host ${seals.host}) through entry ${seals.lastSealedSeq}; entries from ${seals.epochStartSeq} on are in epoch ${seals.epoch}, which the host's current key could still re-seal`;
  return `${path}: intact, ${report.entries} entries${recovered}${sealed}, log ${report.logId}, head ${report.head.seq} ${report.head.hash}`;
}
