import { AirgrantError, spkiOf } from "@airgrant/core";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";

/** Length of the public key itself: an uncompressed P-256 point (0x04 || X || Y), or an Ed25519 key. */
const PUBLIC_KEY_LENGTH: Readonly<Record<IssuerKeyAlg, number>> = { "ecdsa-p256": 65, ed25519: 32 };

/**
 * The public key bytes inside CKA_EC_POINT. PKCS#11 says CKA_EC_POINT is the
 * DER OCTET STRING holding the point (v2.40 §2.3.3, v3.0 §2.3.6), but some
 * modules return the bare point; both are accepted, nothing else is.
 */
export function publicKeyFromEcPoint(alg: IssuerKeyAlg, ecPoint: Uint8Array): Uint8Array {
  const length = PUBLIC_KEY_LENGTH[alg];
  let key: Uint8Array | undefined;
  if (ecPoint.length === length + 2 && ecPoint[0] === 0x04 && ecPoint[1] === length) key = ecPoint.subarray(2);
  else if (ecPoint.length === length) key = ecPoint;
  if (key === undefined || (alg === "ecdsa-p256" && key[0] !== 0x04)) {
    throw new AirgrantError(
      "internal",
      `the token returned a CKA_EC_POINT of ${ecPoint.length} bytes that is not a ${alg} public key`,
    );
  }
  return key;
}

/** DER SubjectPublicKeyInfo for a token's CKA_EC_POINT, as `openssl pkey -pubin -inform DER` reads it. */
export function spkiFromEcPoint(alg: IssuerKeyAlg, ecPoint: Uint8Array): Uint8Array {
  return spkiOf(signatureAlgorithmOf(alg), publicKeyFromEcPoint(alg, ecPoint));
}
