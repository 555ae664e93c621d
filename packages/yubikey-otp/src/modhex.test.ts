import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeModhex, encodeModhex, isModhex, MODHEX_ALPHABET } from "./modhex.js";

describe("modhex", () => {
  it("maps each nibble to its letter", () => {
    expect(encodeModhex(new Uint8Array([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]))).toBe("cbdefghijklnrtuv");
    expect(encodeModhex(new Uint8Array())).toBe("");
    expect(decodeModhex("")).toEqual(new Uint8Array());
  });

  it.each([
    ["an odd length", "cbd"],
    ["upper case", "CB"],
    ["a hex digit", "c0"],
    ["a letter outside the alphabet", "ca"],
    ["whitespace", "cb "],
    ["a non-ASCII character", "cé"],
    ["a NUL", "c\u0000"],
  ])("rejects %s", (_, text) => {
    expect(isModhex(text)).toBe(false);
    expect(codeOf(() => decodeModhex(text))).toBe("otp-malformed");
  });

  it("round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const text = encodeModhex(data);
        expect(isModhex(text)).toBe(true);
        expect(decodeModhex(text)).toEqual(data);
      }),
    );
  });

  it("decodes exactly the canonical encodings and rejects every other string with otp-malformed", () => {
    const nearModhex = fc.string({ unit: fc.constantFrom(...`${MODHEX_ALPHABET}aAC0 `.split("")), maxLength: 40 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 40 }), nearModhex), (text) => {
        const code = codeOf(() => decodeModhex(text));
        if (code === undefined) expect(encodeModhex(decodeModhex(text))).toBe(text);
        else expect(code).toBe("otp-malformed");
      }),
      { numRuns: 500 },
    );
  });
});
