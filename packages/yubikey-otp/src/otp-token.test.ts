import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeOtpToken, encodeOtpToken, MAX_USAGE_COUNTER, type OtpTokenFields } from "./otp-token.js";

const fields: OtpTokenFields = {
  privateId: new Uint8Array([1, 2, 3, 4, 5, 6]),
  usageCounter: 0x1234,
  timestamp: 0xabcdef,
  sessionCounter: 0x56,
  random: 0x789a,
};

const arbitraryFields = fc.record({
  privateId: fc.uint8Array({ minLength: 6, maxLength: 6 }),
  usageCounter: fc.integer({ min: 0, max: MAX_USAGE_COUNTER }),
  capsLock: fc.boolean(),
  timestamp: fc.integer({ min: 0, max: 0xffffff }),
  sessionCounter: fc.integer({ min: 0, max: 0xff }),
  random: fc.integer({ min: 0, max: 0xffff }),
});

describe("OTP token layout", () => {
  it("places every field little-endian at its offset", () => {
    const plaintext = encodeOtpToken(fields);
    expect(Buffer.from(plaintext.subarray(0, 14)).toString("hex")).toBe(
      "010203040506" + "3412" + "efcdab" + "56" + "9a78",
    );
  });

  it("keeps caps lock in the top bit of the usage counter, out of the counter itself", () => {
    const plaintext = encodeOtpToken({ ...fields, capsLock: true });
    expect(plaintext[7]).toBe(0x92);
    const token = decodeOtpToken(plaintext);
    expect(token.usageCounter).toBe(0x1234);
    expect(token.capsLock).toBe(true);
  });

  it("round-trips any fields", () => {
    fc.assert(
      fc.property(arbitraryFields, (input) => {
        const token = decodeOtpToken(encodeOtpToken(input));
        const { crc, ...decoded } = token;
        expect(decoded).toEqual(input);
        expect(crc).toBe(new DataView(encodeOtpToken(input).buffer).getUint16(14, true));
      }),
    );
  });

  it("decodes any 16 bytes, and re-encoding them reproduces all but the CRC", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (plaintext) => {
        const token = decodeOtpToken(plaintext);
        expect(encodeOtpToken(token).subarray(0, 14)).toEqual(plaintext.subarray(0, 14));
      }),
    );
  });

  it("decodes from a view into a larger buffer", () => {
    const backing = new Uint8Array(40);
    backing.set(encodeOtpToken(fields), 7);
    expect(decodeOtpToken(backing.subarray(7, 23)).timestamp).toBe(0xabcdef);
  });

  it.each([0, 15, 17])("refuses a plaintext of %i bytes", (length) => {
    expect(codeOf(() => decodeOtpToken(new Uint8Array(length)))).toBe("otp-malformed");
  });

  it.each([
    ["a 5-byte private id", { privateId: new Uint8Array(5) }],
    ["a usage counter over 15 bits", { usageCounter: 0x8000 }],
    ["a negative counter", { usageCounter: -1 }],
    ["a fractional session counter", { sessionCounter: 1.5 }],
    ["a session counter over 8 bits", { sessionCounter: 256 }],
    ["a timestamp over 24 bits", { timestamp: 0x1000000 }],
    ["a random over 16 bits", { random: 0x10000 }],
    ["NaN", { random: Number.NaN }],
  ])("refuses to encode %s", (_, change) => {
    expect(codeOf(() => encodeOtpToken({ ...fields, ...change }))).toBe("bad-input");
  });
});
