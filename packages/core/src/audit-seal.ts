import { AirgrantError } from "./airgrant-error.js";
import {
  type AuditEntry,
  type AuditValue,
  encodeAuditEntry,
  entryTimeSeconds,
  HASH_SUFFIX_BYTES,
  hashLineWithout,
  isHex64,
} from "./audit-entry.js";
import { fromHex, toHex } from "./hex.js";
import { sha256, sha256Hex } from "./sha256.js";

/**
 * Forward-secure sealing of a host's audit log (docs/audit-log.md,
 * "Sealing"), after Schneier and Kelsey and journald's FSS: a MAC key that
 * moves one way, SHA-256 of itself, at the start of every epoch, the old one
 * erased. The auditor holds the first key (the install receipt) and can
 * derive every later one; root on the host later holds only the current key
 * and cannot re-seal entries of earlier epochs.
 */

export const SEAL_RECEIPT_FORMAT = "airgrant-seal-receipt-v1";
export const DEFAULT_SEAL_EPOCH_SECONDS = 900;
const EVOLVE_LABEL = new TextEncoder().encode("airgrant seal evolve v1\u0000");
const TAG_LABEL = new TextEncoder().encode("airgrant seal v1\u0000");
/** SHA-256's block size, which HMAC pads its key to (RFC 2104). */
const HMAC_BLOCK_BYTES = 64;

/** The key of the next epoch: SHA-256("airgrant seal evolve v1\0" ‖ key). */
export function evolveSealKey(key: Uint8Array): Uint8Array {
  const input = new Uint8Array(EVOLVE_LABEL.length + key.length);
  input.set(EVOLVE_LABEL);
  input.set(key, EVOLVE_LABEL.length);
  return sha256(input);
}

/** The epoch an instant falls in, counted from the sealing's start. */
export function sealEpochAt(start: number, epochSeconds: number, nowSeconds: number): number {
  return Math.max(0, Math.floor((nowSeconds - start) / epochSeconds));
}

/**
 * Tags entries under one epoch's key: HMAC-SHA256 (RFC 2104) with the key's
 * two padded blocks laid out once, so that a tag is two one-shot SHA-256
 * calls over buffers it reuses. An auditor tags every entry of a log, and
 * createHmac, which sets up the key and its own state on every call, cost
 * twice as much.
 */
class SealTagger {
  /** key ⊕ ipad ‖ label ‖ the unsealed hash's 64 hex digits. */
  readonly #inner = Buffer.alloc(HMAC_BLOCK_BYTES + TAG_LABEL.length + 64);
  /** key ⊕ opad ‖ the inner digest. */
  readonly #outer = Buffer.alloc(HMAC_BLOCK_BYTES + 32);

  constructor(key: Uint8Array) {
    const block = key.length > HMAC_BLOCK_BYTES ? sha256(key) : key;
    for (let i = 0; i < HMAC_BLOCK_BYTES; i++) {
      this.#inner[i] = (block[i] ?? 0) ^ 0x36;
      this.#outer[i] = (block[i] ?? 0) ^ 0x5c;
    }
    this.#inner.set(TAG_LABEL, HMAC_BLOCK_BYTES);
  }

  /** `unsealedHash`: 64 hex digits, as every entry hash is. */
  tag(unsealedHash: string): string {
    this.#inner.write(unsealedHash, HMAC_BLOCK_BYTES + TAG_LABEL.length, "latin1");
    this.#outer.write(sha256Hex(this.#inner), HMAC_BLOCK_BYTES, "hex");
    return sha256Hex(this.#outer);
  }
}

/**
 * The tag of an entry: HMAC-SHA256 under its epoch's key of
 * "airgrant seal v1\0" ‖ the hash the entry has without its `seal` member
 * (64 hex digits), as lower-case hex. It covers the entry's own content and,
 * through `prev`, everything before it.
 */
export function sealTag(key: Uint8Array, unsealedHash: string): string {
  if (!isHex64(unsealedHash)) throw new AirgrantError("bad-input", "a seal tags an entry hash of 64 hex digits");
  return new SealTagger(key).tag(unsealedHash);
}

/** The `seal` member for an entry sealed in `epoch` with that epoch's key. */
export function sealMember(key: Uint8Array, epoch: number, unsealed: AuditEntry): Record<string, AuditValue> {
  return { seal: { epoch, tag: sealTag(key, unsealed.hash) } };
}

/** What the auditor keeps from a host's install: enough to derive every seal key. */
export interface SealReceipt {
  logId: string;
  host: string;
  /** Seconds since the epoch when sealing began; epoch 0 starts here. */
  start: number;
  epochSeconds: number;
  /** The first key, 32 bytes. */
  key: Uint8Array;
  /** Every entry from this one on must be sealed. */
  firstSealedSeq: number;
}

export function encodeSealReceipt(receipt: SealReceipt): string {
  return `${JSON.stringify({
    format: SEAL_RECEIPT_FORMAT,
    logId: receipt.logId,
    host: receipt.host,
    start: receipt.start,
    epochSeconds: receipt.epochSeconds,
    key: toHex(receipt.key),
    firstSealedSeq: receipt.firstSealedSeq,
  })}\n`;
}

export function decodeSealReceipt(text: string): SealReceipt {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new AirgrantError("malformed-receipt", "seal receipt is not JSON");
  }
  const int = (v: unknown, min: number) => typeof v === "number" && Number.isSafeInteger(v) && v >= min;
  if (
    o === null ||
    typeof o !== "object" ||
    o.format !== SEAL_RECEIPT_FORMAT ||
    typeof o.logId !== "string" ||
    !/^[0-9a-f]{32}$/.test(o.logId) ||
    typeof o.host !== "string" ||
    !int(o.start, 0) ||
    !int(o.epochSeconds, 1) ||
    !int(o.firstSealedSeq, 1) ||
    typeof o.key !== "string"
  ) {
    throw new AirgrantError("malformed-receipt", `not a ${SEAL_RECEIPT_FORMAT} file`);
  }
  return {
    logId: o.logId,
    host: o.host,
    start: o.start as number,
    epochSeconds: o.epochSeconds as number,
    key: fromHex(o.key, 32, "malformed-receipt", "seal receipt key"),
    firstSealedSeq: o.firstSealedSeq as number,
  };
}

/** Entries the log writes itself, after a crash or at its birth: never sealed. */
const UNSEALED_TYPES = new Set(["log-opened", "log-recovered"]);

/**
 * Checks seals entry by entry in a verifyAuditLog pass (its onEntry hook),
 * deriving each epoch's key from the receipt's first key. Returns a message
 * for the first entry whose seal is missing, out of order or wrong.
 */
export class SealChecker {
  /** The epoch of the last seal checked. */
  epoch = 0;
  /** The first entry sealed in that epoch: from there on, the host's current key could re-seal. */
  epochStartSeq = 0;
  /** The last entry whose seal verified. */
  lastSealedSeq = 0;
  private key: Uint8Array;
  private tagger: SealTagger;

  constructor(private readonly receipt: SealReceipt) {
    this.key = receipt.key;
    this.tagger = new SealTagger(this.key);
  }

  /**
   * `line`: the entry's line as read and found canonical (verifyAuditLog's
   * `bytes`), when the caller has it; the hash without the seal is then cut
   * from its bytes instead of encoded again.
   */
  check(entry: AuditEntry, line?: Uint8Array): { code: "bad-seal"; message: string } | undefined {
    const message = this.problem(entry, line);
    return message === undefined ? undefined : { code: "bad-seal", message };
  }

  private problem(entry: AuditEntry, line: Uint8Array | undefined): string | undefined {
    if (entry.seq === 1 && entry.type === "log-opened" && entry.data.logId !== this.receipt.logId) {
      return `this log is ${String(entry.data.logId)}, the receipt is for log ${this.receipt.logId}`;
    }
    const seal = entry.data.seal;
    if (seal === undefined) {
      if (entry.seq < this.receipt.firstSealedSeq || UNSEALED_TYPES.has(entry.type)) return undefined;
      return `entry ${entry.seq} is not sealed; every entry from ${this.receipt.firstSealedSeq} on must be`;
    }
    if (typeof seal !== "object" || seal === null || Array.isArray(seal))
      return `entry ${entry.seq} has a malformed seal`;
    const { epoch, tag } = seal as Record<string, AuditValue>;
    if (typeof epoch !== "number" || typeof tag !== "string") return `entry ${entry.seq} has a malformed seal`;
    if (epoch < this.epoch)
      return `entry ${entry.seq} is sealed in epoch ${epoch}, after epoch ${this.epoch}: keys only move forward`;
    if (epoch - this.epoch > 10_000_000) return `entry ${entry.seq} claims an epoch too far ahead`;
    // A seal belongs to the epoch of its entry's time: an entry cannot be
    // back-dated under a later key (docs/audit-log.md, "Sealing").
    const dated = sealEpochAt(this.receipt.start, this.receipt.epochSeconds, entryTimeSeconds(entry.time));
    if (dated !== epoch) return `entry ${entry.seq} is dated in epoch ${dated} but sealed in epoch ${epoch}`;
    if (epoch > this.epoch || this.epochStartSeq === 0) this.epochStartSeq = entry.seq;
    if (this.epoch < epoch) {
      while (this.epoch < epoch) {
        this.key = evolveSealKey(this.key);
        this.epoch++;
      }
      this.tagger = new SealTagger(this.key);
    }
    // Only a seal of exactly these two members has the bytes unsealedHash looks for.
    const exact = Object.keys(seal).length === 2 ? line : undefined;
    if (this.tagger.tag(unsealedHash(entry, epoch, exact)) !== tag)
      return `entry ${entry.seq}'s seal does not verify: it was changed after it was sealed`;
    this.lastSealedSeq = entry.seq;
    return undefined;
  }
}

/** How the seal member starts in a canonical line (docs/audit-log.md, "Sealing"). */
const SEAL_MEMBER_START = Buffer.from('"seal":{"epoch":', "latin1");
/** What follows the epoch's digits in the member: `,"tag":"` + 64 hex digits + `"}`. */
const SEAL_MEMBER_TAIL_BYTES = 74;

/**
 * The hash `entry` would have without its `seal` member. From its canonical
 * line, when given: the line with that member (and one comma) cut out,
 * hashed as section 4 says, as encoding the entry again without the seal
 * would give, at a fraction of the cost. Otherwise, or where the member
 * cannot be told apart from a nested copy, the entry is encoded again.
 */
function unsealedHash(entry: AuditEntry, epoch: number, line: Uint8Array | undefined): string {
  if (line !== undefined) {
    // No string holds the member's start (its quotes would be escaped), and
    // members come sorted: the first place it starts is the seal's own,
    // unless a member before it holds an object or array, which could hold
    // a copy; then it must start only once.
    const bytes = Buffer.from(line.buffer, line.byteOffset, line.byteLength);
    const at = bytes.indexOf(SEAL_MEMBER_START);
    if (at > 0 && (!holdsContainerBefore(entry.data, "seal") || bytes.indexOf(SEAL_MEMBER_START, at + 1) === -1)) {
      // `"seal":{"epoch":E,"tag":"T"}` for a hex tag. A tag that is not hex
      // has other bytes, but never verifies: every tag computed is hex.
      const end = at + SEAL_MEMBER_START.length + String(epoch).length + SEAL_MEMBER_TAIL_BYTES;
      // The member's own comma: the one before it, or for a first member the one after it.
      let cutFrom = at;
      let cutTo = end;
      if (bytes[at - 1] === 0x2c) cutFrom--;
      else if (bytes[end] === 0x2c) cutTo++;
      if (cutTo <= bytes.length - HASH_SUFFIX_BYTES) return hashLineWithout(line, cutFrom, cutTo);
    }
  }
  const { seal: _, ...unsealedData } = entry.data;
  return encodeAuditEntry(entry.seq, entry.time, entry.type, unsealedData, entry.prev).entry.hash;
}

/** Whether a member of `data` that comes before `key` in canonical order holds an object or array. */
function holdsContainerBefore(data: Record<string, AuditValue>, key: string): boolean {
  // A decoded object lists its keys in the order of its canonical text, but
  // for keys of digits only, which come first; these sort first there too.
  for (const k in data) {
    if (k === key) return false;
    const value = data[k];
    if (typeof value === "object" && value !== null) return true;
  }
  return false;
}
