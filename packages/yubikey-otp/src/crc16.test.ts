import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc16, hasValidOtpCrc, OTP_CRC_RESIDUE } from "./crc16.js";
import { encodeOtpToken } from "./otp-token.js";

describe("crc16", () => {
  it("is the ISO 13239 CRC without final inversion: the X.25 check value is its complement", () => {
    // CRC-16/X-25 ("123456789") = 0x906e, which is this CRC inverted.
    expect(~crc16(new TextEncoder().encode("123456789")) & 0xffff).toBe(0x906e);
    expect(crc16(new Uint8Array())).toBe(0xffff);
  });

  it("gives the residue on any encoded token and not after any one-bit change", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        fc.integer({ min: 0, max: 0x7fff }),
        fc.integer({ min: 0, max: 0xffffff }),
        fc.integer({ min: 0, max: 0xff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 127 }),
        (privateId, usageCounter, timestamp, sessionCounter, random, bit) => {
          const plaintext = encodeOtpToken({ privateId, usageCounter, timestamp, sessionCounter, random });
          expect(crc16(plaintext)).toBe(OTP_CRC_RESIDUE);
          const flipped = plaintext.slice();
          flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
          expect(hasValidOtpCrc(flipped)).toBe(false);
        },
      ),
    );
  });
});
