// Software issuer keys that sign grants the way the signer's token does, so
// unit tests can make grants without a token. End-to-end tests use the real
// token instead (./token).
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import {
  encodeGrant,
  encodeGrantBody,
  encodeGrantText,
  encodeTrustBundle,
  type GrantFields,
  keyIdOf,
  type SignatureAlgorithm,
  type TrustBundle,
  type TrustedIssuer,
  toHex,
  toLowS,
} from "@airgrant/core";

/** An issuer as a trust bundle names it. */
export interface BundleIssuer {
  algorithm: SignatureAlgorithm;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  keyId: Uint8Array;
}

/** An issuer that signs grants: a software TestIssuer, or a key on a token (TokenIssuer). */
export interface GrantSigner extends BundleIssuer {
  sign(message: Uint8Array): Uint8Array;
}

export interface TestIssuer extends GrantSigner {
  privateKey: KeyObject;
}

export function makeTestIssuer(algorithm: SignatureAlgorithm = "ecdsa-p256-sha256"): TestIssuer {
  const { privateKey, publicKey } =
    algorithm === "ed25519" ? generateKeyPairSync("ed25519") : generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
  const issuer: TestIssuer = { algorithm, privateKey, spki, keyId: keyIdOf(spki), sign: (m) => signWith(issuer, m) };
  return issuer;
}

export function signWith(issuer: Pick<TestIssuer, "algorithm" | "privateKey">, message: Uint8Array): Uint8Array {
  return issuer.algorithm === "ed25519"
    ? new Uint8Array(sign(null, message, issuer.privateKey))
    : toLowS(new Uint8Array(sign("sha256", message, { key: issuer.privateKey, dsaEncoding: "ieee-p1363" })));
}

/** n of P-256 (SEC 2 v2, 2.4.2), written out again so tests do not trust the code they test. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/** The other signature of the same key over the same message: r||s with s replaced by n - s. */
export function ecdsaTwin(signature: Uint8Array): Uint8Array {
  const s = BigInt(`0x${Buffer.from(signature.subarray(32)).toString("hex")}`);
  const twin = Uint8Array.from(signature);
  twin.set(Buffer.from((P256_N - s).toString(16).padStart(64, "0"), "hex"), 32);
  return twin;
}

export const T0 = 1_800_000_000;

export function testFields(issuer: Pick<BundleIssuer, "keyId">, overrides: Partial<GrantFields> = {}): GrantFields {
  return {
    grantId: new Uint8Array(randomBytes(16)),
    issuerKeyId: issuer.keyId,
    notBefore: T0,
    notAfter: T0 + 3600,
    maxUses: 1,
    principal: "alice",
    target: { kind: "host", name: "db1.example" },
    anchor: { seq: 42, headPrefix: new Uint8Array(8).fill(7) },
    reason: "patch openssl",
    ...overrides,
  };
}

/** Sign `fields` with each issuer in turn; the first must be the grant's issuer. */
export function makeGrantBytes(fields: GrantFields, signers: GrantSigner[]): Uint8Array {
  const body = encodeGrantBody(fields);
  return encodeGrant(
    body,
    signers.map((s) => ({ keyId: s.keyId, algorithm: s.algorithm, signature: s.sign(body) })),
  );
}

export function makeGrantText(fields: GrantFields, signers: GrantSigner[]): string {
  return encodeGrantText(makeGrantBytes(fields, signers));
}

/** The bundle's entry for `issuer`, valid a year either side of T0 unless `validity` says otherwise. */
export function trustedIssuer(
  issuer: BundleIssuer,
  targets: string[] = ["*"],
  validity: Pick<TrustedIssuer, "notBefore" | "notAfter"> = {
    notBefore: T0 - 365 * 86_400,
    notAfter: T0 + 365 * 86_400,
  },
): TrustedIssuer {
  return { keyId: toHex(issuer.keyId), algorithm: issuer.algorithm, publicKey: issuer.spki, ...validity, targets };
}

export function makeBundle(issuers: BundleIssuer[], overrides: Partial<TrustBundle> = {}): TrustBundle {
  return {
    bundleId: "00112233445566778899aabbccddeeff",
    created: T0 - 86_400,
    issuers: issuers.map((i) => trustedIssuer(i)),
    groups: { dbs: ["db1.example", "db2.example"] },
    maxLifetime: 8 * 3600,
    clockSkew: 300,
    requiredSignatures: 1,
    revokedGrants: [],
    ...overrides,
  };
}

export function makeBundleBytes(issuers: BundleIssuer[], overrides: Partial<TrustBundle> = {}): Uint8Array {
  return encodeTrustBundle(makeBundle(issuers, overrides));
}
