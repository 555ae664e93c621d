import {
  type AuditChainCode,
  type AuditChainHead,
  type AuditChainReport,
  type AuditEntry,
  LOG_RECOVERED_TYPE,
  verifyAuditLog,
} from "@airgrant/core";
import type { CheckpointSummary, SealSummary, SinceSummary } from "./log-evidence.js";

/**
 * One check run on each verified entry of a log, in the chain verifier's
 * single streaming pass: reconciliation, and the log's seals, signed
 * checkpoints and the head an earlier audit saw (LogEvidence). Returning a
 * string rejects the entry: the chain is then reported broken there with
 * code `rejected-entry` and that message; a code and message (`bad-seal`,
 * `bad-checkpoint-signature`, `rewritten`, …) reports that.
 */
export interface EntryCheck {
  /** `bytes`: the entry's line as read, valid only during the call. */
  onEntry(
    entry: AuditEntry,
    line: number,
    bytes: Uint8Array,
  ): string | { code: AuditChainCode; message: string } | undefined;
  /** After the last entry of an intact chain: a problem reports the log broken past its end (`truncated`). */
  onEnd?(head: AuditChainHead): { code: AuditChainCode; message: string } | undefined;
}

/** What reconciliation says about one log it read. */
export interface LogSummary {
  role: "signer" | "approver" | "host";
  path: string;
  /** True when the whole chain verified. */
  intact: boolean;
  /** Entries verified (all of them when intact; those before the break otherwise). */
  entries: number;
  logId?: string;
  head?: { seq: number; hash: string };
  /** log-recovered entries: torn tails set aside after a crash (docs/audit-log.md, section 6). */
  recoveries: number;
  /** Where and why the chain broke. */
  broken?: { code: string; seq: number; line: number; message: string };
  /** The seals checked with the log's install receipt, when the auditor gave it. */
  seals?: SealSummary;
  /** The signed checkpoints checked with the bundle's issuer keys, when the auditor gave the bundle. */
  checkpoints?: CheckpointSummary;
  /** The head an earlier audit saw in this log, when the auditor gave its output (`--since`). */
  since?: SinceSummary;
}

/**
 * Verify the chain of the log at `path`, streaming, and hand each verified
 * entry to every check in turn. Throws `file-unreadable` if the file cannot
 * be read; a broken chain is a value.
 */
export function streamLog(path: string, role: LogSummary["role"], checks: readonly EntryCheck[]): LogSummary {
  // Counted here too: the verifier reports recoveries only for an intact chain.
  let recoveries = 0;
  const report: AuditChainReport = verifyAuditLog(path, {
    onEntry(entry, line, bytes) {
      if (entry.type === LOG_RECOVERED_TYPE) recoveries++;
      for (const check of checks) {
        const rejection = check.onEntry(entry, line, bytes);
        if (rejection !== undefined) return rejection;
      }
      return undefined;
    },
    onEnd(head) {
      for (const check of checks) {
        const problem = check.onEnd?.(head);
        if (problem !== undefined) return problem;
      }
      return undefined;
    },
  });
  if (report.ok) {
    return {
      role,
      path,
      intact: true,
      entries: report.entries,
      logId: report.logId,
      head: report.head,
      recoveries: report.recoveries,
    };
  }
  const summary: LogSummary = {
    role,
    path,
    intact: false,
    entries: report.entriesVerified,
    recoveries,
    broken: { code: report.code, seq: report.seq, line: report.line, message: report.message },
  };
  if (report.logId !== undefined) summary.logId = report.logId;
  if (report.head !== undefined) summary.head = report.head;
  return summary;
}
