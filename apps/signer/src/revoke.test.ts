import { encodeGrantBody, signedGrantTextLength } from "@airgrant/core";
import { codeOf } from "@airgrant/testkit";
import { describe, expect, it } from "vitest";
import { checkRevocationReason, MAX_REVOCATION_REASON_BYTES, parseGrantId } from "./revoke.js";

describe("revoke's arguments", () => {
  it("bounds a reason below the shortest grant text, so the log cannot hold a usable grant", () => {
    const shortest = encodeGrantBody({
      grantId: new Uint8Array(16),
      issuerKeyId: new Uint8Array(8),
      notBefore: 0,
      notAfter: 1,
      maxUses: 1,
      principal: "a",
      target: { kind: "host", name: "a" },
      anchor: { seq: 0, headPrefix: new Uint8Array(8) },
    });
    expect(signedGrantTextLength(shortest.length, 1)).toBeGreaterThan(MAX_REVOCATION_REASON_BYTES);
  });

  it("takes a printable reason of up to 128 bytes and refuses the rest", () => {
    for (const reason of ["x", "laptop stolen, ticket SEC-412", "é".repeat(64), "z".repeat(128)]) {
      expect(() => checkRevocationReason(reason), reason).not.toThrow();
    }
    for (const reason of [
      "",
      "   ",
      "z".repeat(129),
      "é".repeat(65),
      "two\nlines",
      "a\rb",
      "\u001b[31mred",
      "tab\there",
      "\u202eevil",
      "del\u007f",
      "next\u0085line",
      "sep\u2028",
    ]) {
      expect(
        codeOf(() => checkRevocationReason(reason)),
        JSON.stringify(reason),
      ).toBe("bad-input");
    }
  });

  it("reads a grant id as 32 hex digits, lower-cased", () => {
    expect(parseGrantId("00112233445566778899AABBCCDDEEFF")).toBe("00112233445566778899aabbccddeeff");
    for (const text of ["", "xyz", "0".repeat(31), "0".repeat(33), `${"0".repeat(31)}g`]) {
      expect(
        codeOf(() => parseGrantId(text)),
        text,
      ).toBe("bad-input");
    }
  });
});
