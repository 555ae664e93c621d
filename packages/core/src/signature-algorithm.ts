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
 * The one DER SubjectPublicKeyInfo of each algorithm's keys is these bytes
 * followed by the public key: for P-256, SEQUENCE { SEQUENCE {
 * id-ecPublicKey, prime256v1 }, BIT STRING (the 65-byte uncompressed point
 * 04 || x || y) } (RFC 5480, 2); for Ed25519, SEQUENCE { SEQUENCE {
 * id-Ed25519 }, BIT STRING (the 32-byte key) } (RFC 8410, 4).
 */
const SPKI_FORM: Readonly<Record<SignatureAlgorithm, { prefix: Buffer; keyLength: number }>> = {
  "ecdsa-p256-sha256": {
    prefix: Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex"),
    keyLength: 65,
  },
  ed25519: { prefix: Buffer.from("302a300506032b6570032100", "hex"), keyLength: 32 },
};

/** The DER SubjectPublicKeyInfo of a raw public key (an uncompressed P-256 point, or an Ed25519 key). */
export function spkiOf(algorithm: SignatureAlgorithm, publicKey: Uint8Array): Uint8Array {
  const { prefix, keyLength } = SPKI_FORM[algorithm];
  if (publicKey.length !== keyLength || (algorithm === "ecdsa-p256-sha256" && publicKey[0] !== 0x04)) {
    throw new AirgrantError(
      "bad-public-key",
      `a ${algorithm} public key is ${keyLength} bytes${keyLength === 65 ? ", starting 04" : ""}`,
    );
  }
  return new Uint8Array(Buffer.concat([prefix, publicKey]));
}

/**
 * The raw public key inside a DER SubjectPublicKeyInfo of `algorithm` in its
 * one encoding (SPKI_FORM; for P-256 the uncompressed point), or
 * `bad-public-key`. Nothing else is accepted: a key id hashes these bytes,
 * and a key written two ways would have two ids.
 */
export function rawPublicKey(algorithm: SignatureAlgorithm, spki: Uint8Array): Uint8Array {
  const { prefix, keyLength } = SPKI_FORM[algorithm];
  const bytes = Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength);
  const key = bytes.subarray(prefix.length);
  if (
    bytes.length !== prefix.length + keyLength ||
    !bytes.subarray(0, prefix.length).equals(prefix) ||
    (algorithm === "ecdsa-p256-sha256" && key[0] !== 0x04)
  ) {
    throw new AirgrantError(
      "bad-public-key",
      `public key is not the DER SubjectPublicKeyInfo of a ${algorithm} key in its one encoding${algorithm === "ed25519" ? "" : " (an uncompressed point)"}`,
    );
  }
  return new Uint8Array(key);
}

/**
 * Parse a DER SubjectPublicKeyInfo as a key of `algorithm` (rawPublicKey),
 * for P-256 a point on the curve. The key is imported from its coordinates,
 * which also spares a login OpenSSL's DER decoders.
 */
export function importPublicKey(algorithm: SignatureAlgorithm, spki: Uint8Array): KeyObject {
  const key = Buffer.from(rawPublicKey(algorithm, spki));
  const jwk =
    algorithm === "ed25519"
      ? { kty: "OKP", crv: "Ed25519", x: key.toString("base64url") }
      : {
          kty: "EC",
          crv: "P-256",
          x: key.subarray(1, 33).toString("base64url"),
          y: key.subarray(33).toString("base64url"),
        };
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch (err) {
    throw new AirgrantError("bad-public-key", `public key is not a ${algorithm} key: not a point of its curve`, {
      cause: err,
    });
  }
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
