import { closeSync, constants, ftruncateSync, openSync, writeSync } from "node:fs";
import {
  AirgrantError,
  type AuditEntry,
  type AuditValue,
  appendAuditEntry,
  readAuditHead,
  sha256,
  toHex,
  verifyAuditLog,
} from "@airgrant/core";
import { type CounterAdvance, compareOtpCounters, type OtpCounter, type OtpCounterStore } from "@airgrant/yubikey-otp";
import { readStateFile } from "./state-file.js";

/** The format name of otp-counters.json in the signer's home (docs/signer.md, "OTP counters"). */
export const SIGNER_COUNTERS_FORMAT = "airgrant-signer-otp-counters-v1";

/** The audit entry types whose `otpCounter` records an accepted OTP. */
const COUNTER_ENTRY_TYPES = new Set(["grant-issued", "grant-refused"]);

export interface LogHead {
  seq: number;
  hash: string;
}

/**
 * The OTP counters of the signer, kept durable by the signer's audit log.
 *
 * Every OTP the signer accepts is recorded, with its counter pair, in the
 * `grant-issued` or `grant-refused` entry that the mint appends and fsyncs
 * before it answers; the log is the durable record. otp-counters.json is a
 * cache of the highest pair per YubiKey as of one log head (seq and hash),
 * with a SHA-256 of its own content, rewritten in place (`save`) without an
 * fsync: one flush per grant instead of three. A long-lived caller keeps the
 * counters in memory between mints and saves them when it likes; the CLI
 * saves after its one mint. (Not by rename: on
 * ext4 a rename over an existing file forces the new file's data out first,
 * which costs as much as the fsync saved.) When the cache does not match the
 * log's head or its own checksum (a crash after the append or in the middle
 * of the rewrite, a power loss that lost it, an entry appended by another
 * command) the counters are rebuilt from the whole log,
 * whose chain is verified on the way. A cache ahead of the log, or naming
 * another entry at the log's head, means the log was truncated or replaced:
 * that is refused, never papered over, since forgetting counters re-opens
 * replays.
 *
 * Use under the signer's home lock: load at the start of a mint, commit
 * after its audit entry is appended.
 */
export class LogBackedCounters implements OtpCounterStore {
  readonly #cachePath: string;
  readonly #counters: Map<string, OtpCounter>;
  #pending: { publicId: string; counter: OtpCounter } | undefined;
  /** The log head these counters are as of; undefined before the log exists. */
  #head: LogHead | undefined;
  /** The cache file is behind #head. */
  #unsaved = false;

  private constructor(cachePath: string, counters: Map<string, OtpCounter>, head: LogHead | undefined) {
    this.#cachePath = cachePath;
    this.#counters = counters;
    this.#head = head;
  }

  /**
   * The counters as of `head` (undefined: no log yet): `previous` when a
   * long-lived caller's counters are still as of that head, else the cache
   * when it matches, else the log.
   */
  static load(
    cachePath: string,
    logPath: string,
    head: LogHead | undefined,
    previous?: LogBackedCounters,
  ): LogBackedCounters {
    if (previous !== undefined && sameHead(previous.#head, head)) {
      previous.#pending = undefined;
      return previous;
    }
    const cached = readCache(cachePath);
    if (cached !== undefined) {
      if (head !== undefined && cached.logSeq === head.seq && cached.logHash === head.hash) {
        return new LogBackedCounters(cachePath, cached.keys, head);
      }
      if (
        head === undefined ||
        cached.logSeq > head.seq ||
        (cached.logSeq === head.seq && cached.logHash !== head.hash)
      ) {
        throw new AirgrantError(
          "state-corrupt",
          `${cachePath} records OTP counters as of audit log entry ${cached.logSeq}, which ${logPath} does not have: the log was truncated or replaced; restore it from a backup`,
        );
      }
    }
    const counters = new LogBackedCounters(cachePath, head === undefined ? new Map() : countersFromLog(logPath), head);
    counters.#unsaved = true;
    return counters;
  }

  advance(publicId: string, counter: OtpCounter): CounterAdvance {
    const last = this.#counters.get(publicId);
    if (last !== undefined && compareOtpCounters(counter, last) <= 0) return { accepted: false, last };
    const copy = { usageCounter: counter.usageCounter, sessionCounter: counter.sessionCounter };
    this.#counters.set(publicId, copy);
    this.#pending = { publicId, counter: copy };
    return { accepted: true };
  }

  lastAccepted(publicId: string): OtpCounter | undefined {
    return this.#counters.get(publicId);
  }

  /** The counter advanced in this mint, to go into its audit entry as `otpCounter`: [usage, session]. */
  pendingCounter(): [number, number] | undefined {
    const pending = this.#pending;
    return pending === undefined ? undefined : [pending.counter.usageCounter, pending.counter.sessionCounter];
  }

  /** Records that the log now ends at `entry`, which holds any pending counter. */
  commit(entry: AuditEntry): void {
    this.#pending = undefined;
    this.#head = { seq: entry.seq, hash: entry.hash };
    this.#unsaved = true;
  }

  /**
   * Rewrites the cache as of the last commit, if it is behind. Call under the
   * home's lock (a cache written outside it can only be stale or torn, which
   * costs the next process a rebuild from the log, never a replay).
   */
  save(): void {
    const head = this.#head;
    if (!this.#unsaved || head === undefined) return;
    this.#unsaved = false;
    writeCache(this.#cachePath, head, this.#counters);
  }
}

/**
 * Appends an entry that records no OTP counter (configuration changes,
 * bundle exports) and, if the counter cache was current before it, moves the
 * cache forward to the new entry, so the next grant need not read the log.
 * Call under the home's lock.
 */
export function appendWithoutCounters(
  cachePath: string,
  logPath: string,
  type: string,
  data: Record<string, AuditValue>,
  clock: () => Date,
): AuditEntry {
  const before = readAuditHead(logPath);
  // Under the home's lock, which every append to the signer log takes.
  const entry = appendAuditEntry(logPath, type, data, { clock, callerHoldsLock: true });
  const cached = before === undefined ? undefined : readCache(cachePath);
  if (
    before !== undefined &&
    cached !== undefined &&
    cached.logSeq === before.seq &&
    cached.logHash === before.hash &&
    entry.seq === before.seq + 1
  ) {
    writeCache(cachePath, entry, cached.keys);
  }
  return entry;
}

/** Rewrites the cache in place (no rename, no fsync: see LogBackedCounters). */
function writeCache(path: string, head: LogHead, counters: Map<string, OtpCounter>): void {
  const keys: Record<string, [number, number]> = {};
  for (const publicId of [...counters.keys()].sort()) {
    const c = counters.get(publicId) as OtpCounter;
    keys[publicId] = [c.usageCounter, c.sessionCounter];
  }
  const body = cacheBody(head.seq, head.hash, keys);
  const bytes = Buffer.from(`${body.slice(0, -1)},"sha256":"${toHex(sha256(Buffer.from(body)))}"}\n`);
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset, offset);
    ftruncateSync(fd, bytes.length);
  } catch (err) {
    throw new AirgrantError("state-unwritable", `cannot write ${path}: ${(err as NodeJS.ErrnoException).code}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function sameHead(a: LogHead | undefined, b: LogHead | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.seq === b.seq && a.hash === b.hash;
}

/** The cache's members but its checksum, in this order, as one JSON object. */
function cacheBody(logSeq: number, logHash: string, keys: Record<string, [number, number]>): string {
  return JSON.stringify({ format: SIGNER_COUNTERS_FORMAT, logSeq, logHash, keys });
}

interface CachedCounters {
  logSeq: number;
  logHash: string;
  keys: Map<string, OtpCounter>;
}

function isCounterPair(value: unknown): value is [number, number] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    value.every((n) => typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffff)
  );
}

/** The cache, or undefined when it is missing or unreadable (then the log is read instead). */
function readCache(path: string): CachedCounters | undefined {
  const text = readStateFile(path);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { format, logSeq, logHash, keys, sha256: check } = value as Record<string, unknown>;
  if (format !== SIGNER_COUNTERS_FORMAT || typeof logSeq !== "number" || typeof logHash !== "string") return undefined;
  if (typeof keys !== "object" || keys === null || Array.isArray(keys)) return undefined;
  // A rewrite torn by a crash fails here and the log is read instead.
  const body = cacheBody(logSeq, logHash, keys as Record<string, [number, number]>);
  if (check !== toHex(sha256(Buffer.from(body))) || text !== `${body.slice(0, -1)},"sha256":"${check}"}\n`) {
    return undefined;
  }
  const counters = new Map<string, OtpCounter>();
  for (const [publicId, pair] of Object.entries(keys)) {
    if (!isCounterPair(pair)) return undefined;
    counters.set(publicId, { usageCounter: pair[0], sessionCounter: pair[1] });
  }
  return { logSeq, logHash, keys: counters };
}

/** The highest accepted counter pair of each YubiKey, from every entry of the verified log. */
function countersFromLog(logPath: string): Map<string, OtpCounter> {
  const counters = new Map<string, OtpCounter>();
  const report = verifyAuditLog(logPath, {
    onEntry(entry) {
      if (!COUNTER_ENTRY_TYPES.has(entry.type)) return undefined;
      const { yubikeyId, otpCounter } = entry.data;
      if (typeof yubikeyId !== "string" || !isCounterPair(otpCounter)) return undefined;
      const counter = { usageCounter: otpCounter[0], sessionCounter: otpCounter[1] };
      const last = counters.get(yubikeyId);
      if (last === undefined || compareOtpCounters(counter, last) > 0) counters.set(yubikeyId, counter);
      return undefined;
    },
  });
  // A torn tail is an append that never completed, so its mint never answered;
  // every entry before it was verified and counted.
  if (!report.ok && report.code !== "torn-tail") {
    throw new AirgrantError(
      "audit-log-corrupt",
      `${logPath} fails verification at entry ${report.seq} (${report.code}: ${report.message}); the OTP counters it records cannot be trusted`,
    );
  }
  return counters;
}
