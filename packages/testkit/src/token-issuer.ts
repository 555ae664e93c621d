// End-to-end test support: an issuer key generated on a real SoftHSM2 token,
// grants signed on that token, and the trust bundle that trusts it. The
// signer CLI is not used: these tests prove the host side against keys and
// signatures that came out of a real PKCS#11 token.
import { randomBytes } from "node:crypto";
import {
  encodeGrant,
  encodeGrantBody,
  encodeGrantText,
  encodeTrustBundle,
  type GrantFields,
  keyIdOf,
  type SignatureAlgorithm,
  type TrustBundle,
  toHex,
} from "@airgrant/core";
import { findPkcs11Module, type IssuerKeyAlg, openToken, type TokenSession } from "@airgrant/signer";
import { makeTestToken } from "./test-token.js";

const SIGNATURE_ALGORITHM: Readonly<Record<IssuerKeyAlg, SignatureAlgorithm>> = {
  "ecdsa-p256": "ecdsa-p256-sha256",
  ed25519: "ed25519",
};

export interface MintedGrant {
  text: string;
  grantId: string;
  fields: GrantFields;
}

/** What a grant must say; everything else has a default (an hour from a minute ago, one use). */
export type GrantRequest = Pick<GrantFields, "principal" | "target"> & Partial<GrantFields>;

export interface TokenIssuer {
  algorithm: SignatureAlgorithm;
  keyLabel: string;
  /** DER SubjectPublicKeyInfo, as read from the token. */
  spki: Uint8Array;
  keyId: Uint8Array;
  /** Sign `fields` on the token and return the grant's text form. */
  mint(request: GrantRequest, now?: number): MintedGrant;
  /**
   * Mint with extra co-signatures from other token issuers after this one's
   * (the grant's issuer signs first).
   */
  mintCoSigned(request: GrantRequest, coSigners: TokenIssuer[], now?: number): MintedGrant;
  /** Sign raw bytes on the token. */
  sign(message: Uint8Array): Uint8Array;
}

export interface SoftHsmIssuers {
  /** The directory holding the token (removed by close). */
  dir: string;
  issuers: TokenIssuer[];
  /** Close the session and delete the token directory; safe to call twice. */
  close(): void;
}

/**
 * A fresh SoftHSM2 token in a temporary directory, with one issuer key per
 * requested algorithm generated on it. Sets SOFTHSM2_CONF for this process:
 * SoftHSM2 reads it once, so a process gets one such token at a time.
 */
export function openSoftHsmIssuers(algs: IssuerKeyAlg[] = ["ecdsa-p256"]): SoftHsmIssuers {
  const token = makeTestToken(openToken, findPkcs11Module(), "airgrant-e2e");
  try {
    const session = token.open();
    const issuers = algs.map((alg, index) => {
      const keyLabel = `airgrant-e2e-${index}-${alg}`;
      const info = session.findOrCreateIssuerKey({ label: keyLabel, alg, create: true });
      return tokenIssuer(session, keyLabel, SIGNATURE_ALGORITHM[alg], info.publicKeySpki);
    });
    return { dir: token.dir, issuers, close: () => token.remove() };
  } catch (err) {
    token.remove();
    throw err;
  }
}

function grantFields(issuer: TokenIssuer, request: GrantRequest, now: number): GrantFields {
  return {
    grantId: new Uint8Array(randomBytes(16)),
    issuerKeyId: issuer.keyId,
    notBefore: now - 60,
    notAfter: now + 3600,
    maxUses: 1,
    anchor: { seq: 1, headPrefix: new Uint8Array(8) },
    reason: "end-to-end test",
    ...request,
  };
}

function tokenIssuer(
  session: TokenSession,
  keyLabel: string,
  algorithm: SignatureAlgorithm,
  spki: Uint8Array,
): TokenIssuer {
  const issuer: TokenIssuer = {
    algorithm,
    keyLabel,
    spki,
    keyId: keyIdOf(spki),
    sign: (message) => session.sign(keyLabel, message),
    mint: (request, now = Math.floor(Date.now() / 1000)) => issuer.mintCoSigned(request, [], now),
    mintCoSigned(request, coSigners, now = Math.floor(Date.now() / 1000)) {
      const fields = grantFields(issuer, request, now);
      const body = encodeGrantBody(fields);
      const signatures = [issuer, ...coSigners].map((s) => ({
        keyId: s.keyId,
        algorithm: s.algorithm,
        signature: s.sign(body),
      }));
      return { text: encodeGrantText(encodeGrant(body, signatures)), grantId: toHex(fields.grantId), fields };
    },
  };
  return issuer;
}

/** A trust bundle (docs/trust-bundle.md) that trusts these issuers for every target. */
export function trustBundleFor(
  issuers: TokenIssuer[],
  now = Math.floor(Date.now() / 1000),
  overrides: Partial<TrustBundle> = {},
): Uint8Array {
  return encodeTrustBundle({
    bundleId: toHex(randomBytes(16)),
    created: now - 60,
    issuers: issuers.map((issuer) => ({
      keyId: toHex(issuer.keyId),
      algorithm: issuer.algorithm,
      publicKey: issuer.spki,
      notBefore: now - 86_400,
      notAfter: now + 86_400,
      targets: ["*"],
    })),
    groups: {},
    maxLifetime: 8 * 3600,
    clockSkew: 300,
    requiredSignatures: 1,
    revokedGrants: [],
    ...overrides,
  });
}
