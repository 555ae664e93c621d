import { codeOf, makeGrantBytes, makeGrantText, makeTestIssuer, signWith, testFields } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeGrant,
  encodeGrant,
  encodeGrantBody,
  MAX_SINGLE_SIGNATURE_TEXT_LENGTH,
  signedGrantTextLength,
} from "./grant-codec.js";
import { encodeGrantText } from "./grant-text.js";
import { importPublicKey, verifySignature } from "./signature-algorithm.js";

const ecdsa = makeTestIssuer("ecdsa-p256-sha256");
const ed = makeTestIssuer("ed25519");

describe("grant binary format", () => {
  it("decodes what it encodes, with signatures over the body bytes", () => {
    for (const issuer of [ecdsa, ed]) {
      const fields = testFields(issuer, {
        challenge: new Uint8Array(16).fill(9),
        sourceAddress: "10.0.0.0/8,fd00::1",
        forceCommand: "/usr/bin/systemctl restart app",
        minTrustVersion: 0x0102_0304,
        maxUses: 3,
        target: { kind: "group", name: "dbs" },
      });
      const bytes = makeGrantBytes(fields, [issuer]);
      const grant = decodeGrant(bytes);
      expect(grant).toMatchObject({ ...fields, signatures: [{ keyId: issuer.keyId, algorithm: issuer.algorithm }] });
      expect(grant.signedBytes).toEqual(encodeGrantBody(fields));
      const key = importPublicKey(issuer.algorithm, issuer.spki);
      const sig = grant.signatures[0];
      expect(sig && verifySignature(issuer.algorithm, key, grant.signedBytes, sig.signature)).toBe(true);
    }
  });

  it("keeps a typical single-signature grant well under PAM's 512 characters", () => {
    const fields = testFields(ecdsa, { principal: "svc_backup", target: { kind: "host", name: "db1.corp.example" } });
    const text = encodeGrantText(makeGrantBytes(fields, [ecdsa]));
    expect(text.length).toBe(signedGrantTextLength(encodeGrantBody(fields).length, 1));
    expect(text.length).toBeLessThan(400);
    const longest = testFields(ecdsa, {
      principal: "a".repeat(32),
      target: { kind: "host", name: `${"h".repeat(62)}.h` },
      reason: "r".repeat(18),
    });
    expect(signedGrantTextLength(encodeGrantBody(longest).length, 1)).toBeLessThanOrEqual(
      MAX_SINGLE_SIGNATURE_TEXT_LENGTH,
    );
  });

  it("fits a two-signature grant of a short account and host in PAM's 511 characters, never a three-signature one", () => {
    const short = testFields(ecdsa, { reason: undefined as unknown as string });
    const body = encodeGrantBody(short).length;
    expect(body).toBe(68);
    expect(makeGrantText(short, [ecdsa, ed]).length).toBe(447);
    expect(signedGrantTextLength(encodeGrantBody(testFields(ecdsa)).length, 2)).toBe(477);
    expect(signedGrantTextLength(99, 2)).toBe(MAX_SINGLE_SIGNATURE_TEXT_LENGTH);
    expect(signedGrantTextLength(100, 2)).toBeGreaterThan(MAX_SINGLE_SIGNATURE_TEXT_LENGTH);
    expect(signedGrantTextLength(52, 3)).toBe(565);
  });

  it("carries several signatures, the first by the issuer", () => {
    const fields = testFields(ecdsa);
    const grant = decodeGrant(makeGrantBytes(fields, [ecdsa, ed]));
    expect(grant.signatures.map((s) => s.algorithm)).toEqual(["ecdsa-p256-sha256", "ed25519"]);
    expect(codeOf(() => decodeGrant(makeGrantBytes(fields, [ed, ecdsa])))).toBe("malformed-grant");
    expect(codeOf(() => decodeGrant(makeGrantBytes(fields, [ecdsa, ecdsa])))).toBe("malformed-grant");
  });

  it("refuses every truncation and any trailing byte", () => {
    const bytes = makeGrantBytes(testFields(ecdsa), [ecdsa]);
    for (let n = 0; n < bytes.length; n++) {
      expect(
        codeOf(() => decodeGrant(bytes.subarray(0, n))),
        `length ${n}`,
      ).toBe("malformed-grant");
    }
    expect(codeOf(() => decodeGrant(Uint8Array.from([...bytes, 0])))).toBe("malformed-grant");
  });

  it("refuses unknown versions, extensions out of order and invalid fields", () => {
    const body = encodeGrantBody(testFields(ecdsa, { reason: undefined as unknown as string }));
    const withVersion = Uint8Array.from(body);
    withVersion[2] = 2;
    const sig = { keyId: ecdsa.keyId, algorithm: ecdsa.algorithm, signature: signWith(ecdsa, body) };
    expect(codeOf(() => decodeGrant(encodeGrant(withVersion, [sig])))).toBe("unsupported-version");
    // Two extensions written in descending order: tag 2 then tag 1.
    const twoExt = Uint8Array.from([...body.subarray(0, -1), 2, 2, 8, ...new Uint8Array(8), 1, 1, 0x41]);
    expect(codeOf(() => decodeGrant(encodeGrant(twoExt, [sig])))).toBe("malformed-grant");
    const unknownExt = Uint8Array.from([...body.subarray(0, -1), 1, 9, 1, 0x41]);
    expect(codeOf(() => decodeGrant(encodeGrant(unknownExt, [sig])))).toBe("malformed-grant");
    expect(codeOf(() => encodeGrantBody(testFields(ecdsa, { principal: "Root" })))).toBe("invalid-grant-field");
    expect(codeOf(() => encodeGrantBody(testFields(ecdsa, { reason: "line\nbreak" })))).toBe("invalid-grant-field");
    for (const bidi of ["\u202eevil", "a\u2066b", "\u200f"]) {
      expect(codeOf(() => encodeGrantBody(testFields(ecdsa, { reason: bidi })))).toBe("invalid-grant-field");
    }
    expect(codeOf(() => encodeGrantBody(testFields(ecdsa, { notAfter: 5, notBefore: 5 })))).toBe("invalid-grant-field");
    expect(codeOf(() => encodeGrantBody(testFields(ecdsa, { sourceAddress: "10.0.0.0/33" })))).toBe(
      "invalid-grant-field",
    );
    expect(codeOf(() => encodeGrantBody(testFields(ecdsa, { maxUses: 0 })))).toBe("invalid-grant-field");
  });

  it("carries min-trust-version as a 4-byte big-endian u32 of at least 1, and nothing else", () => {
    const body = encodeGrantBody(testFields(ecdsa, { reason: undefined as unknown as string, minTrustVersion: 258 }));
    // The last extension of the body: tag 5, length 4, then 258 big-endian.
    expect([...body.subarray(-7)]).toEqual([1, 5, 4, 0, 0, 1, 2]);
    const sig = (b: Uint8Array) => ({ keyId: ecdsa.keyId, algorithm: ecdsa.algorithm, signature: signWith(ecdsa, b) });
    const withValue = (value: number[]) => {
      const b = Uint8Array.from([...body.subarray(0, -7), 1, 5, value.length, ...value]);
      return encodeGrant(b, [sig(b)]);
    };
    expect(decodeGrant(withValue([0, 0, 1, 2])).minTrustVersion).toBe(258);
    expect(decodeGrant(withValue([0xff, 0xff, 0xff, 0xff])).minTrustVersion).toBe(0xffff_ffff);
    for (const value of [
      [0, 0, 0, 0],
      [1, 2],
      [0, 0, 0, 1, 2],
      [0, 0, 1],
    ]) {
      expect(
        codeOf(() => decodeGrant(withValue(value))),
        `${value}`,
      ).toBe("malformed-grant");
    }
    for (const minTrustVersion of [0, -1, 1.5, 2 ** 32]) {
      expect(codeOf(() => encodeGrantBody(testFields(ecdsa, { minTrustVersion })))).toBe("invalid-grant-field");
    }
  });

  it("never fails other than with an AirgrantError on arbitrary or mutated bytes", () => {
    const bytes = makeGrantBytes(testFields(ecdsa), [ecdsa]);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 400 }),
          fc.tuple(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const m = Uint8Array.from(bytes);
            m[i] = (m[i] as number) ^ x;
            return m;
          }),
        ),
        (input) => {
          codeOf(() => decodeGrant(input));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
