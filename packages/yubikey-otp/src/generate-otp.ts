import { createCipheriv, createSecretKey } from "node:crypto";
import { AirgrantError } from "@airgrant/core";
import { AES_BLOCK_SIZE } from "./aes-block-decryptor.js";
import { encodeModhex, isModhex } from "./modhex.js";
import { encodeOtpToken, type OtpTokenFields } from "./otp-token.js";
import { MAX_PUBLIC_ID_LENGTH } from "./parse-otp.js";

export interface GenerateOtpInput extends OtpTokenFields {
  /** The YubiKey's AES-128 secret, 16 bytes. */
  readonly aesKey: Uint8Array;
  /** The public id in modhex, 0 to 16 characters (12 on a stock YubiKey). */
  readonly publicId: string;
}

/**
 * Make the OTP a YubiKey would type for these fields: encode the plaintext
 * with its CRC, encrypt it with AES-128-ECB, modhex-encode it and put the
 * public id in front (yubico-c yktoken.c yubikey_generate).
 *
 * For tests and the demo officer only: a real OTP comes from a real
 * YubiKey, whose counters only ever move forward. Exported from
 * `@airgrant/yubikey-otp/generate` so that production code does not import it.
 */
export function generateOtp(input: GenerateOtpInput): string {
  if (!(input.aesKey instanceof Uint8Array) || input.aesKey.length !== AES_BLOCK_SIZE) {
    throw new AirgrantError("bad-input", `a YubiKey AES key is ${AES_BLOCK_SIZE} bytes`);
  }
  if (!isModhex(input.publicId) || input.publicId.length > MAX_PUBLIC_ID_LENGTH) {
    throw new AirgrantError("bad-input", `a public id is 0 to ${MAX_PUBLIC_ID_LENGTH} modhex characters`);
  }
  const plaintext = encodeOtpToken(input);
  const cipher = createCipheriv("aes-128-ecb", createSecretKey(input.aesKey), null).setAutoPadding(false);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return input.publicId + encodeModhex(ciphertext);
}
