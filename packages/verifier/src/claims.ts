import type { BundleKey, GrantAnchor, GrantTarget, TrustBundle, TrustedApprover, TrustedIssuer } from "@airgrant/core";

/**
 * What a grant claims, whichever carrier brought it: its text form
 * (grant-claims.ts) or an OpenSSH certificate minted for it
 * (certificate-claims.ts). Every way in decodes its carrier into this one
 * value, and one rule list (grant-rules.ts) decides on it.
 */
export interface GrantClaims {
  carrier: Carrier;
  /** 32 lower-case hex digits. */
  grantId: string;
  /** In the carrier's order; the first is the grant's issuer (a certificate's CA, then its approvals extension's grant signatures). */
  signatures: ClaimSignature[];
  /** Seconds since the epoch; a certificate's bounds may be past 2^32 (they are uint64). */
  notBefore: number;
  notAfter: number;
  /** The accounts it names: one for every grant; a certificate could name several. */
  principals: string[];
  target: GrantTarget;
  maxUses: number;
  constraints: GrantConstraints;
  /** The lowest trust version the host must have applied (docs/grant-format.md, "Extensions"). */
  minTrustVersion?: number;
  /** The signer log's head when the grant was minted; a certificate carries it only in its approvals extension. */
  anchor?: GrantAnchor;
  /** The certificate's serial, decimal. */
  sshSerial?: string;
}

export type Carrier = "grant-text" | "ssh-certificate";

/** The grant's constraints (docs/grant-format.md, "Extensions"). */
export interface GrantConstraints {
  sourceAddress?: string;
  forceCommand?: string;
  challenge?: Uint8Array;
  /** Critical options of a certificate that no grant carries: sshd would refuse them, and so does the host. */
  unknown?: string[];
}

/** One signature of the carrier, to be matched to a bundle issuer and verified. */
export interface ClaimSignature {
  /** How the carrier names the key, for messages: `key 0b6e…` or `CA key ecdsa-sha2-nistp256`. */
  name: string;
  findIssuer(bundle: TrustBundle): TrustedIssuer | undefined;
  /** The bundle approver whose key made it, for a signature that can be an approval (docs/trust-bundle.md, "Approvals"). */
  findApprover(bundle: TrustBundle): TrustedApprover | undefined;
  /** undefined when it verifies by `key` (an issuer's or an approver's), else why not. */
  verify(key: BundleKey): string | undefined;
}
