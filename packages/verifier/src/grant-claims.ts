import {
  AirgrantError,
  decodeGrant,
  decodeGrantText,
  type Grant,
  type GrantSignature,
  issuerPublicKey,
  toHex,
  verifySignature,
} from "@airgrant/core";
import type { ClaimSignature, GrantClaims } from "./claims.js";
import type { Refusal } from "./grant-rules.js";

/** Presented input beyond this is not a grant: the longest four-signature grant is under 2 KiB. */
export const MAX_GRANT_INPUT_BYTES = 16 * 1024;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The claims of a grant as presented (its text form, any case, dashes and
 * whitespace allowed), or why it is not a grant. `oversized` says the input
 * went on past what was read.
 */
export function decodeGrantClaims(
  presented: Uint8Array,
  oversized = false,
): GrantClaims | Refusal<"malformed-grant" | "bad-checksum" | "unsupported-version"> {
  if (oversized) return { code: "malformed-grant", message: "input is far longer than any grant" };
  let grant: Grant;
  try {
    grant = decodeGrant(decodeGrantText(strictUtf8.decode(presented)));
  } catch (err) {
    if (err instanceof TypeError) return { code: "malformed-grant", message: "input is not text" };
    if (err instanceof AirgrantError) {
      const code = err.code === "bad-checksum" || err.code === "unsupported-version" ? err.code : "malformed-grant";
      return { code, message: err.message };
    }
    throw err;
  }
  return grantClaims(grant);
}

/**
 * One grant signature over `signedBytes`, by a bundle issuer or, when it
 * `mayApprove`, a bundle approver: a grant text's, or an approval a
 * certificate carries (certificate-claims.ts).
 */
export function signatureClaim(
  signature: GrantSignature,
  signedBytes: Uint8Array,
  mayApprove: boolean,
): ClaimSignature {
  const keyId = toHex(signature.keyId);
  return {
    name: `key ${keyId}`,
    findIssuer: (bundle) => bundle.issuers.find((issuer) => issuer.keyId === keyId),
    findApprover: (bundle) =>
      mayApprove ? bundle.approvals?.approvers.find((approver) => approver.keyId === keyId) : undefined,
    verify: (key) => {
      if (key.algorithm !== signature.algorithm) {
        return `key ${keyId} is a ${key.algorithm} key, the signature claims ${signature.algorithm}`;
      }
      return verifySignature(key.algorithm, issuerPublicKey(key), signedBytes, signature.signature)
        ? undefined
        : `signature by key ${keyId} does not verify`;
    },
  };
}

/** The claims of a decoded grant: what its fields say, and its signatures over its signed bytes. */
export function grantClaims(grant: Grant): GrantClaims {
  const claims: GrantClaims = {
    carrier: "grant-text",
    grantId: toHex(grant.grantId),
    // The first signature is the issuer's (docs/grant-format.md, "Signatures"), never an approval.
    signatures: grant.signatures.map((signature, index) => signatureClaim(signature, grant.signedBytes, index > 0)),
    notBefore: grant.notBefore,
    notAfter: grant.notAfter,
    principals: [grant.principal],
    target: grant.target,
    maxUses: grant.maxUses,
    constraints: {},
    anchor: grant.anchor,
  };
  if (grant.sourceAddress !== undefined) claims.constraints.sourceAddress = grant.sourceAddress;
  if (grant.forceCommand !== undefined) claims.constraints.forceCommand = grant.forceCommand;
  if (grant.challenge !== undefined) claims.constraints.challenge = grant.challenge;
  if (grant.minTrustVersion !== undefined) claims.minTrustVersion = grant.minTrustVersion;
  return claims;
}
