import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { AirgrantError } from "./airgrant-error.js";
import {
  AUDIT_LOG_FORMAT,
  type AuditEntry,
  type AuditLineProblem,
  decodeAuditLine,
  GENESIS_PREV,
  MAX_AUDIT_LINE_BYTES,
} from "./audit-entry.js";

/** Why a chain is broken (docs/audit-log.md, section 7; docs/errors.md, "audit log"). */
export type AuditChainCode =
  | AuditLineProblem
  | "empty-log"
  | "entry-too-long"
  | "torn-tail"
  | "sequence-gap"
  | "prev-mismatch"
  | "bad-first-entry"
  | "misplaced-log-opened"
  | "rejected-entry"
  | "bad-seal"
  | "bad-checkpoint";

export interface AuditChainHead {
  seq: number;
  hash: string;
}

export type AuditChainReport =
  | {
      ok: true;
      /** Number of entries, all verified. */
      entries: number;
      head: AuditChainHead;
      /** The log id from the log-opened entry. */
      logId: string;
      /** How many log-recovered entries the chain holds (torn tails set aside after crashes). */
      recoveries: number;
    }
  | {
      ok: false;
      code: AuditChainCode;
      /** The sequence number expected at the broken position (entriesVerified + 1). */
      seq: number;
      /** 1-based line number of the broken entry. */
      line: number;
      message: string;
      /** Entries before the broken one, all verified. */
      entriesVerified: number;
      /** The last verified entry, when there is one. */
      head?: AuditChainHead;
      logId?: string;
    };

export interface VerifyAuditLogOptions {
  /**
   * Called with each entry once it is verified, in order, so that a caller
   * (the auditor's reconciliation, checkpoint and seal checks) can look at
   * every entry in the same streaming pass. Returning a string stops the
   * verification and reports it as the message of a `rejected-entry`;
   * returning a code and message (`bad-seal`) reports that instead.
   */
  onEntry?: (entry: AuditEntry, line: number) => string | { code: AuditChainCode; message: string } | undefined;
}

/** Bytes read per read(2); memory use is this plus one line, whatever the log size. */
const CHUNK_BYTES = 1024 * 1024;
const LOG_ID_PATTERN = /^[0-9a-f]{32}$/;

type Broken = Extract<AuditChainReport, { ok: false }>;

class ChainState {
  constructor(private readonly onEntry: VerifyAuditLogOptions["onEntry"]) {}

  entries = 0;
  head: AuditChainHead | undefined;
  logId: string | undefined;
  recoveries = 0;

  broken(code: AuditChainCode, message: string): Broken {
    const report: Broken = {
      ok: false,
      code,
      seq: this.entries + 1,
      line: this.entries + 1,
      message,
      entriesVerified: this.entries,
    };
    if (this.head !== undefined) report.head = this.head;
    if (this.logId !== undefined) report.logId = this.logId;
    return report;
  }

  /** Check one line in its place in the chain; undefined if it is good. */
  accept(line: Uint8Array): Broken | undefined {
    const decoded = decodeAuditLine(line);
    if (!decoded.ok) return this.broken(decoded.code, decoded.message);
    const entry = decoded.entry;
    const expected = this.entries + 1;
    if (entry.seq !== expected) {
      return this.broken("sequence-gap", `entry has seq ${entry.seq}, expected ${expected}`);
    }
    const prev = this.head === undefined ? GENESIS_PREV : this.head.hash;
    if (entry.prev !== prev) {
      return this.broken("prev-mismatch", `prev is not the hash of entry ${expected - 1}`);
    }
    const problem = expected === 1 ? this.checkFirstEntry(entry) : this.checkLaterEntry(entry);
    if (problem !== undefined) return problem;
    const rejection = this.onEntry?.(entry, expected);
    if (typeof rejection === "string") return this.broken("rejected-entry", rejection);
    if (rejection !== undefined) return this.broken(rejection.code, rejection.message);
    this.entries = expected;
    this.head = { seq: entry.seq, hash: entry.hash };
    return undefined;
  }

  private checkFirstEntry(entry: AuditEntry): Broken | undefined {
    const { format, logId } = entry.data;
    if (entry.type !== "log-opened" || format !== AUDIT_LOG_FORMAT || typeof logId !== "string") {
      return this.broken("bad-first-entry", `the first entry must be log-opened with format ${AUDIT_LOG_FORMAT}`);
    }
    if (!LOG_ID_PATTERN.test(logId)) return this.broken("bad-first-entry", "logId must be 32 hex digits");
    this.logId = logId;
    return undefined;
  }

  private checkLaterEntry(entry: AuditEntry): Broken | undefined {
    if (entry.type === "log-opened") {
      return this.broken("misplaced-log-opened", "log-opened after the first entry (two logs joined?)");
    }
    if (entry.type === "log-recovered") this.recoveries++;
    return undefined;
  }
}

/**
 * Verify the whole chain of the audit log at `logPath`, streaming: memory
 * stays at one read buffer whatever the log's size. Returns the first broken
 * entry by sequence number, line and code, or the verified head. Reads the
 * file as it is when opened; an append racing with it is not seen. Throws
 * `file-unreadable` only when the file cannot be opened or read.
 */
export function verifyAuditLog(logPath: string, options: VerifyAuditLogOptions = {}): AuditChainReport {
  let fd: number;
  try {
    fd = openSync(logPath, "r");
  } catch (err) {
    throw unreadable(logPath, err);
  }
  try {
    return verifyOpenLog(fd, logPath, new ChainState(options.onEntry));
  } finally {
    closeSync(fd);
  }
}

function unreadable(logPath: string, err: unknown): AirgrantError {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  return new AirgrantError("file-unreadable", `cannot read audit log ${logPath}${errno ? `: ${errno}` : ""}`, {
    cause: err,
  });
}

function verifyOpenLog(fd: number, logPath: string, state: ChainState): AuditChainReport {
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch (err) {
    throw unreadable(logPath, err);
  }
  if (size === 0) return state.broken("empty-log", "the log is empty");
  const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, size));
  let filled = 0; // valid bytes in buf
  let lineStart = 0; // start of the current line in buf
  let scanFrom = 0; // where to look for the next "\n"
  let offset = 0; // file offset of buf[filled]
  for (;;) {
    const newline = buf.indexOf(0x0a, scanFrom);
    if (newline !== -1 && newline < filled) {
      if (newline - lineStart > MAX_AUDIT_LINE_BYTES) return tooLong(state);
      const problem = state.accept(buf.subarray(lineStart, newline));
      if (problem !== undefined) return problem;
      lineStart = newline + 1;
      scanFrom = lineStart;
      continue;
    }
    if (filled - lineStart > MAX_AUDIT_LINE_BYTES) return tooLong(state);
    if (offset >= size) break;
    buf.copyWithin(0, lineStart, filled);
    filled -= lineStart;
    scanFrom = filled;
    lineStart = 0;
    let n: number;
    try {
      n = readSync(fd, buf, filled, Math.min(buf.length - filled, size - offset), offset);
    } catch (err) {
      throw unreadable(logPath, err);
    }
    if (n === 0) break; // The file shrank under us; what we have is all there is.
    filled += n;
    offset += n;
    // Stale bytes past `filled` could hold a "\n"; the check above ignores them.
  }
  if (filled > lineStart) {
    return state.broken("torn-tail", `the last ${filled - lineStart} bytes are not a complete line (a torn append?)`);
  }
  if (state.head === undefined || state.logId === undefined) {
    return state.broken("empty-log", "the log has no entries");
  }
  return { ok: true, entries: state.entries, head: state.head, logId: state.logId, recoveries: state.recoveries };
}

function tooLong(state: ChainState): Broken {
  return state.broken("entry-too-long", `line is over ${MAX_AUDIT_LINE_BYTES} bytes`);
}
