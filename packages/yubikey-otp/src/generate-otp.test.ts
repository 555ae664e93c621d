import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeAesDecryptor } from "./aes-block-decryptor.js";
import { hasValidOtpCrc } from "./crc16.js";
import { generateOtp } from "./generate-otp.js";
import { decodeOtpToken } from "./otp-token.js";
import { parseOtp } from "./parse-otp.js";

const base = {
  aesKey: new Uint8Array(16).fill(7),
  publicId: "vvcccccccccc",
  privateId: new Uint8Array([1, 2, 3, 4, 5, 6]),
  usageCounter: 1,
  timestamp: 0,
  sessionCounter: 0,
  random: 0,
};

describe("generateOtp", () => {
  it("makes OTPs that parse, decrypt with a valid CRC and carry the fields back", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        fc.integer({ min: 0, max: 8 }).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        fc.record({
          privateId: fc.uint8Array({ minLength: 6, maxLength: 6 }),
          usageCounter: fc.integer({ min: 0, max: 0x7fff }),
          capsLock: fc.boolean(),
          timestamp: fc.integer({ min: 0, max: 0xffffff }),
          sessionCounter: fc.integer({ min: 0, max: 0xff }),
          random: fc.integer({ min: 0, max: 0xffff }),
        }),
        (aesKey, publicIdBytes, fields) => {
          const publicId = Buffer.from(publicIdBytes)
            .toString("hex")
            .replace(/[0-9a-f]/g, (c) => "cbdefghijklnrtuv".charAt(Number.parseInt(c, 16)));
          const otp = generateOtp({ aesKey, publicId, ...fields });
          const parsed = parseOtp(otp);
          expect(parsed.publicId).toBe(publicId);
          const plaintext = nodeAesDecryptor(aesKey).decryptBlock(parsed.ciphertext);
          expect(hasValidOtpCrc(plaintext)).toBe(true);
          const { crc: _crc, ...decoded } = decodeOtpToken(plaintext);
          expect(decoded).toEqual(fields);
        },
      ),
    );
  });

  it.each([
    ["a short AES key", { aesKey: new Uint8Array(15) }],
    ["a public id that is not modhex", { publicId: "abcdef" }],
    ["an odd-length public id", { publicId: "ccc" }],
    ["a public id over 16 characters", { publicId: "c".repeat(18) }],
    ["a counter out of range", { usageCounter: 0x8000 }],
  ])("refuses %s", (_, change) => {
    expect(codeOf(() => generateOtp({ ...base, ...change }))).toBe("bad-input");
  });
});
