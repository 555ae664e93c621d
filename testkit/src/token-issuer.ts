// End-to-end test support: an issuer key generated on a real SoftHSM2 token,
// grants signed on that token, and the trust bundle that trusts it. The
// signer CLI is not used: these tests prove the host side against keys and
// signatures that came out of a real PKCS#11 token.
import { randomBytes } from "node:crypto";
import { type GrantFields, keyIdOf, type TrustBundle, toHex } from "@airgrant/core";
import {
  findPkcs11Module,
  type IssuerKeyAlg,
  openToken,
  signatureAlgorithmOf,
  type TokenSession,
} from "@airgrant/signer";
import { type GrantSigner, makeBundleBytes, makeGrantText, testFields, trustedIssuer } from "./test-issuer.js";
import { makeTestToken } from "./test-token.js";

export interface MintedGrant {
  text: string;
  grantId: string;
  fields: GrantFields;
}

/** What a grant must say; everything else has a default (an hour from a minute ago, one use). */
export type GrantRequest = Pick<GrantFields, "principal" | "target"> & Partial<GrantFields>;

/** An issuer key on the token; `spki` is as read from the token, `sign` signs on it. */
export interface TokenIssuer extends GrantSigner {
  keyLabel: string;
  /** Sign `fields` on the token and return the grant's text form. */
  mint(request: GrantRequest, now?: number): MintedGrant;
  /**
   * Mint with extra co-signatures from other token issuers after this one's
   * (the grant's issuer signs first).
   */
  mintCoSigned(request: GrantRequest, coSigners: TokenIssuer[], now?: number): MintedGrant;
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
      return tokenIssuer(session, keyLabel, alg, info.publicKeySpki);
    });
    return { dir: token.dir, issuers, close: () => token.remove() };
  } catch (err) {
    token.remove();
    throw err;
  }
}

function tokenIssuer(session: TokenSession, keyLabel: string, alg: IssuerKeyAlg, spki: Uint8Array): TokenIssuer {
  const issuer: TokenIssuer = {
    algorithm: signatureAlgorithmOf(alg),
    keyLabel,
    spki,
    keyId: keyIdOf(spki),
    sign: (message) => session.sign(keyLabel, message),
    mint: (request, now = Math.floor(Date.now() / 1000)) => issuer.mintCoSigned(request, [], now),
    mintCoSigned(request, coSigners, now = Math.floor(Date.now() / 1000)) {
      const fields = testFields(issuer, {
        notBefore: now - 60,
        notAfter: now + 3600,
        anchor: { seq: 1, headPrefix: new Uint8Array(8) },
        reason: "end-to-end test",
        ...request,
      });
      return { text: makeGrantText(fields, [issuer, ...coSigners]), grantId: toHex(fields.grantId), fields };
    },
  };
  return issuer;
}

/** A trust bundle (docs/trust-bundle.md) that trusts these issuers for every target, from a day ago for two days. */
export function trustBundleFor(
  issuers: TokenIssuer[],
  now = Math.floor(Date.now() / 1000),
  overrides: Partial<TrustBundle> = {},
): Uint8Array {
  const validity = { notBefore: now - 86_400, notAfter: now + 86_400 };
  return makeBundleBytes(issuers, {
    bundleId: toHex(randomBytes(16)),
    created: now - 60,
    issuers: issuers.map((issuer) => trustedIssuer(issuer, ["*"], validity)),
    groups: {},
    ...overrides,
  });
}
