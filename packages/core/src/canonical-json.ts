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
 * Parse `text` and insist that it is the canonical encoding of what it
 * holds, by encoding the value again and comparing: anything else (spaces,
 * reordered or repeated keys, 1.0, escapes written differently) is refused
 * with `code`.
 */
export function parseCanonicalJson(text: string, code: ErrorCode, what: string): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    throw new AirgrantError(code, `${what} is not valid JSON`);
  }
  let canonical: string;
  try {
    canonical = canonicalJson(value, what);
  } catch (err) {
    if (err instanceof CanonicalJsonError || err instanceof RangeError) {
      throw new AirgrantError(code, `${what}: ${err.message}`);
    }
    throw err;
  }
  if (canonical !== text) throw new AirgrantError(code, `${what} is not in canonical JSON form`);
  return value;
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
