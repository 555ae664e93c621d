import { AirgrantError } from "./airgrant-error.js";
import { GRANT_ALPHABET, groupCheckSymbol, isIgnorable, symbolValue } from "./grant-text.js";
import { sha256 } from "./sha256.js";

/**
 * A host's request code (docs/requests.md): 12 random symbols (60 bits),
 * 2 symbols of the host's name and 1 of the account's, in 3 groups of 5
 * data symbols and 1 check symbol, in the grant text's alphabet and with its
 * check (grant-text.ts). The text is `XXXXXX-XXXXXX-XXXXXX`; a grant bound to
 * the request carries the 18 symbols, without dashes, as its `challenge`.
 */
export const REQUEST_RANDOM_SYMBOLS = 12;
const HOST_SYMBOLS = 2;
const ACCOUNT_SYMBOLS = 1;
const DATA_SYMBOLS = REQUEST_RANDOM_SYMBOLS + HOST_SYMBOLS + ACCOUNT_SYMBOLS;
const GROUP_DATA = 5;
const GROUPS = DATA_SYMBOLS / GROUP_DATA;
/** Symbols of a request code, check symbols included, without dashes: the length of its challenge. */
export const REQUEST_CODE_SYMBOLS = DATA_SYMBOLS + GROUPS;
/** Longest text read as a request code before any decoding work. */
const MAX_REQUEST_TEXT_LENGTH = 64;

export interface RequestCode {
  /** Canonical: 18 upper-case symbols, no dashes. */
  symbols: string;
  /** The symbols of the host's name and the account's, as the code carries them. */
  hostCheck: string;
  accountCheck: string;
}

const utf8 = new TextEncoder();

/** The first `count` symbols (5 bits each) of SHA-256(label NUL name). */
function nameSymbols(label: string, name: string, count: number): string {
  const digest = sha256(utf8.encode(`${label}\0${name}`));
  let bits = 0;
  for (let i = 0; i < 4; i++) bits = bits * 256 + (digest[i] as number);
  let out = "";
  for (let i = 0; i < count; i++) out += GRANT_ALPHABET[Math.floor(bits / 2 ** (27 - 5 * i)) % 32];
  return out;
}

/** The 2 symbols a code made on `host` (lower case) carries. */
export function requestHostCheck(host: string): string {
  return nameSymbols("airgrant-request-host", host, HOST_SYMBOLS);
}

/** The symbol a code made for `account` carries. */
export function requestAccountCheck(account: string): string {
  return nameSymbols("airgrant-request-account", account, ACCOUNT_SYMBOLS);
}

function withChecks(data: number[]): string {
  let out = "";
  for (let g = 0; g < GROUPS; g++) {
    const group = data.slice(g * GROUP_DATA, (g + 1) * GROUP_DATA);
    for (const symbol of group) out += GRANT_ALPHABET[symbol];
    out += GRANT_ALPHABET[groupCheckSymbol(g, group)];
  }
  return out;
}

/**
 * A new code for `account` on `host`: its 60 random bits from `random` (the
 * system's CSPRNG in production), never from anything a caller could know.
 */
export function newRequestCode(host: string, account: string, random: (length: number) => Uint8Array): RequestCode {
  const bytes = random(8);
  if (bytes.length !== 8) throw new AirgrantError("internal", "the random source gave too few bytes");
  const data: number[] = [];
  // 60 bits: the low 4 bits of the last byte are not used.
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5 && data.length < REQUEST_RANDOM_SYMBOLS) {
      bits -= 5;
      data.push((buffer >>> bits) & 31);
    }
  }
  const hostCheck = requestHostCheck(host);
  const accountCheck = requestAccountCheck(account);
  for (const c of hostCheck + accountCheck) data.push(GRANT_ALPHABET.indexOf(c));
  return { symbols: withChecks(data), hostCheck, accountCheck };
}

function badCode(message: string): AirgrantError {
  return new AirgrantError("bad-request-code", message);
}

/**
 * A request code as typed: any case, dashes and whitespace anywhere, O read
 * as 0 and I and L as 1. A typo is `bad-request-code` naming its group.
 */
export function parseRequestCode(text: string): RequestCode {
  if (text.length > MAX_REQUEST_TEXT_LENGTH) throw badCode(`a request code is ${REQUEST_CODE_SYMBOLS} symbols`);
  const symbols: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isIgnorable(code)) continue;
    const value = symbolValue(code);
    if (value < 0) {
      const shown = code >= 0x21 && code < 0x7f ? `'${text[i]}'` : `character 0x${code.toString(16)}`;
      throw badCode(`${shown} is not a request code symbol`);
    }
    symbols.push(value);
  }
  if (symbols.length !== REQUEST_CODE_SYMBOLS) {
    throw badCode(`a request code is ${REQUEST_CODE_SYMBOLS} symbols in 3 groups of 6, not ${symbols.length}`);
  }
  const data: number[] = [];
  for (let g = 0; g < GROUPS; g++) {
    const group = symbols.slice(g * (GROUP_DATA + 1), (g + 1) * (GROUP_DATA + 1));
    const check = group.pop() as number;
    if (groupCheckSymbol(g, group) !== check) {
      throw badCode(`typo in group ${g + 1} of ${GROUPS} of the request code: check it against the host's screen`);
    }
    data.push(...group);
  }
  const names = data.slice(REQUEST_RANDOM_SYMBOLS).map((s) => GRANT_ALPHABET[s]);
  return {
    symbols: withChecks(data),
    hostCheck: names.slice(0, HOST_SYMBOLS).join(""),
    accountCheck: names.slice(HOST_SYMBOLS).join(""),
  };
}

/** The code as shown: `XXXXXX-XXXXXX-XXXXXX`. */
export function formatRequestCode(code: RequestCode): string {
  const size = GROUP_DATA + 1;
  return [0, 1, 2].map((g) => code.symbols.slice(g * size, (g + 1) * size)).join("-");
}

/** The grant's `challenge` for a code: its 18 symbols as ASCII. */
export function requestChallenge(code: RequestCode): Uint8Array {
  return utf8.encode(code.symbols);
}

/** The code a grant's `challenge` names, or undefined when it is not one. */
export function requestCodeOfChallenge(challenge: Uint8Array): RequestCode | undefined {
  if (challenge.length !== REQUEST_CODE_SYMBOLS) return undefined;
  const text = String.fromCharCode(...challenge);
  if (!/^[0-9A-HJKMNP-TV-Z]+$/.test(text)) return undefined;
  try {
    const code = parseRequestCode(text);
    return code.symbols === text ? code : undefined;
  } catch {
    return undefined;
  }
}
