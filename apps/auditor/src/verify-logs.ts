import {
  type AuditChainReport,
  CheckpointChecker,
  SealChecker,
  type SealReceipt,
  type TrustedIssuer,
  verifyAuditLog,
} from "@airgrant/core";

/** What the seals of a host log say, when the auditor holds its receipt. */
export interface SealSummary {
  host: string;
  /** Entries whose seal verified. */
  lastSealedSeq: number;
  /** The last epoch seen and the first entry sealed in it. */
  epoch: number;
  epochStartSeq: number;
}

/** What the signed checkpoints of a log say, when the auditor has the trust bundle. */
export interface CheckpointSummary {
  checkpoints: number;
  /** The last entry a valid checkpoint signs; entries after it are vouched for by nothing but the chain. */
  lastCheckpointedSeq: number;
}

export interface LogVerdict {
  path: string;
  report: AuditChainReport;
  seals?: SealSummary;
  checkpoints?: CheckpointSummary;
}

/**
 * Verify each log's chain on its own, streaming, in the order given; a log
 * whose id matches a receipt has every seal checked in the same pass
 * (docs/audit-log.md, "Sealing").
 */
export function verifyLogs(
  paths: readonly string[],
  receipts: readonly SealReceipt[] = [],
  issuers: readonly TrustedIssuer[] = [],
): LogVerdict[] {
  return paths.map((path) => {
    let seals: SealChecker | undefined;
    let receipt: SealReceipt | undefined;
    const checkpoints = issuers.length === 0 ? undefined : new CheckpointChecker(issuers);
    const report = verifyAuditLog(path, {
      onEntry: (entry) => {
        if (entry.seq === 1) {
          receipt = receipts.find((r) => r.logId === entry.data.logId);
          if (receipt !== undefined) seals = new SealChecker(receipt);
        }
        return checkpoints?.check(entry) ?? seals?.check(entry);
      },
    });
    const verdict: LogVerdict = { path, report };
    if (seals !== undefined && receipt !== undefined) {
      const { lastSealedSeq, epoch, epochStartSeq } = seals;
      verdict.seals = { host: receipt.host, lastSealedSeq, epoch, epochStartSeq };
    }
    if (checkpoints !== undefined && checkpoints.checkpoints > 0) {
      const { checkpoints: count, lastCheckpointedSeq } = checkpoints;
      verdict.checkpoints = { checkpoints: count, lastCheckpointedSeq };
    }
    return verdict;
  });
}

/** One line a log, as the auditor reads it. */
export function describeLogVerdict({ path, report, seals, checkpoints }: LogVerdict): string {
  if (!report.ok) {
    return `${path}: BROKEN at entry ${report.seq} (line ${report.line}): ${report.code}: ${report.message}; ${report.entriesVerified} entries before it verified`;
  }
  const recovered = report.recoveries > 0 ? `, ${report.recoveries} torn tail(s) recovered` : "";
  const sealed =
    seals === undefined
      ? ", not sealed or no receipt given"
      : `, sealed (host ${seals.host}) through entry ${seals.lastSealedSeq}; entries from ${seals.epochStartSeq} on are in epoch ${seals.epoch}, which the host's current key could still re-seal`;
  const signed =
    checkpoints === undefined
      ? ""
      : `, ${checkpoints.checkpoints} signed checkpoint(s), the last signing entry ${checkpoints.lastCheckpointedSeq}`;
  return `${path}: intact, ${report.entries} entries${recovered}${sealed}${signed}, log ${report.logId}, head ${report.head.seq} ${report.head.hash}`;
}
