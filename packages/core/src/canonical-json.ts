import { AirgrantError, type ErrorCode } from "./airgrant-error.js";

/** What canonical JSON holds (docs/canonical-json.md): JSON without floats. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Most arrays and objects nested in one value, the outermost counting as
 * level 0 (docs/canonical-json.md), so that encoding a hostile value cannot
 * exhaust the stack.
 */
export const MAX_JSON_DEPTH = 16;

/**
 * Why a value has no canonical encoding. Each format reports it under its
 * own code: the trust bundle as `invalid-json` or `malformed-bundle`, the
 * audit log as `bad-input` or `non-canonical-entry`.
 */
export class CanonicalJsonError extends Error {}

// String.prototype.isWellFormed is in Node 20 but not in the ES2023 lib we compile against.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

const KEY_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Printable ASCII other than `"` and `\\`: what JSON.stringify leaves as it is. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * The canonical encoding of `value` (docs/canonical-json.md): no
 * whitespace, members sorted by key, keys from a small ASCII alphabet,
 * strings escaped exactly as JSON.stringify does and well-formed UTF-16,
 * numbers only safe integers, at most MAX_JSON_DEPTH levels. Python's
 * json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
 * writes the same text for every value this accepts. `what` names the value
 * in messages ("data" in an audit entry). Throws CanonicalJsonError.
 */
export function canonicalJson(value: unknown, what: string): string {
  return encodeValue(value, 0, what);
}

function encodeValue(value: unknown, depth: number, what: string): string {
  switch (typeof value) {
    case "string":
      return encodeString(value);
    case "number":
      if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
        throw new CanonicalJsonError(
          `numbers must be safe integers, not ${Object.is(value, -0) ? "-0" : String(value)}`,
        );
      }
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (depth >= MAX_JSON_DEPTH) throw new CanonicalJsonError(`${what} nests deeper than ${MAX_JSON_DEPTH}`);
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ",";
          out += encodeValue(value[i], depth + 1, what);
        }
        return `${out}]`;
      }
      return encodeObject(value, depth, what);
    }
    default:
      throw new CanonicalJsonError(`${what} cannot hold a ${typeof value}`);
  }
}

function encodeString(value: string): string {
  // Most strings are ids and names; skipping JSON.stringify for them is a
  // large share of an audit log's verification time, and gives the same bytes.
  if (PLAIN_STRING.test(value)) return `"${value}"`;
  if (!isWellFormed(value)) throw new CanonicalJsonError("a string holds a lone surrogate");
  return JSON.stringify(value);
}

/**
 * Keys already found to match KEY_PATTERN. An audit log uses a few dozen
 * keys over millions of entries, so each is tested once rather than on
 * every entry; the set is bounded, since a hostile log may hold any number.
 */
const checkedKeys = new Set<string>();
const CHECKED_KEYS_LIMIT = 4096;

function checkKey(key: string, what: string): void {
  if (checkedKeys.has(key)) return;
  if (!KEY_PATTERN.test(key)) {
    throw new CanonicalJsonError(`${what} key ${JSON.stringify(key)} is not [A-Za-z0-9_.-]{1,64}`);
  }
  if (checkedKeys.size < CHECKED_KEYS_LIMIT) checkedKeys.add(key);
}

function encodeObject(value: object, depth: number, what: string): string {
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    throw new CanonicalJsonError(`${what} objects must be plain objects`);
  // Keys are ASCII (checked below), so this order is byte order, code-point
  // order and Python's alike. A canonical text's keys come sorted already.
  const keys = Object.keys(value);
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      keys.sort();
      break;
    }
  }
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    checkKey(key, what);
    if (i > 0) out += ",";
    out += `"${key}":${encodeValue((value as Record<string, unknown>)[key], depth + 1, what)}`;
  }
  return `${out}}`;
}

/** canonicalJson for a caller's own value; `invalid-json` when it has no canonical encoding. */
export function encodeCanonicalJson(value: JsonValue): string {
  try {
    return canonicalJson(value, "JSON");
  } catch (err) {
    if (err instanceof CanonicalJsonError) throw new AirgrantError("invalid-json", err.message);
    throw err;
  }
}

/**
 * The value `text` is the canonical encoding of: anything else (spaces,
 * reordered or repeated keys, 1.0, escapes written differently) is refused
 * with `code`, saying why.
 */
export function parseCanonicalJson(text: string, code: ErrorCode, what: string): JsonValue {
  const reader = new CanonicalJsonReader(text);
  try {
    const value = reader.value(0);
    if (reader.at === text.length) return value;
  } catch (err) {
    if (!(err instanceof CanonicalJsonError)) throw err;
  }
  throw new AirgrantError(code, refusalOf(text, what));
}

/** Why a text the reader refused is not canonical JSON: not JSON, a value with no canonical encoding, or another encoding of one. */
function refusalOf(text: string, what: string): string {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    return `${what} is not valid JSON`;
  }
  try {
    canonicalJson(value, what);
  } catch (err) {
    if (err instanceof CanonicalJsonError || err instanceof RangeError) return `${what}: ${err.message}`;
    throw err;
  }
  return `${what} is not in canonical JSON form`;
}

/**
 * A file that holds one canonical JSON value and one newline, in UTF-8 and
 * at most `maxBytes`: its text and value, or `code` with `what` saying why.
 * Trust bundles and pending grants are such files.
 */
export function readCanonicalJsonFile(
  bytes: Uint8Array,
  options: { maxBytes: number; code: ErrorCode; what: string },
): { text: string; value: JsonValue } {
  const { maxBytes, code, what } = options;
  const bad = (message: string) => new AirgrantError(code, `${what}: ${message}`);
  if (bytes.length > maxBytes) throw bad(`larger than ${maxBytes} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw bad("not UTF-8 text");
  }
  if (!text.endsWith("\n")) throw bad("must end with a single newline");
  return { text, value: parseCanonicalJson(text.slice(0, -1), code, what) };
}

/**
 * A copy of a value CanonicalJsonReader read, holding nothing of its text.
 * The reader returns strings as slices of the text, and V8 keeps a sliced
 * text whole for as long as any slice of it lives: whoever keeps values of
 * many texts (the auditor, a record of every grant and use from lines of up
 * to 64 KiB) would hold every text. Slicing a concatenation makes V8 copy
 * it first, so the slice holds only that copy.
 */
export function unsliced<T extends JsonValue>(value: T): T;
export function unsliced(value: JsonValue): JsonValue {
  if (typeof value === "string") return ` ${value}`.slice(1);
  if (Array.isArray(value)) return value.map(unsliced);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([name, member]) => [name, unsliced(member)]));
  }
  return value;
}

/**
 * Reads canonical JSON (docs/canonical-json.md) in one pass over the text,
 * refusing at the first character that the canonical encoding of any value
 * would not have there: a text it reads whole is the canonicalJson of the
 * value it returns, and every other text is refused. Parsing with JSON.parse
 * and encoding again takes three passes and the garbage of a second copy,
 * a third of an audit log's verification (bench/auditor-verify.bench.ts).
 * Throws CanonicalJsonError.
 */
export class CanonicalJsonReader {
  /** Where the next value starts, and after a read, where the one read ended. */
  at = 0;

  constructor(readonly text: string) {}

  /** The value at `at`, a container counted at `depth`; `at` moves past it. */
  value(depth: number): JsonValue {
    const c = this.text.charCodeAt(this.at);
    if (c === 0x22) return this.string();
    if (c === 0x7b) return this.object(depth);
    if (c === 0x5b) return this.array(depth);
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.integer();
    if (this.text.startsWith("true", this.at)) return this.literal(4, true);
    if (this.text.startsWith("false", this.at)) return this.literal(5, false);
    if (this.text.startsWith("null", this.at)) return this.literal(4, null);
    throw this.refused("a value");
  }

  /** `text` from `at` on, or a refusal naming what was expected there. */
  expect(text: string, what: string): void {
    if (!this.text.startsWith(text, this.at)) throw this.refused(what);
    this.at += text.length;
  }

  /**
   * The `length` characters between quotes at `at`, unread: for a member
   * whose own pattern (hex digits, a time) allows no character that a
   * string would escape, checked by the caller against that pattern.
   */
  quoted(length: number): string {
    const text = this.text;
    if (text.charCodeAt(this.at) !== 0x22 || text.charCodeAt(this.at + length + 1) !== 0x22) {
      throw this.refused(`a string of ${length} characters`);
    }
    this.at += length + 2;
    return text.slice(this.at - length - 1, this.at - 1);
  }

  refused(what: string): CanonicalJsonError {
    return new CanonicalJsonError(`${what} was expected at character ${this.at}`);
  }

  private literal<T extends JsonValue>(length: number, value: T): T {
    this.at += length;
    return value;
  }

  /** A safe integer in its shortest decimal form, never -0. */
  private integer(): number {
    const text = this.text;
    const start = this.at;
    let i = start;
    if (text.charCodeAt(i) === 0x2d) i++;
    const first = text.charCodeAt(i);
    if (first === 0x30) i++;
    else if (first >= 0x31 && first <= 0x39) {
      i++;
      for (let c = text.charCodeAt(i); c >= 0x30 && c <= 0x39; c = text.charCodeAt(++i));
    } else {
      throw this.refused("a digit");
    }
    const value = Number(text.slice(start, i));
    if (!Number.isSafeInteger(value) || Object.is(value, -0)) {
      throw new CanonicalJsonError(`numbers must be safe integers, not ${text.slice(start, i)}`);
    }
    this.at = i;
    return value;
  }

  /**
   * A string escaped as JSON.stringify escapes it: `"` and `\` and the
   * control characters only, each in its one form, and well-formed UTF-16.
   */
  string(): string {
    const text = this.text;
    if (text.charCodeAt(this.at) !== 0x22) throw this.refused("a string");
    const start = this.at + 1;
    // Most strings are ids and names: found whole by the next quote, when
    // nothing before it needs a second look. Searching and matching run in
    // native code, which for the host's interpreter-only verifier is most
    // of the difference.
    const close = text.indexOf('"', start);
    if (close >= 0) {
      const plain = text.slice(start, close);
      if (PLAIN_STRING.test(plain)) {
        this.at = close + 1;
        return plain;
      }
    }
    let i = start;
    // Set at the first escape: until then the value is a slice of the text.
    let value: string | undefined;
    let from = start;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === 0x22) break;
      if (c === 0x5c) {
        value = (value ?? "") + text.slice(from, i) + this.escape(i);
        i += text.charCodeAt(i + 1) === 0x75 ? 6 : 2;
        from = i;
      } else if (c >= 0x20 && (c < 0xd800 || c > 0xdfff)) {
        i++;
      } else if (c >= 0xd800 && c <= 0xdbff && text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff) {
        i += 2;
      } else if (c >= 0xd800) {
        throw new CanonicalJsonError("a string holds a lone surrogate");
      } else {
        this.at = i;
        throw this.refused(Number.isNaN(c) ? "a closing quote" : "an escape for a control character");
      }
    }
    this.at = i + 1;
    return value === undefined ? text.slice(start, i) : value + text.slice(from, i);
  }

  /** The character the escape at `i` stands for, if it is the one JSON.stringify writes for it. */
  private escape(i: number): string {
    const e = this.text.charCodeAt(i + 1);
    switch (e) {
      case 0x22:
        return '"';
      case 0x5c:
        return "\\";
      case 0x62:
        return "\b";
      case 0x74:
        return "\t";
      case 0x6e:
        return "\n";
      case 0x66:
        return "\f";
      case 0x72:
        return "\r";
      case 0x75: {
        // \u00XX, lower-case: only for the control characters without a short escape.
        const hex = this.text.slice(i + 2, i + 6);
        const code = /^00[01][0-9a-f]$/.test(hex) ? Number.parseInt(hex, 16) : -1;
        if (code >= 0 && code !== 0x08 && code !== 0x09 && code !== 0x0a && code !== 0x0c && code !== 0x0d) {
          return String.fromCharCode(code);
        }
        break;
      }
    }
    this.at = i;
    throw this.refused("an escape JSON.stringify writes");
  }

  private array(depth: number): JsonValue[] {
    if (depth >= MAX_JSON_DEPTH) throw new CanonicalJsonError(`values nest deeper than ${MAX_JSON_DEPTH}`);
    const items: JsonValue[] = [];
    this.at++;
    if (this.text.charCodeAt(this.at) === 0x5d) {
      this.at++;
      return items;
    }
    for (;;) {
      items.push(this.value(depth + 1));
      const c = this.text.charCodeAt(this.at++);
      if (c === 0x5d) return items;
      if (c !== 0x2c) {
        this.at--;
        throw this.refused("',' or ']'");
      }
    }
  }

  /** Members in ascending key order, so no key twice; keys from [A-Za-z0-9_.-]{1,64}. */
  object(depth: number): { [key: string]: JsonValue } {
    if (depth >= MAX_JSON_DEPTH) throw new CanonicalJsonError(`values nest deeper than ${MAX_JSON_DEPTH}`);
    const members: { [key: string]: JsonValue } = {};
    this.expect("{", "an object");
    if (this.text.charCodeAt(this.at) === 0x7d) {
      this.at++;
      return members;
    }
    let previous = "";
    for (;;) {
      const key = this.key();
      if (key <= previous) throw new CanonicalJsonError(`key ${key} is out of order or repeated`);
      previous = key;
      this.expect(":", "':'");
      const value = this.value(depth + 1);
      // A member named __proto__ is an own member, as JSON.parse makes it, not the object's prototype.
      if (key === "__proto__")
        Object.defineProperty(members, key, { value, writable: true, enumerable: true, configurable: true });
      else members[key] = value;
      const c = this.text.charCodeAt(this.at++);
      if (c === 0x7d) return members;
      if (c !== 0x2c) {
        this.at--;
        throw this.refused("',' or '}'");
      }
    }
  }

  /** A key: no escape can be in one, so it ends at the next quote. */
  private key(): string {
    const text = this.text;
    if (text.charCodeAt(this.at) !== 0x22) throw this.refused("a key");
    const close = text.indexOf('"', this.at + 1);
    const key = close < 0 ? "" : text.slice(this.at + 1, close);
    if (!KEY_PATTERN.test(key)) throw this.refused("a key of [A-Za-z0-9_.-]{1,64}");
    this.at = close + 1;
    return key;
  }
}
