import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { nodeAesDecryptor } from "./aes-block-decryptor.js";
import { crc16, hasValidOtpCrc, OTP_CRC_RESIDUE } from "./crc16.js";
import { generateOtp } from "./generate-otp.js";
import { decodeModhex, encodeModhex } from "./modhex.js";
import type { CounterAdvance, OtpCounterStore } from "./otp-counter-store.js";
import { decodeOtpToken } from "./otp-token.js";
import { parseOtp } from "./parse-otp.js";
import { validateOtp } from "./validate-otp.js";

// Yubico's published vectors; each entry names its source (test/vectors/yubico-otp.json).
interface Vectors {
  modhex: { hex: string; modhex: string }[];
  aes128EcbDecrypt: { keyHex: string; ciphertextHex: string; plaintextHex: string }[];
  otps: {
    source: string;
    otp: string;
    keyHex: string;
    publicId: string;
    plaintextHex?: string;
    privateIdHex: string;
    usageCounter: number;
    timestamp: number;
    sessionCounter: number;
    random?: number;
    crc?: number;
    derived?: { plaintextHex: string; random: number; crc: number };
    crcResidue: number;
  }[];
  publicIds: { otps: string[]; publicId: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/vectors/yubico-otp.json", import.meta.url), "utf8"),
) as Vectors;

const bytes = (hex: string): Uint8Array => new Uint8Array(Buffer.from(hex, "hex"));
const hex = (data: Uint8Array): string => Buffer.from(data).toString("hex");

describe("Yubico vectors: modhex", () => {
  it.each(vectors.modhex)("$hex <-> $modhex", (vector) => {
    expect(encodeModhex(bytes(vector.hex))).toBe(vector.modhex);
    expect(hex(decodeModhex(vector.modhex))).toBe(vector.hex);
  });
});

describe("Yubico vectors: AES-128-ECB decryption", () => {
  it.each(vectors.aes128EcbDecrypt)("key $keyHex", (vector) => {
    const plaintext = nodeAesDecryptor(bytes(vector.keyHex)).decryptBlock(bytes(vector.ciphertextHex));
    expect(hex(plaintext)).toBe(vector.plaintextHex);
  });
});

describe("Yubico vectors: whole OTPs", () => {
  it.each(vectors.otps)("$otp", (vector) => {
    const parsed = parseOtp(vector.otp);
    expect(parsed.publicId).toBe(vector.publicId);

    const plaintext = nodeAesDecryptor(bytes(vector.keyHex)).decryptBlock(parsed.ciphertext);
    const plaintextHex = vector.plaintextHex ?? vector.derived?.plaintextHex;
    expect(hex(plaintext)).toBe(plaintextHex);
    expect(crc16(plaintext)).toBe(vector.crcResidue);
    expect(vector.crcResidue).toBe(OTP_CRC_RESIDUE);
    expect(hasValidOtpCrc(plaintext)).toBe(true);

    const token = decodeOtpToken(plaintext);
    const random = vector.random ?? vector.derived?.random;
    const crc = vector.crc ?? vector.derived?.crc;
    expect({ ...token, privateId: hex(token.privateId) }).toEqual({
      privateId: vector.privateIdHex,
      usageCounter: vector.usageCounter,
      capsLock: false,
      timestamp: vector.timestamp,
      sessionCounter: vector.sessionCounter,
      random,
      crc,
    });
  });

  it.each(vectors.otps)("the generator reproduces $otp from its fields", (vector) => {
    const otp = generateOtp({
      aesKey: bytes(vector.keyHex),
      publicId: vector.publicId,
      privateId: bytes(vector.privateIdHex),
      usageCounter: vector.usageCounter,
      timestamp: vector.timestamp,
      sessionCounter: vector.sessionCounter,
      random: vector.random ?? vector.derived?.random ?? -1,
    });
    expect(otp).toBe(vector.otp);
  });
});

describe("Yubico vectors: validation", () => {
  it.each(vectors.otps)("validateOtp accepts $otp with its published fields", (vector) => {
    const recorded: string[] = [];
    const store: OtpCounterStore = {
      advance(publicId, counter): CounterAdvance {
        recorded.push(`${publicId} ${counter.usageCounter}/${counter.sessionCounter}`);
        return { accepted: true };
      },
      lastAccepted: () => undefined,
    };
    const key = { privateId: bytes(vector.privateIdHex), decryptor: nodeAesDecryptor(bytes(vector.keyHex)) };
    const verdict = validateOtp(vector.otp, (publicId) => (publicId === vector.publicId ? key : undefined), store);
    expect(verdict).toMatchObject({
      ok: true,
      publicId: vector.publicId,
      token: { usageCounter: vector.usageCounter, sessionCounter: vector.sessionCounter, timestamp: vector.timestamp },
    });
    expect(recorded).toEqual([`${vector.publicId} ${vector.usageCounter}/${vector.sessionCounter}`]);
  });
});

describe("Yubico vectors: public ids", () => {
  for (const vector of vectors.publicIds) {
    it.each(vector.otps)("%s", (otp) => {
      expect(parseOtp(otp).publicId).toBe(vector.publicId);
    });
  }
});
