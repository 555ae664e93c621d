import { AirgrantError } from "@airgrant/core";
import { decodeModhex } from "./modhex.js";

/** The encrypted part of every Yubico OTP: one AES block, 32 modhex characters. */
export const OTP_TOKEN_LENGTH = 32;

/**
 * Longest public id accepted, in modhex characters. YubiKeys ship with 12;
 * Yubico's validation server accepts whole OTPs of 32 to 48 characters
 * (yubikey-val), which leaves at most 16 for the public id.
 */
export const MAX_PUBLIC_ID_LENGTH = 16;

/**
 * Inputs longer than this are refused before any other work: the longest
 * valid OTP is 48 characters, and the rest is room for the whitespace a
 * keyboard or a terminal may add around it.
 */
export const MAX_OTP_INPUT_LENGTH = 64;

export interface ParsedOtp {
  /** The public id in canonical (lower-case) modhex; may be empty. */
  readonly publicId: string;
  /** The 16 encrypted bytes, still to be decrypted with the key's AES secret. */
  readonly ciphertext: Uint8Array;
}

const TYPED_MODHEX_PATTERN = /^[cbdefghijklnrtuvCBDEFGHIJKLNRTUV]*$/;

function malformed(message: string): AirgrantError {
  return new AirgrantError("otp-malformed", message);
}

/**
 * Split typed OTP text into public id and ciphertext. Surrounding whitespace
 * is dropped and case is folded, because a YubiKey types through the
 * keyboard and caps lock upper-cases it (yubico-c yubikey.h: the high bit of
 * the usage counter records caps lock). Anything else that is not
 * `[public id][32 modhex]` throws `otp-malformed`.
 */
export function parseOtp(text: string): ParsedOtp {
  if (typeof text !== "string") throw malformed("OTP must be text");
  if (text.length > MAX_OTP_INPUT_LENGTH) {
    throw malformed(`OTP is too long: at most ${MAX_OTP_INPUT_LENGTH} characters`);
  }
  const trimmed = text.trim();
  const publicIdLength = trimmed.length - OTP_TOKEN_LENGTH;
  if (publicIdLength < 0 || publicIdLength > MAX_PUBLIC_ID_LENGTH) {
    throw malformed(
      `OTP must be ${OTP_TOKEN_LENGTH} to ${OTP_TOKEN_LENGTH + MAX_PUBLIC_ID_LENGTH} modhex characters, got ${trimmed.length}`,
    );
  }
  // Check the alphabet before folding case: Unicode lower-casing maps some
  // non-ASCII letters (the Kelvin sign U+212A) onto modhex ones.
  if (!TYPED_MODHEX_PATTERN.test(trimmed) || publicIdLength % 2 !== 0) {
    throw malformed("OTP must be modhex (the characters cbdefghijklnrtuv), an even number of them");
  }
  const otp = trimmed.toLowerCase();
  return {
    publicId: otp.slice(0, publicIdLength),
    ciphertext: decodeModhex(otp.slice(publicIdLength)),
  };
}
