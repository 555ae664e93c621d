import { AirgrantError } from "@airgrant/core";
import { crc16 } from "./crc16.js";

/** Length of the private (secret) id at the start of the plaintext. */
export const PRIVATE_ID_LENGTH = 6;
/** The plaintext is one AES block. */
export const OTP_TOKEN_SIZE = 16;

/** Largest usage counter: the field is 15 bits, its top bit flags caps lock. */
export const MAX_USAGE_COUNTER = 0x7fff;

/**
 * The decrypted 16-byte OTP plaintext. Layout, all integers little-endian
 * (Yubico, "OTPs Explained", The Yubico OTP generation algorithm;
 * yubico-c yubikey.h yubikey_token_st):
 *
 * | offset | size | field                                          |
 * | 0      | 6    | private id (uid)                               |
 * | 6      | 2    | usage counter (useCtr), bit 15 = caps lock     |
 * | 8      | 3    | timestamp (tstp), ~8 Hz, from power-up         |
 * | 11     | 1    | session counter (sessionCtr)                   |
 * | 12     | 2    | random (rnd)                                   |
 * | 14     | 2    | CRC-16 (crc), complement of CRC of bytes 0..13 |
 */
export interface OtpToken {
  readonly privateId: Uint8Array;
  /** Non-volatile counter, incremented at each power-up (15 bits). */
  readonly usageCounter: number;
  /** The YubiKey saw caps lock on while typing (yubico-c yubikey_capslock). */
  readonly capsLock: boolean;
  /** 24-bit timer, about 8 Hz, started at a random value at power-up. */
  readonly timestamp: number;
  /** Counts OTPs within one power-up; wraps into the usage counter. */
  readonly sessionCounter: number;
  readonly random: number;
  /** The stored CRC field as read, little-endian. */
  readonly crc: number;
}

/** The fields a YubiKey chooses; the CRC follows from them. */
export type OtpTokenFields = Omit<OtpToken, "crc" | "capsLock"> & { readonly capsLock?: boolean };

/**
 * Decode a 16-byte plaintext into its fields. It does not check the CRC:
 * that is a separate step (hasValidOtpCrc), as in yubico-c's yubikey_parse.
 */
export function decodeOtpToken(plaintext: Uint8Array): OtpToken {
  if (plaintext.length !== OTP_TOKEN_SIZE) {
    throw new AirgrantError("otp-malformed", `an OTP plaintext is ${OTP_TOKEN_SIZE} bytes, got ${plaintext.length}`);
  }
  const view = new DataView(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  const usageField = view.getUint16(6, true);
  return {
    privateId: plaintext.slice(0, PRIVATE_ID_LENGTH),
    usageCounter: usageField & MAX_USAGE_COUNTER,
    capsLock: (usageField & 0x8000) !== 0,
    timestamp: view.getUint16(8, true) | (view.getUint8(10) << 16),
    sessionCounter: view.getUint8(11),
    random: view.getUint16(12, true),
    crc: view.getUint16(14, true),
  };
}

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new AirgrantError("bad-input", `${name} must be an integer from 0 to ${max}`);
  }
}

/**
 * Encode fields into the 16-byte plaintext exactly as a YubiKey does,
 * appending the one's complement of the CRC-16 of the first 14 bytes
 * (yubico-c yktoken.c yubikey_generate).
 */
export function encodeOtpToken(fields: OtpTokenFields): Uint8Array {
  if (!(fields.privateId instanceof Uint8Array) || fields.privateId.length !== PRIVATE_ID_LENGTH) {
    throw new AirgrantError("bad-input", `the private id is ${PRIVATE_ID_LENGTH} bytes`);
  }
  checkRange("usage counter", fields.usageCounter, MAX_USAGE_COUNTER);
  checkRange("timestamp", fields.timestamp, 0xffffff);
  checkRange("session counter", fields.sessionCounter, 0xff);
  checkRange("random", fields.random, 0xffff);
  const plaintext = new Uint8Array(OTP_TOKEN_SIZE);
  const view = new DataView(plaintext.buffer);
  plaintext.set(fields.privateId, 0);
  view.setUint16(6, fields.usageCounter | (fields.capsLock === true ? 0x8000 : 0), true);
  view.setUint16(8, fields.timestamp & 0xffff, true);
  view.setUint8(10, fields.timestamp >>> 16);
  view.setUint8(11, fields.sessionCounter);
  view.setUint16(12, fields.random, true);
  view.setUint16(14, ~crc16(plaintext.subarray(0, 14)) & 0xffff, true);
  return plaintext;
}
