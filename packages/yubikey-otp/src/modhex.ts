import { AirgrantError } from "@airgrant/core";

/**
 * The modhex alphabet: hex digits 0..f mapped to keys that sit in the same
 * place on most Latin keyboard layouts, so a YubiKey typing as a USB keyboard
 * produces the same characters everywhere (Yubico, "OTPs Explained",
 * Hex to Modhex Substitution; yubico-c yubikey.h YUBIKEY_MODHEX_MAP).
 */
export const MODHEX_ALPHABET = "cbdefghijklnrtuv";

const MODHEX_PATTERN = /^(?:[cbdefghijklnrtuv]{2})*$/;

/** True if `text` is the canonical modhex encoding of some bytes: lower case, even length. */
export function isModhex(text: string): boolean {
  return MODHEX_PATTERN.test(text);
}

/** Encode bytes as modhex, two characters a byte, high nibble first. */
export function encodeModhex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) {
    out += MODHEX_ALPHABET.charAt(byte >> 4) + MODHEX_ALPHABET.charAt(byte & 0x0f);
  }
  return out;
}

/**
 * Decode modhex to bytes. Strict: only the lower-case alphabet and an even
 * length are accepted, so every byte string has exactly one encoding and
 * the decoder rejects everything that is not it. Callers that accept typed
 * input fold case first (see parseOtp).
 */
export function decodeModhex(text: string): Uint8Array {
  if (!isModhex(text)) {
    throw new AirgrantError("otp-malformed", "not modhex: expected an even number of characters from cbdefghijklnrtuv");
  }
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = (MODHEX_ALPHABET.indexOf(text.charAt(2 * i)) << 4) | MODHEX_ALPHABET.indexOf(text.charAt(2 * i + 1));
  }
  return bytes;
}
