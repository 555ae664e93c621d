import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { AirgrantError } from "@airgrant/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { publicKeyFromEcPoint, spkiFromEcPoint } from "./subject-public-key-info.js";

/** A key pair from node:crypto, with its SPKI and the raw public key a token puts in CKA_EC_POINT. */
function referenceKey(alg: IssuerKeyAlg): { spki: Uint8Array; raw: Uint8Array } {
  const { publicKey } =
    alg === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = new Uint8Array(publicKey.export({ type: "spki", format: "der" }));
  const jwk = publicKey.export({ format: "jwk" });
  const x = Buffer.from(jwk.x ?? "", "base64url");
  const raw = alg === "ed25519" ? x : Buffer.concat([Buffer.of(4), x, Buffer.from(jwk.y ?? "", "base64url")]);
  return { spki, raw: new Uint8Array(raw) };
}

describe.each<IssuerKeyAlg>(["ecdsa-p256", "ed25519"])("spkiFromEcPoint %s", (alg) => {
  it("builds the SPKI that node:crypto exports, from the DER OCTET STRING or the bare point", () => {
    const { spki, raw } = referenceKey(alg);
    const wrapped = Uint8Array.from([0x04, raw.length, ...raw]);
    expect(spkiFromEcPoint(alg, wrapped)).toEqual(spki);
    expect(spkiFromEcPoint(alg, raw)).toEqual(spki);
    expect(() =>
      createPublicKey({ key: Buffer.from(spkiFromEcPoint(alg, raw)), format: "der", type: "spki" }),
    ).not.toThrow();
  });

  it("rejects anything else", () => {
    const expected = alg === "ed25519" ? 32 : 65;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        fc.pre(bytes.length !== expected && bytes.length !== expected + 2);
        expect(() => publicKeyFromEcPoint(alg, bytes)).toThrow(AirgrantError);
      }),
    );
  });
});

describe("publicKeyFromEcPoint", () => {
  it("rejects a P-256 point that is not uncompressed", () => {
    const compressedPadded = new Uint8Array(65).fill(2);
    expect(() => publicKeyFromEcPoint("ecdsa-p256", compressedPadded)).toThrow(AirgrantError);
  });
});
