import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { AirgrantError } from "./airgrant-error.js";
import { toHex } from "./hex.js";
import { sha256 } from "./sha256.js";

/**
 * Signature algorithms a grant may carry (docs/grant-format.md, "Signatures").
 * Codes are the byte in the grant; names are what bundles and people use.
 */
export const SIGNATURE_ALGORITHMS = {
  "ecdsa-p256-sha256": { code: 1, signatureLength: 64 },
  ed25519: { code: 2, signatureLength: 64 },
} as const;

export type SignatureAlgorithm = keyof typeof SIGNATURE_ALGORITHMS;

export const KEY_ID_LENGTH = 8;

export function signatureAlgorithmByCode(code: number): SignatureAlgorithm | undefined {
  for (const [name, info] of Object.entries(SIGNATURE_ALGORITHMS)) {
    if (info.code === code) return name as SignatureAlgorithm;
  }
  return undefined;
}

export function isSignatureAlgorithm(name: string): name is SignatureAlgorithm {
  return Object.hasOwn(SIGNATURE_ALGORITHMS, name);
}

/** A key's id: the first 8 bytes of SHA-256 over its DER SubjectPublicKeyInfo. */
export function keyIdOf(spki: Uint8Array): Uint8Array {
  return sha256(spki).subarray(0, KEY_ID_LENGTH);
}

/**
 * Parse a DER SubjectPublicKeyInfo and check that it is a key of `algorithm`:
 * a P-256 key for ECDSA, an Ed25519 key for Ed25519, in its one canonical
 * encoding: the DER of the key rebuilt from its coordinates (for P-256 the
 * uncompressed point). Nothing else is accepted: a key id hashes these
 * bytes, and a key written two ways would have two ids.
 */
export function importPublicKey(algorithm: SignatureAlgorithm, spki: Uint8Array): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (err) {
    throw new AirgrantError("bad-public-key", "public key is not a valid DER SubjectPublicKeyInfo", { cause: err });
  }
  const matches =
    algorithm === "ed25519"
      ? key.asymmetricKeyType === "ed25519"
      : key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1";
  if (!matches) {
    throw new AirgrantError("bad-public-key", `public key is not a ${algorithm} key`);
  }
  // Through JWK: a key parsed from a compressed point exports compressed again.
  const canonical = createPublicKey({ key: key.export({ format: "jwk" }), format: "jwk" });
  if (!Buffer.from(spki).equals(canonical.export({ type: "spki", format: "der" }))) {
    throw new AirgrantError(
      "bad-public-key",
      `public key is not the canonical DER SubjectPublicKeyInfo of its ${algorithm} key${algorithm === "ed25519" ? "" : " (an uncompressed point)"}`,
    );
  }
  return key;
}

/** The order n of the P-256 base point (SEC 2 v2, 2.4.2; FIPS 186-4, D.1.2.3). */
const P256_ORDER = 0xffffffff_00000000_ffffffff_ffffffff_bce6faad_a7179e84_f3b9cac2_fc632551n;

function scalarAt(signature: Uint8Array, offset: number): bigint {
  return BigInt(`0x${toHex(signature.subarray(offset, offset + 32))}`);
}

/**
 * Whether a raw ECDSA P-256 signature r||s has s at most n/2. (r, s) and
 * (r, n - s) both verify; accepting one of them only gives every signed
 * message one signature (docs/grant-format.md, "Signatures").
 */
export function isLowS(signature: Uint8Array): boolean {
  return signature.length === 64 && scalarAt(signature, 32) <= P256_ORDER >> 1n;
}

/** The low-S form of a raw ECDSA P-256 signature r||s: s replaced by n - s when s > n/2. */
export function toLowS(signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new AirgrantError("internal", "an ECDSA P-256 signature is 64 bytes");
  if (isLowS(signature)) return signature;
  const out = Uint8Array.from(signature);
  out.set(Buffer.from((P256_ORDER - scalarAt(signature, 32)).toString(16).padStart(64, "0"), "hex"), 32);
  return out;
}

/**
 * Verify a raw signature: ECDSA as r||s (IEEE P1363, 32 bytes each) over
 * SHA-256 of the message, s at most n/2 (low-S); Ed25519 as RFC 8032 over
 * the message itself.
 */
export function verifySignature(
  algorithm: SignatureAlgorithm,
  key: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== SIGNATURE_ALGORITHMS[algorithm].signatureLength) return false;
  if (algorithm === "ed25519") return verify(null, message, key, signature);
  return isLowS(signature) && verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature);
}
