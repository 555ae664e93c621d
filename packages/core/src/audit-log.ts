import { randomBytes as nodeRandomBytes } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  lstatSync,
  openSync,
  readSync,
  type Stats,
} from "node:fs";
import { basename } from "node:path";
import { AirgrantError } from "./airgrant-error.js";
import {
  AUDIT_LOG_FORMAT,
  type AuditEntry,
  type AuditValue,
  decodeAuditLine,
  encodeAuditEntry,
  encodeAuditRecord,
  GENESIS_PREV,
  MAX_AUDIT_LINE_BYTES,
  measureAuditData,
} from "./audit-entry.js";
import { writeFileAtomic, writeFully } from "./durable-file.js";
import { type HeldFileLock, withFileLock } from "./file-lock.js";
import { isoTime } from "./iso-seconds.js";
import { sha256 } from "./sha256.js";

export type { AuditEntry, AuditValue } from "./audit-entry.js";

export interface AppendAuditEntryOptions {
  /** The clock that stamps the entry (default: the system clock). */
  clock?: () => Date;
  /** Source of the log id when this append creates the log (default: node:crypto). */
  randomBytes?: (length: number) => Uint8Array;
  /** How long to wait for other appenders (default 10 s). */
  lockTimeoutMs?: number;
  /**
   * Members to add to the entry's data that depend on where it lands: called
   * under the log's lock with the entry as it would be without them, so that
   * a seal over it (docs/audit-log.md, "Sealing") cannot race another appender.
   */
  seal?: (unsealed: AuditEntry) => Record<string, AuditValue>;
}

/** The type of every log's first entry, carrying the log id. */
export const LOG_OPENED_TYPE = "log-opened";
/** The type of the entry that records a torn tail that was set aside. */
export const LOG_RECOVERED_TYPE = "log-recovered";

/**
 * The least room an entry needs besides its data and type: the members, a
 * one-digit seq, the time and two hashes. Checked before taking the lock so
 * that data that can never fit is refused without touching the log; the
 * exact length is checked when the line is built.
 */
const ENTRY_OVERHEAD_BYTES = '{"seq":,"time":"","type":"","data":,"prev":"","hash":""}'.length + 1 + 24 + 64 + 64;

/** The first read of the tail; enough for several typical entries (about 400 bytes each). */
const FIRST_TAIL_WINDOW = 4 * 1024;

/**
 * The most bytes that can follow the last good entry and still be taken for
 * one torn append: a single write of at most one line and its "\n". Anything
 * longer was not written by an append and is refused, not recovered.
 */
const MAX_TORN_BYTES = MAX_AUDIT_LINE_BYTES + 1;

/** Enough to hold the longest torn tail and the longest good line before it. */
const MAX_TAIL_WINDOW = MAX_TORN_BYTES + MAX_AUDIT_LINE_BYTES + 1;

interface LogTail {
  head: AuditEntry;
  /** Offset just past the "\n" of the head's line. */
  goodEnd: number;
  size: number;
  /** The file's inode when this was read. */
  ino: number;
}

function corrupt(logPath: string, message: string): AirgrantError {
  return new AirgrantError("audit-log-corrupt", `${logPath}: ${message}; run the chain verifier on it`);
}

function unwritable(logPath: string, err: unknown): AirgrantError {
  if (err instanceof AirgrantError) return err;
  const errno = (err as NodeJS.ErrnoException | undefined)?.code;
  return new AirgrantError("audit-unwritable", `cannot write audit log ${logPath}${errno ? `: ${errno}` : ""}`, {
    cause: err,
  });
}

function readAt(fd: number, start: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * Find the last line that is a valid entry on its own, reading only the end
 * of the file. Whatever follows it is a torn tail, provided it is no longer
 * than one append could have written (docs/audit-log.md, section 6).
 */
function readTail(fd: number, logPath: string): LogTail {
  const { size, ino } = fstatSync(fd);
  if (size === 0) throw corrupt(logPath, "the log is empty (it has no log-opened entry)");
  let window = Math.min(size, FIRST_TAIL_WINDOW);
  for (;;) {
    const start = size - window;
    const buf = readAt(fd, start, window);
    let end = buf.lastIndexOf(0x0a);
    while (end !== -1) {
      const goodEnd = start + end + 1;
      if (size - goodEnd > MAX_TORN_BYTES) {
        throw corrupt(logPath, `the last ${size - goodEnd} bytes are not entries and too long to be a torn append`);
      }
      const lineStart = end === 0 ? 0 : buf.lastIndexOf(0x0a, end - 1) + 1;
      if (lineStart === 0 && start > 0) break; // The line may begin before the window.
      const decoded = decodeAuditLine(buf.subarray(lineStart, end));
      if (decoded.ok) return { head: decoded.entry, goodEnd, size, ino };
      end = lineStart === 0 ? -1 : lineStart - 1;
    }
    if (start === 0) throw corrupt(logPath, "no valid entry found");
    if (window >= MAX_TAIL_WINDOW) {
      throw corrupt(logPath, `the last ${size - start} bytes hold no valid entry`);
    }
    window = Math.min(size, window * 4, MAX_TAIL_WINDOW);
  }
}

/**
 * Set a torn tail aside and chain a log-recovered entry in its place
 * (docs/audit-log.md, section 6). The order makes every crash point safe:
 * the torn bytes are copied to a durable sidecar first; the recovery line
 * then overwrites the start of the torn bytes and is fsynced; only then is
 * the file cut to end after it. A crash before the cut leaves the recovery
 * entry followed by a shorter torn tail, which the next append recovers in
 * turn; the torn bytes are never gone from the disk before the log says so.
 */
function recoverTornTail(logPath: string, tail: LogTail, time: string): AuditEntry {
  // Its own descriptor without O_APPEND: Linux pwrite on an O_APPEND
  // descriptor ignores the offset and appends.
  const fd = openSync(logPath, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    return recoverTornTailOn(fd, logPath, tail, time);
  } finally {
    closeSync(fd);
  }
}

function recoverTornTailOn(fd: number, logPath: string, tail: LogTail, time: string): AuditEntry {
  const torn = readAt(fd, tail.goodEnd, tail.size - tail.goodEnd);
  const tornSha256 = Buffer.from(sha256(torn)).toString("hex");
  const seq = tail.head.seq + 1;
  const sidecarPath = `${logPath}.torn-${seq}-${tornSha256.slice(0, 16)}`;
  writeFileAtomic(sidecarPath, torn);
  const { entry, record } = encodeAuditRecord(
    seq,
    time,
    LOG_RECOVERED_TYPE,
    { tornBytes: torn.length, tornSha256, sidecar: basename(sidecarPath) },
    tail.head.hash,
  );
  writeFully(fd, record, tail.goodEnd);
  fsyncSync(fd);
  ftruncateSync(fd, tail.goodEnd + record.length);
  fsyncSync(fd);
  return entry;
}

function createLog(logPath: string, time: string, random: (length: number) => Uint8Array): void {
  const logId = Buffer.from(random(16)).toString("hex");
  if (!/^[0-9a-f]{32}$/.test(logId)) throw new AirgrantError("internal", "randomBytes(16) did not give 16 bytes");
  const { record } = encodeAuditRecord(1, time, LOG_OPENED_TYPE, { format: AUDIT_LOG_FORMAT, logId }, GENESIS_PREV);
  // Write-temp, fsync, rename, fsync-directory: the log appears whole, with
  // its first entry, or not at all.
  writeFileAtomic(logPath, record);
}

function openForAppend(logPath: string): number | undefined {
  try {
    // No O_CREAT: a missing log is created whole by createLog, never empty.
    // No symbolic link: a link put in the log's place must not redirect our writes.
    return openSync(logPath, constants.O_RDWR | constants.O_APPEND | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw unwritable(logPath, err);
  }
}

function stampTime(clock: () => Date): string {
  const date = clock();
  if (!(date instanceof Date) || Number.isNaN(date.getTime()))
    throw new AirgrantError("bad-input", "clock gave an invalid date");
  return isoTime(date.getTime());
}

/** Refuses, before the log is touched, data that can never fit and the types only the log writes. */
function checkAppendable(type: string, data: Record<string, AuditValue>): void {
  if (measureAuditData(data) + ENTRY_OVERHEAD_BYTES + type.length > MAX_AUDIT_LINE_BYTES) {
    throw new AirgrantError("bad-input", `audit entry data is too large for one ${MAX_AUDIT_LINE_BYTES}-byte line`);
  }
  checkType(type);
}

function checkType(type: string): void {
  if (type === LOG_OPENED_TYPE || type === LOG_RECOVERED_TYPE) {
    throw new AirgrantError("bad-input", `${type} entries are written by the log itself`);
  }
}

/**
 * Append one entry to the hash-chained log at `logPath` and return it, durably:
 * it is on disk (fsynced) when this returns. Creates the log (0600, with its
 * log-opened entry) if it does not exist. Appenders in several processes
 * serialise under `logPath + ".lock"`. A torn tail left by a crash is set
 * aside and recorded as a log-recovered entry before this entry.
 *
 * Throws `bad-input` for data the format cannot hold, `audit-log-corrupt`
 * when the end of the log is not a valid entry and cannot be a torn append,
 * `audit-unwritable` or `lock-timeout` for the environment.
 */
export function appendAuditEntry(
  logPath: string,
  type: string,
  data: Record<string, AuditValue>,
  options: AppendAuditEntryOptions = {},
): AuditEntry {
  const clock = options.clock ?? (() => new Date());
  const random = options.randomBytes ?? ((length: number) => new Uint8Array(nodeRandomBytes(length)));
  checkAppendable(type, data);
  const lockOptions = options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs };
  const append = (lock: HeldFileLock): AuditEntry => {
    const fd = openOrCreate(logPath, clock, random);
    try {
      return appendOn(fd, logPath, readTail(fd, logPath), type, data, clock, options.seal, lock);
    } catch (err) {
      throw unwritable(logPath, err);
    } finally {
      closeSync(fd);
    }
  };
  return withFileLock(`${logPath}.lock`, (lock) => append(lock), lockOptions);
}

function openOrCreate(logPath: string, clock: () => Date, random: (length: number) => Uint8Array): number {
  let fd = openForAppend(logPath);
  if (fd === undefined) {
    createLog(logPath, stampTime(clock), random);
    fd = openForAppend(logPath);
    if (fd === undefined) throw unwritable(logPath, undefined);
  }
  return fd;
}

/**
 * Throws unless the log is still as `tail` says and its lock still names
 * us: the last check before bytes are written, so that an
 * append never lands on a head other than the one it chained to (a lock
 * removed by hand while we were held up, a log replaced or written by
 * someone who skipped the lock). Nothing is written when it throws.
 */
function assertTailCurrent(fd: number, logPath: string, tail: LogTail, lock: HeldFileLock): void {
  if (!lock.stillHeld()) {
    throw new AirgrantError(
      "audit-unwritable",
      `${logPath}: the log's lock was removed while this process held it; nothing was written`,
    );
  }
  const open = fstatSync(fd);
  let named: Stats | undefined;
  try {
    named = lstatSync(logPath);
  } catch {
    named = undefined;
  }
  if (named === undefined || named.ino !== open.ino || named.dev !== open.dev || open.size !== tail.size) {
    throw new AirgrantError(
      "audit-unwritable",
      `${logPath} changed since its last entry was read (replaced, or written without the lock); nothing was written`,
    );
  }
}

/** Append after `tail`, the log's end as just read through `fd`, recovering a torn tail first. */
function appendOn(
  fd: number,
  logPath: string,
  tail: LogTail,
  type: string,
  data: Record<string, AuditValue>,
  clock: () => Date,
  sealOf: AppendAuditEntryOptions["seal"],
  lock: HeldFileLock,
): AuditEntry {
  let head = tail.head;
  const torn = tail.goodEnd < tail.size;
  if (torn) {
    assertTailCurrent(fd, logPath, tail, lock);
    head = recoverTornTail(logPath, tail, stampTime(clock));
  }
  const time = stampTime(clock);
  const seal = sealOf?.(encodeAuditEntry(head.seq + 1, time, type, data, head.hash).entry);
  const { entry, record } = encodeAuditRecord(
    head.seq + 1,
    time,
    type,
    seal === undefined ? data : { ...data, ...seal },
    head.hash,
  );
  if (!torn) assertTailCurrent(fd, logPath, tail, lock);
  // One write on an O_APPEND descriptor: a crash leaves at most this
  // line torn, which the next append recovers.
  writeFully(fd, record);
  fsyncSync(fd);
  return entry;
}

/**
 * The last valid entry, read from the end of the file without a lock;
 * undefined when the log does not exist. A torn tail is skipped (the next
 * append will record it). Throws `audit-log-corrupt` when the end of the
 * file holds no valid entry.
 */
export function readAuditHeadEntry(logPath: string): AuditEntry | undefined {
  let fd: number;
  try {
    fd = openSync(logPath, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new AirgrantError(
      "file-unreadable",
      `cannot read audit log ${logPath}: ${(err as NodeJS.ErrnoException).code}`,
      {
        cause: err,
      },
    );
  }
  try {
    return readTail(fd, logPath).head;
  } finally {
    closeSync(fd);
  }
}

/** The sequence number and hash of readAuditHeadEntry's entry. */
export function readAuditHead(logPath: string): { seq: number; hash: string } | undefined {
  const head = readAuditHeadEntry(logPath);
  return head === undefined ? undefined : { seq: head.seq, hash: head.hash };
}

/** The log id from a log's first entry (log-opened), reading no more than that line. */
export function readAuditLogId(logPath: string): string {
  let fd: number;
  try {
    fd = openSync(logPath, "r");
  } catch (err) {
    throw new AirgrantError(
      "file-unreadable",
      `cannot read audit log ${logPath}: ${(err as NodeJS.ErrnoException).code}`,
    );
  }
  let logId: string | undefined;
  try {
    logId = logIdOf(fd);
  } finally {
    closeSync(fd);
  }
  if (logId === undefined) throw corrupt(logPath, "its first line is not a log-opened entry");
  return logId;
}

/** The log id in the first line of the open log `fd`, or undefined when that line is not a log-opened entry. */
export function logIdOf(fd: number): string | undefined {
  const first = readAt(fd, 0, MAX_AUDIT_LINE_BYTES + 1);
  const end = first.indexOf(0x0a);
  const decoded = decodeAuditLine(first.subarray(0, end < 0 ? first.length : end));
  const logId = decoded.ok && decoded.entry.type === LOG_OPENED_TYPE ? decoded.entry.data.logId : undefined;
  return typeof logId === "string" ? logId : undefined;
}
