// Version 2 (signed) trust bundles made and signed in software, the way
// `airgrant-signer bundle` and `bundle sign` make them on tokens, so unit
// tests can walk a host through signed updates without a token.
import {
  assembleSignedTrustBundle,
  type BundleKey,
  encodeSignedTrustContent,
  type SignedTrust,
  type TrustBundle,
  type TrustedApprover,
  toHex,
} from "@airgrant/core";
import { type BundleIssuer, type GrantSigner, makeBundle, T0 } from "./test-issuer.js";

/** A root key as a bundle's `roots.keys` names it. */
export function rootKeyOf(root: BundleIssuer): BundleKey {
  return { keyId: toHex(root.keyId), algorithm: root.algorithm, publicKey: root.spki };
}

/** An officer's approval key as a bundle's `approvers` names it. */
export function trustedApprover(key: BundleIssuer, officer: string, targets: string[] = ["*"]): TrustedApprover {
  return { ...rootKeyOf(key), officer, targets };
}

export interface SignedBundleSpec {
  trustVersion: number;
  roots: BundleIssuer[];
  threshold: number;
  /** Who signs it (default: every root). */
  signers?: GrantSigner[];
  expires?: number;
  onExpiry?: SignedTrust["onExpiry"];
  /** Members of the bundle as makeBundle takes them. */
  overrides?: Partial<TrustBundle>;
}

/** The bundle a SignedBundleSpec describes, unsigned. */
export function makeSignedBundle(
  issuers: BundleIssuer[],
  spec: Omit<SignedBundleSpec, "signers">,
): TrustBundle & { signedTrust: SignedTrust } {
  return {
    ...makeBundle(issuers, spec.overrides),
    requiredSignatures: 1,
    signedTrust: {
      trustVersion: spec.trustVersion,
      expires: spec.expires ?? T0 + 365 * 86_400,
      onExpiry: spec.onExpiry ?? "warn",
      roots: { keys: spec.roots.map(rootKeyOf), threshold: spec.threshold },
    },
  };
}

/** A version 2 bundle file signed by `spec.signers` (default: all of `spec.roots`). */
export function makeSignedBundleBytes(issuers: BundleIssuer[], spec: SignedBundleSpec): Uint8Array {
  const signedBytes = encodeSignedTrustContent(makeSignedBundle(issuers, spec));
  const signers = spec.signers ?? (spec.roots as GrantSigner[]);
  return assembleSignedTrustBundle(
    signedBytes,
    signers.map((s) => ({ keyId: toHex(s.keyId), signature: s.sign(signedBytes) })),
  );
}
