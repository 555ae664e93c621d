import { timingSafeEqual } from "node:crypto";
import { AirgrantError } from "@airgrant/core";
import type { AesBlockDecryptor } from "./aes-block-decryptor.js";
import { hasValidOtpCrc } from "./crc16.js";
import type { OtpCounterStore } from "./otp-counter-store.js";
import { decodeOtpToken, OTP_TOKEN_SIZE, type OtpToken, PRIVATE_ID_LENGTH } from "./otp-token.js";
import { type ParsedOtp, parseOtp } from "./parse-otp.js";

/** What the validator needs to know about one enrolled YubiKey. */
export interface OtpKey {
  /** The 6-byte private (secret) id programmed into the YubiKey with its AES key. */
  readonly privateId: Uint8Array;
  /** Decrypts with this YubiKey's AES-128 secret, in software or on a token. */
  readonly decryptor: AesBlockDecryptor;
}

/** Finds the enrolled key for a public id (canonical lower-case modhex), or undefined. */
export type OtpKeyLookup = (publicId: string) => OtpKey | undefined;

/** Why an OTP was refused; stable codes, see docs/errors.md. */
export type OtpRejection =
  | "otp-malformed"
  | "otp-unknown-key"
  | "otp-bad-crc"
  | "otp-wrong-private-id"
  | "otp-replayed";

export type OtpVerdict =
  | { readonly ok: true; readonly publicId: string; readonly token: OtpToken }
  | { readonly ok: false; readonly code: OtpRejection; readonly message: string };

function reject(code: OtpRejection, message: string): OtpVerdict {
  return { ok: false, code, message };
}

function parse(text: string): ParsedOtp | OtpVerdict {
  try {
    return parseOtp(text);
  } catch (err) {
    if (err instanceof AirgrantError && err.code === "otp-malformed") return reject("otp-malformed", err.message);
    throw err;
  }
}

/**
 * Check one Yubico OTP offline and, if it is good, record it so it is never
 * accepted again. The steps follow Yubico's "OTPs Explained": decrypt with
 * the key of the public id, check the CRC residue, check the private id,
 * then require the (usage, session) counter pair to be greater than the last
 * accepted one. The whole OTP is treated as hostile input: every refusal is
 * a verdict; only a failing environment (store unreadable, lock stuck,
 * token error inside the decryptor) throws.
 */
export function validateOtp(text: string, keys: OtpKeyLookup, store: OtpCounterStore): OtpVerdict {
  const parsed = parse(text);
  if ("ok" in parsed) return parsed;
  const key = keys(parsed.publicId);
  if (key === undefined) {
    return reject("otp-unknown-key", `no YubiKey with public id "${parsed.publicId}" is enrolled`);
  }
  // An enrolment error, not the OTP's fault: say so rather than refuse every OTP.
  if (key.privateId.length !== PRIVATE_ID_LENGTH) {
    throw new AirgrantError(
      "bad-input",
      `the enrolled private id of "${parsed.publicId}" is not ${PRIVATE_ID_LENGTH} bytes`,
    );
  }
  const plaintext = key.decryptor.decryptBlock(parsed.ciphertext);
  if (plaintext.length !== OTP_TOKEN_SIZE) {
    throw new AirgrantError("internal", `AES decryption returned ${plaintext.length} bytes, not ${OTP_TOKEN_SIZE}`);
  }
  // Also what catches an OTP encrypted under another AES key: its plaintext is noise.
  if (!hasValidOtpCrc(plaintext)) {
    return reject("otp-bad-crc", "the OTP does not decrypt to a valid YubiKey token (CRC mismatch)");
  }
  const token = decodeOtpToken(plaintext);
  // Constant time, so that timing does not reveal how much of the secret private id matched.
  if (!timingSafeEqual(token.privateId, key.privateId)) {
    return reject("otp-wrong-private-id", "the OTP's private id does not match the enrolled YubiKey");
  }
  const advance = store.advance(parsed.publicId, {
    usageCounter: token.usageCounter,
    sessionCounter: token.sessionCounter,
  });
  if (!advance.accepted) {
    return reject(
      "otp-replayed",
      `the OTP was already used or is older than the last one accepted (counter ${token.usageCounter}/${token.sessionCounter}, last ${advance.last.usageCounter}/${advance.last.sessionCounter}); touch the YubiKey for a new one`,
    );
  }
  return { ok: true, publicId: parsed.publicId, token };
}
