import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AirgrantError } from "./airgrant-error.js";
import { GRANT_ALPHABET } from "./grant-text.js";
import {
  formatRequestCode,
  newRequestCode,
  parseRequestCode,
  REQUEST_CODE_SYMBOLS,
  requestAccountCheck,
  requestChallenge,
  requestCodeOfChallenge,
  requestHostCheck,
} from "./request-code.js";

const fixed = (bytes: number[]) => () => new Uint8Array(bytes);
const random8 = fc.uint8Array({ minLength: 8, maxLength: 8 });

function codeOf(bytes: Uint8Array, host = "db1.example", account = "alice") {
  return newRequestCode(host, account, () => bytes);
}

describe("request codes (docs/requests.md)", () => {
  it("matches the example of docs/requests.md", () => {
    const code = newRequestCode("db1.example", "alice", fixed([0x5a, 0x17, 0xc3, 0x9e, 0x42, 0x08, 0xf1, 0x6d]));
    expect(formatRequestCode(code)).toBe("B8BW79-7J2132-RPKMN5");
    expect(code.hostCheck).toBe(requestHostCheck("db1.example"));
    expect(code.hostCheck).toBe("KM");
    expect(code.accountCheck).toBe("N");
  });

  it("reads back what it shows, in any case, with O, I and L for 0 and 1, dashes and spaces anywhere", () => {
    fc.assert(
      fc.property(random8, (bytes) => {
        const code = codeOf(bytes);
        const shown = formatRequestCode(code);
        expect(shown).toMatch(/^[0-9A-HJKMNP-TV-Z]{6}-[0-9A-HJKMNP-TV-Z]{6}-[0-9A-HJKMNP-TV-Z]{6}$/);
        expect(parseRequestCode(shown)).toEqual(code);
        const typed = ` ${shown.toLowerCase().replaceAll("0", "o").replaceAll("1", "l").replaceAll("-", " ")} `;
        expect(parseRequestCode(typed)).toEqual(code);
        expect(requestCodeOfChallenge(requestChallenge(code))).toEqual(code);
      }),
    );
  });

  it("carries 60 random bits: every bit of the first 60 changes the code", () => {
    const zero = codeOf(new Uint8Array(8)).symbols;
    const seen = new Set<string>([zero]);
    for (let bit = 0; bit < 60; bit++) {
      const bytes = new Uint8Array(8);
      bytes[bit >> 3] = 0x80 >> (bit & 7);
      seen.add(codeOf(bytes).symbols);
    }
    expect(seen.size).toBe(61);
    const unused = new Uint8Array(8);
    unused[7] = 0x0f;
    expect(codeOf(unused).symbols).toBe(zero);
  });

  it("refuses every single wrong symbol and every swap of two different neighbours as a typo", () => {
    fc.assert(
      fc.property(random8, fc.nat(REQUEST_CODE_SYMBOLS - 1), fc.nat(31), (bytes, at, replacement) => {
        const { symbols } = codeOf(bytes);
        const wrong = GRANT_ALPHABET[replacement] as string;
        fc.pre(wrong !== symbols[at]);
        const typo = symbols.slice(0, at) + wrong + symbols.slice(at + 1);
        expect(() => parseRequestCode(typo)).toThrow(/typo in group/);
      }),
    );
    fc.assert(
      fc.property(random8, fc.nat(REQUEST_CODE_SYMBOLS - 2), (bytes, at) => {
        const { symbols } = codeOf(bytes);
        fc.pre(symbols[at] !== symbols[at + 1] && (at + 1) % 6 !== 0);
        const swapped = symbols.slice(0, at) + symbols[at + 1] + symbols[at] + symbols.slice(at + 2);
        expect(() => parseRequestCode(swapped)).toThrow(/typo in group/);
      }),
    );
  });

  it("binds the host and the account by their checks, and differs between them", () => {
    const bytes = new Uint8Array(8).fill(7);
    const here = codeOf(bytes, "db1.example", "alice");
    expect(codeOf(bytes, "db2.example", "alice").hostCheck).not.toBe(here.hostCheck);
    expect(here.accountCheck).toBe(requestAccountCheck("alice"));
    expect(codeOf(bytes, "db1.example", "bob").accountCheck).toBe(requestAccountCheck("bob"));
  });

  it("refuses what is not a request code with bad-request-code, and never throws anything else", () => {
    for (const text of ["", "B8BW79-7J2132", "B8BW79-7J2132-RPKMN5-0", "B8BW79-7J2132-RPKMNU", "x".repeat(100)]) {
      expect(() => parseRequestCode(text)).toThrow(AirgrantError);
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          parseRequestCode(text);
        } catch (err) {
          expect((err as AirgrantError).code).toBe("bad-request-code");
        }
      }),
    );
    expect(requestCodeOfChallenge(new TextEncoder().encode("b8bw797j2132rpkmn5"))).toBeUndefined();
    expect(requestCodeOfChallenge(new Uint8Array(8))).toBeUndefined();
  });
});

describe("docs/requests.md's Python", () => {
  const doc = readFileSync(new URL("../../../docs/requests.md", import.meta.url), "utf8");
  const start = doc.indexOf("```python\n") + "```python\n".length;
  const recipe = doc.slice(start, doc.indexOf("\n```", start) + 1);

  it("makes the code this implementation makes, for random bytes, hosts and accounts", () => {
    const cases = fc.sample(
      fc.record({
        bytes: random8,
        host: fc.constantFrom("db1.example", "a", "x-1.y.z"),
        account: fc.constantFrom("alice", "_b", "c.d-e"),
      }),
      50,
    );
    const lines = cases.map(
      (c) => `print(code(bytes.fromhex("${Buffer.from(c.bytes).toString("hex")}"), "${c.host}", "${c.account}"))`,
    );
    const r = spawnSync("python3", ["-c", `${recipe}\n${lines.join("\n")}`], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout.trimEnd().split("\n")).toEqual(
      cases.map((c) => formatRequestCode(newRequestCode(c.host, c.account, () => c.bytes))),
    );
  });
});
