import { AirgrantError, type ErrorCode } from "./airgrant-error.js";

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * Canonical JSON (docs/trust-bundle.md, "Canonical JSON"): no whitespace,
 * object members sorted by key, strings escaped as JSON.stringify does,
 * numbers only as safe integers. One value has exactly one encoding, so a
 * decoder can insist on it and a hash of the bytes is a hash of the meaning.
 */
export function encodeCanonicalJson(value: JsonValue): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new AirgrantError("invalid-json", `canonical JSON holds only safe integers, not ${value}`);
    }
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(encodeCanonicalJson).join(",")}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${encodeCanonicalJson(value[k] as JsonValue)}`).join(",")}}`;
}

/**
 * Parse `text` and insist that it is the canonical encoding of what it holds:
 * anything else (spaces, reordered keys, 1.0, escapes written differently)
 * is refused with `code`.
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
    canonical = encodeCanonicalJson(value);
  } catch (err) {
    throw new AirgrantError(code, `${what}: ${(err as Error).message}`);
  }
  if (canonical !== text) throw new AirgrantError(code, `${what} is not in canonical JSON form`);
  return value;
}
