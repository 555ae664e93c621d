import { AirgrantError } from "@airgrant/core";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";

/**
 * Fixed DER prefixes of SubjectPublicKeyInfo up to the BIT STRING's unused-bits
 * byte; the public key bytes follow.
 * P-256: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (65-byte uncompressed point) } (RFC 5480 §2).
 * Ed25519: SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING (32-byte key) } (RFC 8410 §4).
 */
const SPKI_PREFIX: Readonly<Record<IssuerKeyAlg, Uint8Array>> = {
  "ecdsa-p256": Uint8Array.of(
    0x30,
    0x59,
    0x30,
    0x13,
    0x06,
    0x07,
    0x2a,
    0x86,
    0x48,
    0xce,
    0x3d,
    0x02,
    0x01,
    0x06,
    0x08,
    0x2a,
    0x86,
    0x48,
    0xce,
    0x3d,
    0x03,
    0x01,
    0x07,
    0x03,
    0x42,
    0x00,
  ),
  ed25519: Uint8Array.of(0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00),
};

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
  const key = publicKeyFromEcPoint(alg, ecPoint);
  const prefix = SPKI_PREFIX[alg];
  const spki = new Uint8Array(prefix.length + key.length);
  spki.set(prefix);
  spki.set(key, prefix.length);
  return spki;
}
