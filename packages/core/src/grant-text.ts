import { AirgrantError } from "./airgrant-error.js";

/**
 * Text form of a grant (docs/grant-format.md, "Text form").
 *
 * Crockford's base32 alphabet: digits and upper-case letters without I, L, O
 * and U, so nothing read aloud or typed is ambiguous; on input O reads as 0 and
 * I and L read as 1. Symbols are grouped seven data symbols and one check
 * symbol a group, separated by dashes.
 */
export const GRANT_TEXT_PREFIX = "AG1";
export const GRANT_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
export const DATA_SYMBOLS_PER_GROUP = 7;

/** Longest text accepted before any decoding work; four signatures fit well within it. */
export const MAX_GRANT_TEXT_LENGTH = 4096;

const SYMBOL_VALUE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < GRANT_ALPHABET.length; i++) {
    const upper = GRANT_ALPHABET.charCodeAt(i);
    table[upper] = i;
    table[String.fromCharCode(upper).toLowerCase().charCodeAt(0)] = i;
  }
  for (const [alias, value] of [
    ["O", 0],
    ["o", 0],
    ["I", 1],
    ["i", 1],
    ["L", 1],
    ["l", 1],
  ] as const) {
    table[alias.charCodeAt(0)] = value;
  }
  return table;
})();

/** The value of a typed character (Crockford: any case, O as 0, I and L as 1), or -1 when it is no symbol. */
export function symbolValue(code: number): number {
  return code < 128 ? (SYMBOL_VALUE[code] as number) : -1;
}

// GF(32) with the primitive polynomial x^5 + x^2 + 1; alpha = x = 2.
const GF_EXP = new Uint8Array(62);
const GF_LOG = new Uint8Array(32);
{
  let x = 1;
  for (let i = 0; i < 31; i++) {
    GF_EXP[i] = x;
    GF_EXP[i + 31] = x;
    GF_LOG[x] = i;
    x <<= 1;
    if (x & 0x20) x ^= 0x25;
  }
}

function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return GF_EXP[(GF_LOG[a] as number) + (GF_LOG[b] as number)] as number;
}

/**
 * The check symbol of a group: (group index mod 32) + sum of alpha^(i+1) * d_i
 * in GF(32). The weights are distinct, non-zero and not 1 (the check symbol's
 * own weight), so any single wrong symbol and any swap of two different symbols
 * within a group changes the sum; the group index catches swapped groups.
 */
export function groupCheckSymbol(groupIndex: number, data: ArrayLike<number>): number {
  let sum = groupIndex & 31;
  for (let i = 0; i < data.length; i++) {
    sum ^= gfMul(GF_EXP[i + 1] as number, data[i] as number);
  }
  return sum;
}

const ALPHABET_CODES = Uint8Array.from(GRANT_ALPHABET, (c) => c.charCodeAt(0));

/** Encode grant bytes as its text form: `AG1-XXXXXXXX-…`, upper case. */
export function encodeGrantText(bytes: Uint8Array): string {
  // One pass into one buffer: 5-bit symbols out of the bytes, each group's
  // check summed as its symbols go by (a mint encodes a grant every time).
  const symbols = Math.ceil((bytes.length * 8) / 5);
  const groups = Math.ceil(symbols / DATA_SYMBOLS_PER_GROUP);
  const out = Buffer.allocUnsafe(GRANT_TEXT_PREFIX.length + symbols + 2 * groups);
  let at = out.write(GRANT_TEXT_PREFIX, "latin1");
  let buffer = 0;
  let bits = 0;
  let inGroup = 0;
  let group = 0;
  let check = 0;
  const emit = (symbol: number): void => {
    if (inGroup === 0) {
      out[at++] = 0x2d;
      check = group & 31;
    }
    out[at++] = ALPHABET_CODES[symbol] as number;
    check ^= gfMul(GF_EXP[inGroup + 1] as number, symbol);
    if (++inGroup === DATA_SYMBOLS_PER_GROUP) {
      out[at++] = ALPHABET_CODES[check] as number;
      inGroup = 0;
      group++;
    }
  };
  for (let i = 0; i < bytes.length; i++) {
    buffer = ((buffer << 8) | (bytes[i] as number)) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      emit((buffer >>> bits) & 31);
    }
  }
  if (bits > 0) emit((buffer << (5 - bits)) & 31);
  if (inGroup > 0) out[at++] = ALPHABET_CODES[check] as number;
  return out.toString("latin1", 0, at);
}

export function isIgnorable(code: number): boolean {
  // Grouping dashes and any ASCII whitespace a person or a scanner may add.
  return code === 0x2d || code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

function checkPrefix(seen: string): void {
  if (seen.replace(/[OIL]/g, (c) => (c === "O" ? "0" : "1")) === GRANT_TEXT_PREFIX) return;
  if (/^AG[0-9]$/.test(seen)) {
    throw new AirgrantError(
      "unsupported-version",
      `grant text version ${seen.slice(2)} is not supported (expected ${GRANT_TEXT_PREFIX})`,
    );
  }
  throw new AirgrantError("malformed-grant", `not an airgrant grant: it should start with ${GRANT_TEXT_PREFIX}-`);
}

/**
 * Decode a grant's text form to its bytes. Case-insensitive; dashes and
 * whitespace are ignored. A typo is reported as `bad-checksum` naming the
 * first group whose check fails; text that is not a grant at all is
 * `malformed-grant`.
 */
export function decodeGrantText(text: string): Uint8Array {
  if (text.length > MAX_GRANT_TEXT_LENGTH) {
    throw new AirgrantError(
      "malformed-grant",
      `grant text is ${text.length} characters, more than ${MAX_GRANT_TEXT_LENGTH}`,
    );
  }
  const symbols: number[] = [];
  let prefixSeen = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isIgnorable(code)) continue;
    if (prefixSeen.length < GRANT_TEXT_PREFIX.length) {
      // Byte-wise, ASCII letters only: toUpperCase() makes 'ß' "SS" and 'ı' "I" (read as 1).
      prefixSeen += String.fromCharCode(code >= 0x61 && code <= 0x7a ? code - 0x20 : code);
      if (prefixSeen.length === GRANT_TEXT_PREFIX.length) checkPrefix(prefixSeen);
      continue;
    }
    const value = symbolValue(code);
    if (value < 0) {
      const shown = code >= 0x21 && code < 0x7f ? `'${text[i]}'` : `byte 0x${code.toString(16)}`;
      throw new AirgrantError(
        "bad-checksum",
        `${shown} at character ${i + 1} is not a grant character (group ${Math.floor(symbols.length / (DATA_SYMBOLS_PER_GROUP + 1)) + 1})`,
      );
    }
    symbols.push(value);
  }
  if (prefixSeen.length < GRANT_TEXT_PREFIX.length) checkPrefix(prefixSeen);
  const groupSize = DATA_SYMBOLS_PER_GROUP + 1;
  const groupCount = Math.ceil(symbols.length / groupSize);
  if (groupCount === 0 || symbols.length % groupSize === 1) {
    throw new AirgrantError("malformed-grant", "grant text is truncated: its last group has no data");
  }
  const data: number[] = [];
  for (let g = 0; g < groupCount; g++) {
    const group = symbols.slice(g * groupSize, (g + 1) * groupSize);
    const check = group.pop() as number;
    if (groupCheckSymbol(g, group) !== check) {
      const first = g * groupSize + 1;
      throw new AirgrantError(
        "bad-checksum",
        `typo in group ${g + 1} of ${groupCount} (grant characters ${first}-${first + group.length}): check it against the original`,
      );
    }
    data.push(...group);
  }
  return symbolsToBytes(data);
}

function symbolsToBytes(symbols: number[]): Uint8Array {
  const length = Math.floor((symbols.length * 5) / 8);
  // Canonical: exactly as many symbols as the bytes need, padding bits zero.
  if (Math.ceil((length * 8) / 5) !== symbols.length) {
    throw new AirgrantError("malformed-grant", "grant text has a symbol count that no grant encodes to");
  }
  const bytes = new Uint8Array(length);
  let buffer = 0;
  let bits = 0;
  let out = 0;
  for (const symbol of symbols) {
    buffer = ((buffer << 5) | symbol) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[out++] = (buffer >>> bits) & 0xff;
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) {
    throw new AirgrantError("malformed-grant", "grant text has non-zero padding bits");
  }
  return bytes;
}
