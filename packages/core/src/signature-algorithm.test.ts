import { createPublicKey, ECDH, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { ecdsaTwin, makeGrantBytes, makeTestIssuer, testFields } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeGrant } from "./grant-codec.js";
import {
  importPublicKey,
  isLowS,
  rawPublicKey,
  type SignatureAlgorithm,
  spkiOf,
  toLowS,
  verifySignature,
} from "./signature-algorithm.js";

interface LowSVector {
  publicKey: { spkiBase64: string };
  cases: { name: string; message: string; r: string; s: string; lowS: boolean; accepted: boolean }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/vectors/ecdsa-p256-low-s-v1.json", import.meta.url), "utf8"),
) as LowSVector;

describe("ECDSA P-256 signatures: low S only", () => {
  const key = importPublicKey("ecdsa-p256-sha256", new Uint8Array(Buffer.from(vectors.publicKey.spkiBase64, "base64")));

  it.each(vectors.cases)("$name", ({ message, r, s, lowS, accepted }) => {
    const signature = new Uint8Array(Buffer.from(r + s, "hex"));
    const bytes = new TextEncoder().encode(message);
    // Both forms are valid ECDSA: what refuses one is the low-S rule, not a broken vector.
    expect(verify("sha256", bytes, { key, dsaEncoding: "ieee-p1363" }, signature)).toBe(true);
    expect(isLowS(signature)).toBe(lowS);
    expect(verifySignature("ecdsa-p256-sha256", key, bytes, signature)).toBe(accepted);
    expect(verifySignature("ecdsa-p256-sha256", key, bytes, toLowS(signature))).toBe(true);
  });

  it("refuses the high-S twin of a grant's signature, over the same signed bytes", () => {
    const issuer = makeTestIssuer("ecdsa-p256-sha256");
    const grant = decodeGrant(makeGrantBytes(testFields(issuer), [issuer]));
    const [signature] = grant.signatures;
    const publicKey = importPublicKey(issuer.algorithm, issuer.spki);
    const sig = signature?.signature as Uint8Array;
    expect(verifySignature(issuer.algorithm, publicKey, grant.signedBytes, sig)).toBe(true);
    const twin = ecdsaTwin(sig);
    expect(verify("sha256", grant.signedBytes, { key: publicKey, dsaEncoding: "ieee-p1363" }, twin)).toBe(true);
    expect(verifySignature(issuer.algorithm, publicKey, grant.signedBytes, twin)).toBe(false);
  });

  it("makes every signature low and leaves a low one as it is", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (signature) => {
        const low = toLowS(signature);
        expect(isLowS(low)).toBe(true);
        expect(low.subarray(0, 32)).toEqual(signature.subarray(0, 32));
        if (isLowS(signature)) expect(low).toBe(signature);
        else expect(ecdsaTwin(low)).toEqual(signature);
      }),
    );
  });
});

describe("public keys: one DER form each, and a point of the curve", () => {
  const p256 = makeTestIssuer("ecdsa-p256-sha256");
  const ed = makeTestIssuer("ed25519");

  it("takes each key in the DER openssl writes and gives back its raw key", () => {
    for (const issuer of [p256, ed]) {
      const der = createPublicKey({ key: Buffer.from(issuer.spki), format: "der", type: "spki" });
      expect(Buffer.from(der.export({ type: "spki", format: "der" }))).toEqual(Buffer.from(issuer.spki));
      const key = importPublicKey(issuer.algorithm, issuer.spki);
      expect(key.equals(der)).toBe(true);
      expect(spkiOf(issuer.algorithm, rawPublicKey(issuer.algorithm, issuer.spki))).toEqual(issuer.spki);
    }
  });

  it("refuses a point off the curve, a compressed point, the other algorithm's key and a longer encoding", () => {
    const offCurve = Uint8Array.from(p256.spki);
    offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] ?? 0) ^ 1;
    const compressed = ECDH.convertKey(
      Buffer.from(p256.spki.subarray(26)),
      "prime256v1",
      undefined,
      undefined,
      "compressed",
    ) as Buffer;
    const compressedSpki = Buffer.concat([
      Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex"),
      compressed,
    ]);
    // The compressed form is a valid key to OpenSSL: only the one-form rule refuses it.
    expect(() => createPublicKey({ key: compressedSpki, format: "der", type: "spki" })).not.toThrow();
    const cases: [SignatureAlgorithm, Uint8Array][] = [
      ["ecdsa-p256-sha256", offCurve],
      ["ecdsa-p256-sha256", new Uint8Array(compressedSpki)],
      ["ecdsa-p256-sha256", ed.spki],
      ["ed25519", p256.spki],
      ["ed25519", Uint8Array.of(...ed.spki, 0)],
    ];
    for (const [algorithm, spki] of cases) {
      expect(() => importPublicKey(algorithm, spki)).toThrow(expect.objectContaining({ code: "bad-public-key" }));
    }
  });
});
