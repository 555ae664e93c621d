import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AirgrantError } from "./airgrant-error.js";
import { decodeGrantText, encodeGrantText, GRANT_ALPHABET } from "./grant-text.js";

const sample = new Uint8Array(Array.from({ length: 182 }, (_, i) => (i * 73 + 11) & 0xff));

describe("grant text form", () => {
  it("round-trips any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 600 }), (bytes) => {
        expect(decodeGrantText(encodeGrantText(bytes))).toEqual(bytes);
      }),
    );
  });

  it("is upper case in groups of eight after the AG1 prefix", () => {
    const text = encodeGrantText(sample);
    expect(text).toMatch(/^AG1(-[0-9A-HJKMNP-TV-Z]{2,8})+$/);
    expect(
      text
        .split("-")
        .slice(1, -1)
        .every((g) => g.length === 8),
    ).toBe(true);
  });

  it("ignores case, dashes and whitespace, and reads O as 0 and I, L as 1", () => {
    const text = encodeGrantText(sample);
    const typed = `  ${text.toLowerCase().replaceAll("-", " ").replaceAll("0", "o").replaceAll("1", "l")}\r\n`;
    expect(decodeGrantText(typed)).toEqual(sample);
    expect(decodeGrantText(text.replaceAll("-", "").replaceAll("1", "I"))).toEqual(sample);
  });

  it("catches every single wrong symbol and names its group", () => {
    const symbols = encodeGrantText(sample).slice(3).replaceAll("-", "");
    for (let pos = 0; pos < symbols.length; pos++) {
      for (const replacement of GRANT_ALPHABET) {
        if (replacement === symbols[pos]) continue;
        const typo = `AG1${symbols.slice(0, pos)}${replacement}${symbols.slice(pos + 1)}`;
        let caught: AirgrantError | undefined;
        try {
          decodeGrantText(typo);
        } catch (err) {
          caught = err as AirgrantError;
        }
        expect(caught?.code, `position ${pos} -> ${replacement}`).toBe("bad-checksum");
        expect(caught?.message).toContain(`group ${Math.floor(pos / 8) + 1} of`);
      }
    }
  });

  it("catches every swap of two different symbols within a group and of neighbours across groups", () => {
    const symbols = encodeGrantText(sample).slice(3).replaceAll("-", "");
    const swapped = (i: number, j: number) => {
      const a = [...symbols];
      [a[i], a[j]] = [a[j] as string, a[i] as string];
      return `AG1${a.join("")}`;
    };
    let checked = 0;
    for (let i = 0; i < symbols.length; i++) {
      const groupEnd = Math.min((Math.floor(i / 8) + 1) * 8, symbols.length);
      for (let j = i + 1; j < Math.max(groupEnd, i + 2) && j < symbols.length; j++) {
        if (symbols[i] === symbols[j]) continue;
        expect(
          codeOf(() => decodeGrantText(swapped(i, j))),
          `swap ${i},${j}`,
        ).toBe("bad-checksum");
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it("catches swapped groups", () => {
    const groups = encodeGrantText(sample).split("-");
    [groups[2], groups[3]] = [groups[3] as string, groups[2] as string];
    expect(codeOf(() => decodeGrantText(groups.join("-")))).toBe("bad-checksum");
  });

  it("refuses a missing or wrong prefix, a newer version, foreign characters and truncation", () => {
    const text = encodeGrantText(sample);
    expect(codeOf(() => decodeGrantText(""))).toBe("malformed-grant");
    expect(codeOf(() => decodeGrantText("hello world!"))).toBe("malformed-grant");
    expect(codeOf(() => decodeGrantText(text.slice(4)))).toBe("malformed-grant");
    expect(codeOf(() => decodeGrantText(`AG2${text.slice(3)}`))).toBe("unsupported-version");
    expect(codeOf(() => decodeGrantText(`${text.slice(0, 20)}U${text.slice(21)}`))).toBe("bad-checksum");
    expect(codeOf(() => decodeGrantText(`${text.slice(0, 20)}\u0000${text.slice(21)}`))).toBe("bad-checksum");
    expect(codeOf(() => decodeGrantText(text.slice(0, -3)))).toBe("bad-checksum");
    expect(codeOf(() => decodeGrantText("AG1-"))).toBe("malformed-grant");
    expect(codeOf(() => decodeGrantText(`AG1-${"0".repeat(5000)}`))).toBe("malformed-grant");
  });

  it("reads the prefix byte by byte: no Unicode case mapping turns a letter into AG1", () => {
    const text = encodeGrantText(sample);
    const body = text.slice(3);
    expect(decodeGrantText(`ag1${body}`)).toEqual(sample);
    expect(decodeGrantText(`AGl${body}`)).toEqual(sample);
    // 'ß'.toUpperCase() is "SS" and 'ı'.toUpperCase() is "I" (a 1 on input); 'ǵ' has no ASCII form at all.
    for (const prefix of ["AGß", "AGı", "aGı", "ǵ1", "AG\u0131", "\uff21G1"]) {
      expect(
        codeOf(() => decodeGrantText(`${prefix}${body}`)),
        prefix,
      ).toBe("malformed-grant");
    }
    // "I" and a combining tilde (one grapheme, Ĩ): the prefix AGI, read as AG1, then a foreign character.
    expect(codeOf(() => decodeGrantText(`AGI\u0303${body}`))).toBe("bad-checksum");
  });

  it("refuses any prefix with a character outside ASCII", () => {
    const body = encodeGrantText(sample).slice(3);
    fc.assert(
      fc.property(fc.nat(2), fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }), (at, c) => {
        // The grapheme's first character takes the prefix's place: "I" and a
        // combining tilde is an ASCII prefix (AGI reads as AG1) and a foreign
        // character after it, which is bad-checksum.
        fc.pre((c.codePointAt(0) as number) > 0x7f);
        const prefix = [..."AG1"];
        prefix[at] = c;
        expect(codeOf(() => decodeGrantText(`${prefix.join("")}${body}`))).toBe("malformed-grant");
      }),
    );
  });

  it("never fails other than with an AirgrantError, whatever it is given", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 700 }), fc.string({ unit: "binary", maxLength: 300 })), (s) => {
        codeOf(() => decodeGrantText(s));
        codeOf(() => decodeGrantText(`AG1${s}`));
      }),
      { numRuns: 2000 },
    );
  });
});
