import type { SignatureAlgorithm } from "@airgrant/core";

/** The signature algorithms an airgrant issuer key can have. */
export type IssuerKeyAlg = "ecdsa-p256" | "ed25519";

export const ISSUER_KEY_ALGS: readonly IssuerKeyAlg[] = ["ecdsa-p256", "ed25519"];

/** DER of the named-curve OID prime256v1 / secp256r1, 1.2.840.10045.3.1.7 (RFC 5480 §2.1.1.1). */
export const P256_EC_PARAMS: Uint8Array = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07);

/** DER of the OID id-Ed25519, 1.3.101.112 (RFC 8410 §3); PKCS#11 v3.1 §2.3.6 prefers it. */
export const ED25519_EC_PARAMS_OID: Uint8Array = Uint8Array.of(0x06, 0x03, 0x2b, 0x65, 0x70);

/**
 * DER PrintableString "edwards25519", the curve name PKCS#11 v3.0 §2.3.6
 * specified first; older tokens accept only this form.
 */
export const ED25519_EC_PARAMS_NAME: Uint8Array = Uint8Array.of(
  0x13,
  0x0c,
  ...new TextEncoder().encode("edwards25519"),
);

/** Whether a value is one of the issuer key algorithms. */
export function isIssuerKeyAlg(value: string): value is IssuerKeyAlg {
  return (ISSUER_KEY_ALGS as readonly string[]).includes(value);
}

/** The grant format's name for each issuer key algorithm. */
export function signatureAlgorithmOf(alg: IssuerKeyAlg): SignatureAlgorithm {
  return alg === "ecdsa-p256" ? "ecdsa-p256-sha256" : "ed25519";
}
