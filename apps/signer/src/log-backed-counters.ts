import { closeSync, constants, ftruncateSync, openSync } from "node:fs";
import {
  AirgrantError,
  type AuditEntry,
  type AuditValue,
  appendAuditEntry,
  readAuditHead,
  sha256,
  toHex,
  verifyAuditLog,
  writeFully,
} from "@airgrant/core";
import { type CounterAdvance, compareOtpCounters, type OtpCounter, type OtpCounterStore } from "@airgrant/yubikey-otp";
import type { SignerHome } from "./signer-home.js";
import { readStateFile } from "./state-file.js";
import type { TokenSession } from "./token-session.js";

/** The format name of otp-counters.json in the signer's home (docs/signer.md, "OTP counters"). */
export const SIGNER_COUNTERS_FORMAT = "airgrant-signer-otp-counters-v1";

/** The audit entry types whose `otpCounter` records an accepted OTP. */
const COUNTER_ENTRY_TYPES = new Set(["grant-issued", "grant-refused"]);

export interface LogHead {
  seq: number;
  hash: string;
}

/** The token's record of each YubiKey's highest accepted counter, which editing the home cannot reach. */
export interface CounterAnchor {
  /** The counter recorded for `publicId`, undefined when none is. */
  read(publicId: string): OtpCounter | undefined;
  /** Records `counter` for `publicId`, durably, before the mint answers. */
  write(publicId: string, counter: OtpCounter): void;
}

/**
 * The label of the token data object holding a YubiKey's counter for one
 * issuer key (docs/signer.md, "OTP counters"): an OTP spent on a grant of
 * that issuer is spent for every home signing with it.
 */
export function counterObjectLabel(issuerKeyId: string, publicId: string): string {
  return `airgrant-otp-counter-${issuerKeyId}-${publicId}`;
}

/**
 * A YubiKey's counter in its token data object: 4 bytes, the usage counter
 * and the session counter, each a big-endian 16-bit integer. Written under
 * the issuer key's label; read as the highest of its objects and those of
 * the keys it replaced (`retiredKeyIds`), so that a rotation (`init
 * --rotate`) leaves the token's record of every OTP spent where it was.
 */
export function tokenCounterAnchor(
  session: TokenSession,
  issuerKeyId: string,
  retiredKeyIds: readonly string[],
): CounterAnchor {
  return {
    read(publicId) {
      let highest: OtpCounter | undefined;
      for (const label of [issuerKeyId, ...retiredKeyIds].map((keyId) => counterObjectLabel(keyId, publicId))) {
        for (const value of session.readDataObjects(label)) {
          if (value.length !== 4) {
            throw new AirgrantError(
              "state-corrupt",
              `the data object "${label}" on token "${session.tokenLabel}" holds ${value.length} bytes, not a 4-byte OTP counter`,
            );
          }
          const view = new DataView(value.buffer, value.byteOffset, 4);
          const counter = { usageCounter: view.getUint16(0), sessionCounter: view.getUint16(2) };
          // Two objects are a replacement a crash cut short: the newer is the higher.
          if (highest === undefined || compareOtpCounters(counter, highest) > 0) highest = counter;
        }
      }
      return highest;
    },
    write(publicId, counter) {
      const value = new Uint8Array(4);
      const view = new DataView(value.buffer);
      view.setUint16(0, counter.usageCounter);
      view.setUint16(2, counter.sessionCounter);
      session.replaceDataObject(counterObjectLabel(issuerKeyId, publicId), value);
    },
  };
}

/**
 * The OTP counters of the signer, kept durable by the signer's audit log and
 * anchored on the token.
 *
 * Every OTP the signer accepts is recorded, with its counter pair, in the
 * `grant-issued` or `grant-refused` entry that the mint appends and fsyncs
 * before it answers; the log is the home's durable record. otp-counters.json
 * is a cache of the highest pair per YubiKey as of one log head (seq and
 * hash), with a SHA-256 of its own content, rewritten in place (`commit`)
 * without an fsync. (Not by rename: on ext4 a rename over an existing file
 * forces the new file's data out first, which costs as much as a flush.)
 * When the cache does not match the log's head or its own checksum (a crash
 * after the append or in the middle of the rewrite, a power loss that lost
 * it, an entry appended by another command) the counters are rebuilt from
 * the whole log, whose chain is verified on the way. A cache ahead of the
 * log, or naming another entry at the log's head, means the log was
 * truncated or replaced: that is refused, never papered over, since
 * forgetting counters re-opens replays.
 *
 * Whoever can write the home can still rewrite both the log and the cache
 * consistently. So each YubiKey's counter is also recorded on the token
 * (`anchor`), after the entry holding it is durable and before the mint
 * answers: the token is never behind an answered mint. An OTP is checked
 * only once the home's counter for its YubiKey is at least the token's; a
 * home behind the token was rolled back or edited (`otp-counter-rollback`).
 * A token behind the home (a crash between the log's flush and the token's
 * write, or a home older than this record) is moved forward by the next
 * accepted OTP.
 *
 * Use under the signer's home lock: load at the start of a mint, commit
 * when its audit entry is appended.
 */
export class LogBackedCounters implements OtpCounterStore {
  readonly #cachePath: string;
  readonly #counters: Map<string, OtpCounter>;
  readonly #anchor: CounterAnchor;
  #pending: { publicId: string; counter: OtpCounter } | undefined;

  private constructor(cachePath: string, counters: Map<string, OtpCounter>, anchor: CounterAnchor) {
    this.#cachePath = cachePath;
    this.#counters = counters;
    this.#anchor = anchor;
  }

  /** The counters as of `head` (undefined: no log yet): the cache when it matches, else the log. */
  static load(cachePath: string, logPath: string, head: LogHead | undefined, anchor: CounterAnchor): LogBackedCounters {
    const cached = readCache(cachePath);
    if (cached !== undefined) {
      if (head !== undefined && cached.logSeq === head.seq && cached.logHash === head.hash) {
        return new LogBackedCounters(cachePath, cached.keys, anchor);
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
    return new LogBackedCounters(cachePath, head === undefined ? new Map() : countersFromLog(logPath), anchor);
  }

  advance(publicId: string, counter: OtpCounter): CounterAdvance {
    const last = this.#counters.get(publicId);
    const onToken = this.#anchor.read(publicId);
    if (onToken !== undefined && (last === undefined || compareOtpCounters(onToken, last) > 0)) {
      throw new AirgrantError(
        "otp-counter-rollback",
        `the token records OTP counter ${formatCounter(onToken)} for YubiKey ${publicId}, but the signer home only ${last === undefined ? "none" : formatCounter(last)}: the home's audit.log or otp-counters.json was rolled back or edited; restore them from a backup`,
      );
    }
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

  /**
   * Records that the log now ends at `entry`, which holds any pending
   * counter: the cache is rewritten as of it, then the pending counter goes
   * on the token. Under the home's lock (a cache written outside it can only
   * be stale or torn, which costs the next process a rebuild from the log,
   * never a replay).
   */
  commit(entry: AuditEntry): void {
    const pending = this.#pending;
    this.#pending = undefined;
    writeCache(this.#cachePath, entry, this.#counters);
    if (pending !== undefined) this.#anchor.write(pending.publicId, pending.counter);
  }
}

function formatCounter(counter: OtpCounter): string {
  return `[${counter.usageCounter},${counter.sessionCounter}]`;
}

/**
 * The one way the signer appends to its log, under the home's lock. With
 * the mint's `counters` (loaded at the head this entry follows), the entry
 * is committed to them; otherwise it records no OTP counter, and a cache
 * that was current before it is moved forward to it, so the next grant need
 * not read the log.
 */
export function appendSignerEntry(
  home: SignerHome,
  type: string,
  data: Record<string, AuditValue>,
  clock: () => Date,
  counters?: LogBackedCounters,
): AuditEntry {
  const before = counters === undefined ? readAuditHead(home.auditLogPath) : undefined;
  const entry = appendAuditEntry(home.auditLogPath, type, data, { clock });
  if (counters !== undefined) {
    counters.commit(entry);
    return entry;
  }
  const cached = before === undefined ? undefined : readCache(home.countersPath);
  if (
    before !== undefined &&
    cached !== undefined &&
    cached.logSeq === before.seq &&
    cached.logHash === before.hash &&
    entry.seq === before.seq + 1
  ) {
    writeCache(home.countersPath, entry, cached.keys);
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
    writeFully(fd, bytes, 0);
    ftruncateSync(fd, bytes.length);
  } catch (err) {
    throw new AirgrantError("state-unwritable", `cannot write ${path}: ${(err as NodeJS.ErrnoException).code}`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
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
