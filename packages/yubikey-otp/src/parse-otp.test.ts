import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeModhex, MODHEX_ALPHABET } from "./modhex.js";
import { MAX_OTP_INPUT_LENGTH, parseOtp } from "./parse-otp.js";

const OTP = "cccjgjgkhcbbirdrfdnlnghhfgrtnnlgedjlftrbdeut"; // Yubico, OTPs Explained

describe("parseOtp", () => {
  it("splits the public id from the 32-character token", () => {
    const parsed = parseOtp(OTP);
    expect(parsed.publicId).toBe("cccjgjgkhcbb");
    expect(encodeModhex(parsed.ciphertext)).toBe(OTP.slice(12));
  });

  it("drops surrounding whitespace and folds case, as typed input needs", () => {
    expect(parseOtp(`  ${OTP.toUpperCase()}\r\n`)).toEqual(parseOtp(OTP));
    expect(parseOtp(`\t${OTP}\n`)).toEqual(parseOtp(OTP));
  });

  it("accepts public ids of 0 to 16 characters", () => {
    expect(parseOtp(OTP.slice(12)).publicId).toBe("");
    expect(parseOtp(`cbdefghijklnrtuv${OTP.slice(12)}`).publicId).toBe("cbdefghijklnrtuv");
  });

  it.each([
    ["empty", ""],
    ["whitespace only", "   \n"],
    ["too short", OTP.slice(13)],
    ["an odd-length public id", OTP.slice(1)],
    ["a public id over 16 characters", `cbdefghijklnrtuvcb${OTP.slice(12)}`],
    ["a character outside modhex", `${OTP.slice(0, 20)}a${OTP.slice(21)}`],
    ["whitespace inside", `${OTP.slice(0, 12)} ${OTP.slice(12)}`],
    ["a control character", `${OTP.slice(0, 20)}\u0000${OTP.slice(21)}`],
    ["a fullwidth letter", `${OTP.slice(0, 20)}\uff43${OTP.slice(21)}`],
    ["a Kelvin sign, which lower-cases to k", `${OTP.slice(0, 20)}\u212a${OTP.slice(21)}`],
    ["too long before trimming", `${" ".repeat(MAX_OTP_INPUT_LENGTH)}${OTP}`],
    ["huge input", "c".repeat(10_000_000)],
  ])("rejects %s with otp-malformed", (_, text) => {
    expect(codeOf(() => parseOtp(text))).toBe("otp-malformed");
  });

  it("rejects a non-string from untyped callers", () => {
    expect(codeOf(() => parseOtp(42 as unknown as string))).toBe("otp-malformed");
  });

  it("never throws anything but otp-malformed, and what it accepts re-encodes to the input", () => {
    const modhexish = fc.string({ unit: fc.constantFrom(...`${MODHEX_ALPHABET}CBX0 \n`.split("")), maxLength: 70 });
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 80 }), modhexish),
        (text) => {
          const code = codeOf(() => parseOtp(text));
          if (code !== undefined) {
            expect(code).toBe("otp-malformed");
            return;
          }
          const parsed = parseOtp(text);
          expect(parsed.ciphertext.length).toBe(16);
          expect(parsed.publicId + encodeModhex(parsed.ciphertext)).toBe(text.trim().toLowerCase());
        },
      ),
      { numRuns: 500 },
    );
  });
});
