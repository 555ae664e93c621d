import { createHmac } from "node:crypto";
import { AirgrantError } from "./airgrant-error.js";
import { type AuditEntry, type AuditValue, encodeAuditEntry } from "./audit-entry.js";
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
const TAG_LABEL = "airgrant seal v1\u0000";

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
 * The tag of an entry: HMAC-SHA256 under its epoch's key of
 * "airgrant seal v1\0" ‖ the hash the entry has without its `seal` member,
 * as lower-case hex. It covers the entry's own content and, through `prev`,
 * everything before it.
 */
export function sealTag(key: Uint8Array, unsealedHash: string): string {
  return createHmac("sha256", key).update(TAG_LABEL).update(unsealedHash).digest("hex");
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

  constructor(private readonly receipt: SealReceipt) {
    this.key = receipt.key;
  }

  /**
   * `line`: the entry's line as read, when the caller has it; the hash
   * without the seal is then cut from its bytes instead of encoded again.
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
    const dated = sealEpochAt(this.receipt.start, this.receipt.epochSeconds, Math.floor(Date.parse(entry.time) / 1000));
    if (dated !== epoch) return `entry ${entry.seq} is dated in epoch ${dated} but sealed in epoch ${epoch}`;
    if (epoch > this.epoch || this.epochStartSeq === 0) this.epochStartSeq = entry.seq;
    while (this.epoch < epoch) {
      this.key = evolveSealKey(this.key);
      this.epoch++;
    }
    // Only a seal of exactly these two members has the bytes unsealedHash looks for.
    const exact = Object.keys(seal).length === 2 ? line : undefined;
    if (sealTag(this.key, unsealedHash(entry, epoch, tag, exact)) !== tag)
      return `entry ${entry.seq}'s seal does not verify: it was changed after it was sealed`;
    this.lastSealedSeq = entry.seq;
    return undefined;
  }
}

/** The last bytes of every line: `,"hash":"<64 hex>"}` (docs/audit-log.md, section 4). */
const HASH_MEMBER_BYTES = 75;
const TAG_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The hash `entry` would have without its `seal` member. From its canonical
 * line, when given: the line with that member (and one comma) cut out and
 * its hash member cut off, hashed as section 4 says, as encoding the entry
 * again without the seal would give, at a fraction of the cost. Where the
 * member's bytes are not found exactly once (a nested copy of it, a tag that
 * is not hex), it is encoded again.
 */
function unsealedHash(entry: AuditEntry, epoch: number, tag: string, line: Uint8Array | undefined): string {
  if (line !== undefined && TAG_PATTERN.test(tag)) {
    const bytes = Buffer.from(line.buffer, line.byteOffset, line.byteLength);
    const member = `"seal":{"epoch":${epoch},"tag":"${tag}"}`;
    const at = bytes.indexOf(member, 0, "latin1");
    if (at > 0 && bytes.indexOf(member, at + 1, "latin1") === -1) {
      const end = at + member.length;
      // The member's own comma: the one before it, or for a first member the one after it.
      const [cutFrom, cutTo] = bytes[at - 1] === 0x2c ? [at - 1, end] : bytes[end] === 0x2c ? [at, end + 1] : [at, end];
      const bodyEnd = bytes.length - HASH_MEMBER_BYTES;
      if (cutTo <= bodyEnd) {
        return sha256Hex(Buffer.concat([bytes.subarray(0, cutFrom), bytes.subarray(cutTo, bodyEnd), CLOSING_BRACE]));
      }
    }
  }
  const { seal: _, ...unsealedData } = entry.data;
  return encodeAuditEntry(entry.seq, entry.time, entry.type, unsealedData, entry.prev).entry.hash;
}

const CLOSING_BRACE = Buffer.from("}");
