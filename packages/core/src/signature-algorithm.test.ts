import { verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { ecdsaTwin, makeGrantBytes, makeTestIssuer, testFields } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeGrant } from "./grant-codec.js";
import { importPublicKey, isLowS, toLowS, verifySignature } from "./signature-algorithm.js";

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
