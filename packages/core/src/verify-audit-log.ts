import { closeSync, existsSync, fstatSync, openSync, readSync } from "node:fs";
import type { Worker } from "node:worker_threads";
import { AirgrantError } from "./airgrant-error.js";
import {
  AUDIT_LOG_FORMAT,
  type AuditEntry,
  type AuditLineProblem,
  decodeAuditLine,
  GENESIS_PREV,
  MAX_AUDIT_LINE_BYTES,
} from "./audit-entry.js";
import { logIdOf } from "./audit-log.js";

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
  | "bad-checkpoint"
  | "bad-checkpoint-signature"
  | "rewritten"
  | "truncated";

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
   * returning a code and message (`bad-seal`) reports that instead. `bytes`
   * is the entry's line as read, valid only during the call.
   */
  onEntry?: (
    entry: AuditEntry,
    line: number,
    bytes: Uint8Array,
  ) => string | { code: AuditChainCode; message: string } | undefined;
  /**
   * Called once every entry has verified, with the log's head. A code and
   * message returned report the log broken just past its last entry: the
   * auditor's `truncated`, for a log that ends before an entry an earlier
   * audit saw in it.
   */
  onEnd?: (head: AuditChainHead) => { code: AuditChainCode; message: string } | undefined;
}

/** Bytes read per read(2); memory use is this plus one line, whatever the log size. */
const CHUNK_BYTES = 1024 * 1024;
const LOG_ID_PATTERN = /^[0-9a-f]{32}$/;

type Broken = Extract<AuditChainReport, { ok: false }>;

class ChainState {
  /**
   * A floating state checks a range that starts mid-log: its first line's
   * seq and prev are taken as given (the caller stitches them to the range
   * before), and line numbers count from the range's start.
   */
  constructor(
    private readonly onEntry: VerifyAuditLogOptions["onEntry"],
    private readonly floating = false,
  ) {}

  entries = 0;
  head: AuditChainHead | undefined;
  logId: string | undefined;
  recoveries = 0;
  /** Seq of the entry before the range (0 from the log's start). */
  base = 0;
  /** A floating range's first entry, to stitch to the range before it. */
  first: { seq: number; prev: string } | undefined;

  broken(code: AuditChainCode, message: string): Broken {
    const report: Broken = {
      ok: false,
      code,
      seq: this.base + this.entries + 1,
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
    if (this.floating && this.first === undefined) {
      this.first = { seq: entry.seq, prev: entry.prev };
      this.base = entry.seq - 1;
    }
    const expected = this.base + this.entries + 1;
    if (entry.seq !== expected) {
      return this.broken("sequence-gap", `entry has seq ${entry.seq}, expected ${expected}`);
    }
    const prev = this.head?.hash ?? this.first?.prev ?? GENESIS_PREV;
    if (entry.prev !== prev) {
      return this.broken("prev-mismatch", `prev is not the hash of entry ${expected - 1}`);
    }
    const problem = expected === 1 && !this.floating ? this.checkFirstEntry(entry) : this.checkLaterEntry(entry);
    if (problem !== undefined) return problem;
    const rejection = this.onEntry?.(entry, expected, line);
    if (typeof rejection === "string") return this.broken("rejected-entry", rejection);
    if (rejection !== undefined) return this.broken(rejection.code, rejection.message);
    this.entries++;
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
  return withOpenLog(logPath, (fd) => {
    if (options.onEntry === undefined && options.onEnd === undefined) {
      const parallel = verifyInTwoHalves(fd, logPath);
      if (parallel !== undefined) return parallel.report;
    }
    return verifyOpenLog(fd, logPath, new ChainState(options.onEntry), undefined, options.onEnd);
  });
}

/** `fn` on the log at `logPath` opened for reading; `file-unreadable` if it cannot be. */
function withOpenLog<T>(logPath: string, fn: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(logPath, "r");
  } catch (err) {
    throw unreadable(logPath, err);
  }
  try {
    return fn(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * A per-entry check that can run on one half of a large log in a worker:
 * the auditor's seals, checkpoints and earlier heads. It sees the entries
 * of its range in order; one for a second half starts mid-log, told the
 * log's id.
 */
export interface RangeCheck<S> {
  /** As verifyAuditLog's `onEntry` (`line` counts from the range's start). */
  onEntry(entry: AuditEntry, line: number, bytes: Uint8Array): { code: AuditChainCode; message: string } | undefined;
  /** What it found, as plain data: it crosses threads as JSON. */
  summary(): S;
}

/** Where a RangeCheck starts: at the log's start, or mid-log in the log with this id. */
export type RangeStart = { logId: string } | undefined;

/** A problem a SplitCheck's join finds, at an entry of the second half. */
export interface JoinProblem {
  seq: number;
  code: AuditChainCode;
  message: string;
  /** The entry before it. */
  head: AuditChainHead;
}

/**
 * A RangeCheck that verifyAuditLogChecked can split across two workers.
 * Each worker imports `module` and calls its `createRangeCheck(args, start)`;
 * `args` must survive structured cloning. `join` then puts the halves'
 * summaries together and checks what spans the boundary.
 */
export interface SplitCheck<S> {
  module: URL;
  args: unknown;
  /** The check for a log verified in one pass, in this thread. */
  local: RangeCheck<S>;
  join(first: S, second: S): { summary: S; problem?: JoinProblem };
  /** After the last entry of an intact chain, with what the check found: as verifyAuditLog's `onEnd`. */
  onEnd?(summary: S, head: AuditChainHead): { code: AuditChainCode; message: string } | undefined;
}

/**
 * verifyAuditLog with a check on every entry that, unlike `onEntry`, keeps
 * a large log on two cores (each half's check in its worker) with the same
 * verdict one pass would give. Returns the report and the check's summary.
 */
export function verifyAuditLogChecked<S>(
  logPath: string,
  check: SplitCheck<S>,
): { report: AuditChainReport; summary: S } {
  return withOpenLog(logPath, (fd) => {
    const parallel = verifyInTwoHalves(fd, logPath, check as SplitCheck<unknown>);
    if (parallel !== undefined) return parallel as { report: AuditChainReport; summary: S };
    const local = check.local;
    const onEnd = (head: AuditChainHead) => check.onEnd?.(local.summary(), head);
    const state = new ChainState((entry, line, bytes) => local.onEntry(entry, line, bytes));
    return { report: verifyOpenLog(fd, logPath, state, undefined, onEnd), summary: local.summary() };
  });
}

/** What a worker reports for its half: a floating range's verdict, relative to its start. */
export interface RangeReport {
  broken?: { code: AuditChainCode; line: number; message: string };
  entries: number;
  first?: { seq: number; prev: string };
  head?: AuditChainHead;
  recoveries: number;
}

/** A half's report with its check's summary, when it ran one. */
type HalfResult<R> = R & { summary?: unknown };

/**
 * One half of a two-core verification, in its worker: the first half from
 * the log's start (a full report, as one pass over `[0, end)` gives), or the
 * second as a floating range (its verdict relative to its start). With a
 * check, each verified entry goes through it too, and its summary comes back.
 */
export function verifyLogHalf(
  logPath: string,
  half: { start: 0; end: number } | { start: number; end: number; floating: true },
  check?: RangeCheck<unknown>,
): HalfResult<AuditChainReport> | HalfResult<RangeReport> {
  const onEntry =
    check === undefined
      ? undefined
      : (entry: AuditEntry, line: number, bytes: Uint8Array) => check.onEntry(entry, line, bytes);
  const fd = openSync(logPath, "r");
  try {
    if (!("floating" in half)) {
      const report: HalfResult<AuditChainReport> = verifyOpenLog(fd, logPath, new ChainState(onEntry), half.end);
      if (check !== undefined) report.summary = check.summary();
      return report;
    }
    const state = new ChainState(onEntry, true);
    const problem = verifyLines(fd, logPath, state, half.start, half.end);
    const report: HalfResult<RangeReport> = { entries: state.entries, recoveries: state.recoveries };
    if (state.first !== undefined) report.first = state.first;
    if (state.head !== undefined) report.head = state.head;
    if (problem !== undefined) report.broken = { code: problem.code, line: problem.line, message: problem.message };
    if (check !== undefined) report.summary = check.summary();
    return report;
  } finally {
    closeSync(fd);
  }
}

/** Below this a worker's start-up costs more than it saves. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024;
const WORKER_URL = new URL("./verify-audit-log-worker.js", import.meta.url);
const RESULT_BYTES = 1024 * 1024;
const WORKER_START_MS = 5000;
/**
 * Each line leaves a few short-lived objects. With V8's default young
 * generation (tens of MB per thread) a verification's resident memory grew
 * with the log (180 MB for 1 GB); a small one keeps it flat at about 90 MB
 * and is no slower, the scavenges being cheap when nearly all is garbage.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

/** What a worker needs to run a SplitCheck on its half. */
export interface HalfCheckData {
  /** The module's URL, as text. */
  module: string;
  args: unknown;
  start: RangeStart;
}

/** A worker verifying one half, answering through shared memory since the caller waits synchronously. */
class HalfWorker {
  readonly #signal: Int32Array;
  readonly #shared: SharedArrayBuffer;
  readonly #worker: Worker;

  constructor(logPath: string, half: Parameters<typeof verifyLogHalf>[1], check?: HalfCheckData) {
    this.#shared = new SharedArrayBuffer(8 + RESULT_BYTES);
    this.#signal = new Int32Array(this.#shared, 0, 2);
    // Loaded here, not at start: the host's executable is a snapshot of what
    // the verifier loads at start, and every login pays for its size
    // (scripts/build-sea.mjs); a whole log is read only by an install.
    const { Worker: Thread } = process.getBuiltinModule("node:worker_threads");
    // No inherited flags: an --input-type or -e of the parent is not the worker's.
    this.#worker = new Thread(WORKER_URL, {
      workerData: { logPath, half, shared: this.#shared, check },
      execArgv: [],
      resourceLimits: WORKER_LIMITS,
    });
    this.#worker.unref();
  }

  /**
   * Its report, or undefined when it never started (no threads to be had:
   * a few seconds lost, then a sequential pass) or failed.
   */
  result(): HalfResult<AuditChainReport> | HalfResult<RangeReport> | undefined {
    const signal = this.#signal;
    const startedBy = Date.now() + WORKER_START_MS;
    while (Atomics.load(signal, 0) === 0 && Date.now() < startedBy) Atomics.wait(signal, 0, 0, 100);
    if (Atomics.load(signal, 0) === 0) {
      this.stop();
      return undefined;
    }
    while (Atomics.load(signal, 0) !== 2) Atomics.wait(signal, 0, Atomics.load(signal, 0), 1000);
    try {
      const result = JSON.parse(new TextDecoder().decode(new Uint8Array(this.#shared, 8, signal[1]))) as
        | HalfResult<AuditChainReport>
        | HalfResult<RangeReport>
        | { failed: string };
      return "failed" in result ? undefined : result;
    } catch {
      return undefined;
    }
  }

  stop(): void {
    void this.#worker.terminate();
  }
}

/**
 * A large log's chain, verified on two cores: one worker checks the first
 * half from the log's start, another the second half as a floating range;
 * the halves are then stitched (the second's first entry must follow the
 * first's last). With a check, each worker runs it on its half and `join`
 * checks what spans the boundary. This thread only waits, so its heap stays
 * small. The verdict is the same as one pass would give, first broken entry
 * and all. Undefined when the log is small or no worker can be had.
 */
function verifyInTwoHalves(
  fd: number,
  logPath: string,
  check?: SplitCheck<unknown>,
): { report: AuditChainReport; summary?: unknown } | undefined {
  let size: number;
  try {
    size = fstatSync(fd).size;
  } catch {
    return undefined;
  }
  if (size < PARALLEL_MIN_BYTES || !existsSync(WORKER_URL)) return undefined;
  if (check !== undefined && !existsSync(check.module)) return undefined;
  const mid = lineBoundaryAfter(fd, Math.floor(size / 2), size);
  if (mid === undefined) return undefined;
  const checkData = (start: RangeStart): HalfCheckData | undefined =>
    check === undefined ? undefined : { module: check.module.href, args: check.args, start };
  const firstWorker = new HalfWorker(logPath, { start: 0, end: mid }, checkData(undefined));
  // A broken first line leaves "": the first half reports it, and the second's verdict is not used.
  const secondWorker = new HalfWorker(
    logPath,
    { start: mid, end: size, floating: true },
    checkData({ logId: logIdOf(fd) ?? "" }),
  );
  const firstHalf = firstWorker.result() as HalfResult<AuditChainReport> | undefined;
  if (firstHalf === undefined || !firstHalf.ok) {
    secondWorker.stop();
    return firstHalf === undefined ? undefined : split(firstHalf);
  }
  const second = secondWorker.result() as HalfResult<RangeReport> | undefined;
  if (second === undefined) return undefined;
  const n = firstHalf.entries;
  const done = split(firstHalf);
  const at = (code: AuditChainCode, seq: number, message: string, head?: AuditChainHead) => {
    const report: Broken = {
      ok: false,
      code,
      seq,
      line: seq,
      message,
      entriesVerified: seq - 1,
      logId: firstHalf.logId,
      head: head ?? firstHalf.head,
    };
    return { report, summary: done.summary };
  };
  if (second.first === undefined) {
    return at(
      second.broken?.code ?? "malformed-entry",
      n + 1,
      second.broken?.message ?? "no entry after the first half",
    );
  }
  if (second.first.seq !== n + 1)
    return at("sequence-gap", n + 1, `entry has seq ${second.first.seq}, expected ${n + 1}`);
  if (second.first.prev !== firstHalf.head.hash)
    return at("prev-mismatch", n + 1, `prev is not the hash of entry ${n}`);
  const joined = check?.join(done.summary, second.summary);
  const summary = joined?.summary;
  const problem = joined?.problem;
  const brokenSeq = second.broken === undefined ? undefined : n + second.broken.line;
  if (problem !== undefined && (brokenSeq === undefined || problem.seq <= brokenSeq)) {
    return { ...at(problem.code, problem.seq, problem.message, problem.head), summary };
  }
  if (second.broken !== undefined && brokenSeq !== undefined) {
    return { ...at(second.broken.code, brokenSeq, second.broken.message, second.head), summary };
  }
  if (second.head === undefined) return undefined;
  const ending = check?.onEnd?.(summary, second.head);
  if (ending !== undefined) {
    return { ...at(ending.code, second.head.seq + 1, ending.message, second.head), summary };
  }
  return {
    report: {
      ok: true,
      entries: n + second.entries,
      head: second.head,
      logId: firstHalf.logId,
      recoveries: firstHalf.recoveries + second.recoveries,
    },
    summary,
  };
}

/** A half's report and its check's summary, apart. */
function split(result: HalfResult<AuditChainReport>): { report: AuditChainReport; summary?: unknown } {
  const { summary, ...report } = result;
  return { report, summary };
}

/** The offset just after the first "\n" at or after `from`, or undefined when there is none before `size`. */
function lineBoundaryAfter(fd: number, from: number, size: number): number | undefined {
  const buf = Buffer.allocUnsafe(MAX_AUDIT_LINE_BYTES + 1);
  const n = readSync(fd, buf, 0, Math.min(buf.length, size - from), from);
  const newline = buf.subarray(0, n).indexOf(0x0a);
  return newline < 0 || from + newline + 1 >= size ? undefined : from + newline + 1;
}

function unreadable(logPath: string, err: unknown): AirgrantError {
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  return new AirgrantError("file-unreadable", `cannot read audit log ${logPath}${errno ? `: ${errno}` : ""}`, {
    cause: err,
  });
}

/** Lines of `[start, end)` through `state`; `end` undefined is the file's end. */
function verifyLines(fd: number, logPath: string, state: ChainState, start = 0, end?: number): Broken | undefined {
  let size: number;
  try {
    size = end ?? fstatSync(fd).size;
  } catch (err) {
    throw unreadable(logPath, err);
  }
  if (size === 0) return state.broken("empty-log", "the log is empty");
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(CHUNK_BYTES, size - start)));
  let filled = 0; // valid bytes in buf
  let lineStart = 0; // start of the current line in buf
  let scanFrom = 0; // where to look for the next "\n"
  let offset = start; // file offset of buf[filled]
  for (;;) {
    const newline = buf.indexOf(0x0a, scanFrom);
    if (newline !== -1 && newline < filled) {
      if (newline - lineStart > MAX_AUDIT_LINE_BYTES) return tooLong(state);
      // A plain view, not a Buffer: Buffer's subarray runs JavaScript of its own, and the line's
      // own views (its hashed body, the seal's cut) are then plain too.
      const problem = state.accept(new Uint8Array(buf.buffer, buf.byteOffset + lineStart, newline - lineStart));
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
  return undefined;
}

function verifyOpenLog(
  fd: number,
  logPath: string,
  state: ChainState,
  end?: number,
  onEnd?: VerifyAuditLogOptions["onEnd"],
): AuditChainReport {
  const problem = verifyLines(fd, logPath, state, 0, end);
  if (problem !== undefined) return problem;
  if (state.head === undefined || state.logId === undefined) {
    return state.broken("empty-log", "the log has no entries");
  }
  const ending = onEnd?.(state.head);
  if (ending !== undefined) return state.broken(ending.code, ending.message);
  return { ok: true, entries: state.entries, head: state.head, logId: state.logId, recoveries: state.recoveries };
}

function tooLong(state: ChainState): Broken {
  return state.broken("entry-too-long", `line is over ${MAX_AUDIT_LINE_BYTES} bytes`);
}
