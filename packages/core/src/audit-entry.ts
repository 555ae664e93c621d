import { AirgrantError } from "./airgrant-error.js";
import { CanonicalJsonError, CanonicalJsonReader, canonicalJson, type JsonValue, unsliced } from "./canonical-json.js";
import { daysFromCivil } from "./iso-seconds.js";
import { sha256Hex } from "./sha256.js";

/**
 * One audit log entry (docs/audit-log.md, section 2). `hash` is the SHA-256 of
 * the entry's line without its hash member; `prev` is the previous entry's
 * `hash`, 64 zeros for the first entry.
 */
export interface AuditEntry {
  seq: number;
  /** ISO-8601 UTC with milliseconds, as Date.prototype.toISOString writes it. */
  time: string;
  type: string;
  data: Record<string, AuditValue>;
  prev: string;
  hash: string;
}

/** What an entry's data may hold: canonical JSON (docs/canonical-json.md). */
export type AuditValue = JsonValue;

/** The format name recorded in every log's first entry. */
export const AUDIT_LOG_FORMAT = "airgrant-audit-log/1";

/** Longest line, in bytes without its "\n" (docs/audit-log.md, section 1). */
export const MAX_AUDIT_LINE_BYTES = 65_536;

/** `prev` of the first entry. */
export const GENESIS_PREV = "0".repeat(64);

/** The tail every line ends with: `,"hash":"` + 64 hex + `"}`. */
export const HASH_SUFFIX_BYTES = 75;

const TYPE_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;
/** 1 at the code of each lower-case hex digit. */
const HEX_DIGIT = new Uint8Array(128);
for (const digit of "0123456789abcdef") HEX_DIGIT[digit.charCodeAt(0)] = 1;

/**
 * Whether `s` is 64 lower-case hex digits, the form of every hash and seal
 * tag in a log. A table rather than a regular expression: a chain
 * verification tests two or three of these per entry, and the expression
 * costs three times as much.
 */
export function isHex64(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    if (HEX_DIGIT[s.charCodeAt(i)] !== 1) return false;
  }
  return true;
}

/** Why a line is not a valid entry on its own (before chaining). */
export type AuditLineProblem = "malformed-entry" | "non-canonical-entry" | "hash-mismatch";

export type DecodedAuditLine = { ok: true; entry: AuditEntry } | { ok: false; code: AuditLineProblem; message: string };

/** What an entry's envelope (seq, time, type, prev) cannot be; its data's faults are CanonicalJsonErrors. */
class AuditEncodingError extends Error {}

/**
 * The line of an entry up to and excluding its hash member:
 * `{"seq":N,"time":"…","type":"…","data":{…},"prev":"<hex>"`. The hashed bytes
 * are this followed by `}`; the line is this followed by `,"hash":"<hex>"}`.
 */
function encodeEntryBody(seq: number, time: string, type: string, data: unknown, prev: string): string {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new AuditEncodingError(`seq must be a positive safe integer`);
  if (typeof time !== "string" || !isCanonicalTime(time)) {
    throw new AuditEncodingError("time must be ISO-8601 UTC with milliseconds");
  }
  if (typeof type !== "string" || !TYPE_PATTERN.test(type)) {
    throw new AuditEncodingError("type must match [a-z][a-z0-9-]{0,63}");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new AuditEncodingError("data must be an object");
  }
  if (typeof prev !== "string" || !isHex64(prev)) throw new AuditEncodingError("prev must be 64 hex digits");
  return `{"seq":${seq},"time":"${time}","type":"${type}","data":${canonicalJson(data, "data")},"prev":"${prev}"`;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The decimal number of `count` ASCII digits at `at`, or -1 if any is not a digit. */
function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * `YYYY-MM-DDTHH:MM:SS.mmmZ` naming a real instant, years 0001 to 9999: what
 * toISOString writes for those years, and what Python's datetime can hold.
 * Checked character by character because Date.parse, and even a regular
 * expression with captures, costs a good share of a chain verification.
 */
function isCanonicalTime(time: string): boolean {
  if (
    time.length !== 24 ||
    time[4] !== "-" ||
    time[7] !== "-" ||
    time[10] !== "T" ||
    time[13] !== ":" ||
    time[16] !== ":" ||
    time[19] !== "." ||
    time[23] !== "Z" ||
    digitsAt(time, 20, 3) < 0
  ) {
    return false;
  }
  const year = digitsAt(time, 0, 4);
  const month = digitsAt(time, 5, 2);
  const day = digitsAt(time, 8, 2);
  const hour = digitsAt(time, 11, 2);
  const minute = digitsAt(time, 14, 2);
  const second = digitsAt(time, 17, 2);
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 1 : 0;
  return (
    year >= 1 &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= (DAYS_IN_MONTH[month - 1] ?? 0) + leap &&
    hour >= 0 &&
    hour < 24 &&
    minute >= 0 &&
    minute < 60 &&
    second >= 0 &&
    second < 60
  );
}

/**
 * The whole seconds since 1970 of an entry's time, which the encoder and
 * the decoder have found canonical (isCanonicalTime): what
 * Math.floor(Date.parse(time) / 1000) gives, by arithmetic on its digits,
 * as the seal check dates every entry and Date.parse costs it four times as
 * much.
 */
export function entryTimeSeconds(time: string): number {
  const days = daysFromCivil(digitsAt(time, 0, 4), digitsAt(time, 5, 2), digitsAt(time, 8, 2));
  return days * 86_400 + digitsAt(time, 11, 2) * 3600 + digitsAt(time, 14, 2) * 60 + digitsAt(time, 17, 2);
}

/**
 * The hashed bytes of an entry are its body and a closing brace. They are
 * put together here, reused for every entry, so that hashing a line
 * allocates nothing: that copy and its garbage were half the cost of the
 * hash in a chain verification.
 */
const hashScratch = Buffer.allocUnsafe(MAX_AUDIT_LINE_BYTES);

/** The hash of the entry whose body is the first `bodyLength` bytes of hashScratch (the brace goes after them). */
function hashScratchedBody(bodyLength: number): string {
  hashScratch[bodyLength] = 0x7d;
  // A plain view: Buffer's subarray runs JavaScript of its own, on every entry.
  return sha256Hex(new Uint8Array(hashScratch.buffer, hashScratch.byteOffset, bodyLength + 1));
}

/** The hash of the entry whose line is `line`, from its bytes (section 4); `line` is at least HASH_SUFFIX_BYTES long. */
function hashLine(line: Uint8Array): string {
  const bodyLength = line.length - HASH_SUFFIX_BYTES;
  hashScratch.set(line.subarray(0, bodyLength));
  return hashScratchedBody(bodyLength);
}

/**
 * The hash the entry whose line is `line` would have with the bytes
 * `[from, to)` of its body cut out: section 4's hash over the line as
 * received, less those bytes. The seal check hashes an entry without its
 * `seal` member this way (audit-seal.ts) rather than encoding it again.
 */
export function hashLineWithout(line: Uint8Array, from: number, to: number): string {
  const bodyEnd = line.length - HASH_SUFFIX_BYTES;
  hashScratch.set(line.subarray(0, from));
  hashScratch.set(line.subarray(to, bodyEnd), from);
  return hashScratchedBody(from + bodyEnd - to);
}

/**
 * Build an entry and its line (without the final "\n"). Throws `bad-input`
 * for anything the format cannot hold, including a line over the limit.
 */
export function encodeAuditEntry(
  seq: number,
  time: string,
  type: string,
  data: Record<string, AuditValue>,
  prev: string,
): { entry: AuditEntry; line: Buffer } {
  const { entry, record } = encodeAuditRecord(seq, time, type, data, prev);
  return { entry, line: record.subarray(0, record.length - 1) };
}

/**
 * encodeAuditEntry's entry and its line with the final "\n", as one buffer
 * ready for the log's single write. The body is written straight into the
 * hashing buffer, so that an append copies it once.
 */
export function encodeAuditRecord(
  seq: number,
  time: string,
  type: string,
  data: Record<string, AuditValue>,
  prev: string,
): { entry: AuditEntry; record: Buffer } {
  let body: string;
  try {
    body = encodeEntryBody(seq, time, type, data, prev);
  } catch (err) {
    if (err instanceof AuditEncodingError || err instanceof CanonicalJsonError) {
      throw new AirgrantError("bad-input", `audit entry: ${err.message}`);
    }
    throw err;
  }
  // write() stops where the buffer ends; any body it cut short is over the
  // limit too, since the limit leaves more room than one character takes.
  const bodyLength = hashScratch.write(body, 0, "utf8");
  const length = bodyLength + HASH_SUFFIX_BYTES;
  if (length > MAX_AUDIT_LINE_BYTES) {
    const whole = Buffer.byteLength(body) + HASH_SUFFIX_BYTES;
    throw new AirgrantError("bad-input", `audit entry is ${whole} bytes, over the ${MAX_AUDIT_LINE_BYTES} limit`);
  }
  const hash = hashScratchedBody(bodyLength);
  const record = Buffer.allocUnsafe(length + 1);
  hashScratch.copy(record, 0, 0, bodyLength);
  record.write(`,"hash":"${hash}"}\n`, bodyLength, "latin1");
  return { entry: { seq, time, type, data, prev, hash }, record };
}

/** Check that `data` is encodable (the same rules as encodeAuditEntry) and return its encoded length. */
export function measureAuditData(data: Record<string, AuditValue>): number {
  try {
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new AuditEncodingError("data must be an object");
    }
    return Buffer.byteLength(canonicalJson(data, "data"), "utf8");
  } catch (err) {
    if (err instanceof AuditEncodingError || err instanceof CanonicalJsonError) {
      throw new AirgrantError("bad-input", `audit entry: ${err.message}`);
    }
    throw err;
  }
}

/** Decodes and validates in one pass; a BOM is kept, to be refused as not JSON. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Decode one line (without its "\n") and check it on its own: JSON, the
 * member set, the canonical encoding byte for byte, and that `hash` is the
 * SHA-256 of the received bytes with the hash member cut off. Chaining
 * (seq, prev) is the caller's job. Never throws on any input.
 */
export function decodeAuditLine(line: Uint8Array): DecodedAuditLine {
  if (line.length > MAX_AUDIT_LINE_BYTES) {
    return { ok: false, code: "malformed-entry", message: `line is over ${MAX_AUDIT_LINE_BYTES} bytes` };
  }
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { ok: false, code: "non-canonical-entry", message: "line is not valid UTF-8" };
  }
  const entry = readCanonicalLine(text);
  if (entry === undefined) return refusalOf(line, text);
  if (hashLine(line) !== entry.hash) {
    return { ok: false, code: "hash-mismatch", message: "hash does not match the entry's bytes" };
  }
  return { ok: true, entry };
}

/**
 * The entry of a line in the one layout a canonical line has (section 2),
 * read in one pass; undefined when any character differs from it.
 */
function readCanonicalLine(text: string): AuditEntry | undefined {
  const reader = new CanonicalJsonReader(text);
  try {
    reader.expect('{"seq":', "the seq member");
    const seq = reader.value(0);
    reader.expect(',"time":', "the time member");
    const time = reader.quoted(24);
    reader.expect(',"type":', "the type member");
    const type = reader.string();
    reader.expect(',"data":', "the data member");
    const data = reader.object(0);
    reader.expect(',"prev":', "the prev member");
    const prev = reader.quoted(64);
    reader.expect(',"hash":', "the hash member");
    const hash = reader.quoted(64);
    if (
      typeof seq !== "number" ||
      seq < 1 ||
      !isCanonicalTime(time) ||
      !TYPE_PATTERN.test(type) ||
      !isHex64(prev) ||
      !isHex64(hash) ||
      reader.at !== text.length - 1 ||
      text.charCodeAt(reader.at) !== 0x7d
    ) {
      return undefined;
    }
    // The time is what a reader keeps of most entries it keeps (a finding's, a session's).
    return { seq, time: unsliced(time), type, data, prev, hash };
  } catch (err) {
    if (err instanceof CanonicalJsonError) return undefined;
    throw err;
  }
}

/**
 * Why a line readCanonicalLine could not read is refused, in the order of
 * docs/audit-log.md, section 7: not JSON, members missing, a malformed
 * hash, then what of the canonical form it breaks.
 */
function refusalOf(line: Uint8Array, text: string): DecodedAuditLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { ok: false, code: "malformed-entry", message: "line is not JSON" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { ok: false, code: "malformed-entry", message: "line is not a JSON object" };
  }
  const { seq, time, type, data, prev, hash } = parsed as Record<string, unknown>;
  if (
    typeof seq !== "number" ||
    typeof time !== "string" ||
    typeof type !== "string" ||
    typeof data !== "object" ||
    data === null ||
    Array.isArray(data) ||
    typeof prev !== "string" ||
    typeof hash !== "string"
  ) {
    return { ok: false, code: "malformed-entry", message: "entry lacks seq, time, type, data, prev or hash" };
  }
  // A hash that matches the line's bytes is 64 hex digits; only one that
  // does not is tested, as finding it malformed comes before the other checks.
  const received = line.length >= HASH_SUFFIX_BYTES ? hashLine(line) : undefined;
  if (received !== hash && !isHex64(hash)) {
    return { ok: false, code: "malformed-entry", message: "hash is not 64 hex digits" };
  }
  try {
    encodeEntryBody(seq, time, type, data, prev);
  } catch (err) {
    if (err instanceof AuditEncodingError || err instanceof CanonicalJsonError || err instanceof RangeError) {
      return { ok: false, code: "non-canonical-entry", message: err.message };
    }
    throw err;
  }
  // What it holds can be encoded, but not as this text: readCanonicalLine
  // reads every line that is the canonical text of what it holds
  // (canonical-json.test.ts holds the two to that).
  return { ok: false, code: "non-canonical-entry", message: "entry is not in canonical form" };
}
