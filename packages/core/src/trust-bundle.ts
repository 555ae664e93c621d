import type { KeyObject } from "node:crypto";
import { AirgrantError } from "./airgrant-error.js";
import { encodeCanonicalJson, type JsonValue } from "./canonical-json.js";
import {
  asInteger,
  asObject,
  type BundleKey,
  bad,
  bundleKeyObject,
  decodeBundlePolicy,
  encodeBundlePolicy,
  readBundleText,
  TRUST_BUNDLE_FORMAT,
  type TrustBundle,
} from "./trust-bundle-members.js";
import { decodeSignedTrustValue, type SignedTrustBundleFile } from "./trust-bundle-v2.js";

export type {
  BundleKey,
  RequestPolicy,
  SignedTrust,
  TrustBundle,
  TrustedIssuer,
  TrustRoots,
} from "./trust-bundle-members.js";
export {
  DEFAULT_REQUEST_POLICY,
  MAX_CLOCK_SKEW,
  MAX_PENDING_REQUESTS,
  MAX_REQUEST_LIFETIME,
  MAX_TRUST_BUNDLE_BYTES,
  requestPolicyOf,
  TRUST_BUNDLE_FORMAT,
  targetsCoverHost,
} from "./trust-bundle-members.js";

export const TRUST_BUNDLE_VERSION = 1;

const V1_MEMBERS = [
  "bundleId",
  "clockSkew",
  "created",
  "format",
  "groups",
  "issuers",
  "maxLifetime",
  "requiredSignatures",
  "revokedGrants",
  "version",
] as const;

/** A version 2 file is the object of `signatures` and `signed`; a version 1 file has neither. */
function isSignedShape(value: JsonValue): value is { [key: string]: JsonValue } {
  return value !== null && typeof value === "object" && !Array.isArray(value) && "signed" in value;
}

/**
 * Decode and validate a trust bundle file of either version: canonical JSON
 * followed by one newline, every member checked. A version 2 file's
 * signatures are checked for form only; whether they meet a set of roots is
 * the update's question (trust-update.ts). Throws `malformed-bundle`.
 */
export function decodeTrustBundle(bytes: Uint8Array): TrustBundle {
  const { text, value } = readBundleText(bytes);
  if (isSignedShape(value)) {
    return decodeSignedTrustValue(value, text).bundle;
  }
  const o = asObject(value, "trust bundle", V1_MEMBERS);
  if (o.format !== TRUST_BUNDLE_FORMAT) throw bad(`format must be '${TRUST_BUNDLE_FORMAT}'`);
  // malformed-bundle, not unsupported-version: a bundle is input (exit 2), a grant's version is a verdict (exit 1).
  if (o.version !== TRUST_BUNDLE_VERSION) throw bad(`version ${String(o.version)} is not supported`);
  const policy = decodeBundlePolicy(o, 1);
  const requiredSignatures = asInteger(o.requiredSignatures, "requiredSignatures", 1, 4);
  if (requiredSignatures > policy.issuers.length) throw bad("requiredSignatures is more than the issuers listed");
  return { ...policy, requiredSignatures };
}

/**
 * Decode a file that must be a version 2 bundle: a valid version 1 bundle
 * is refused `bundle-unsigned` (it has no signatures or trust version to
 * check), anything else as decodeTrustBundle refuses it.
 */
export function decodeSignedTrustBundle(bytes: Uint8Array): SignedTrustBundleFile {
  const { text, value } = readBundleText(bytes);
  if (isSignedShape(value)) {
    return decodeSignedTrustValue(value, text);
  }
  decodeTrustBundle(bytes);
  throw new AirgrantError(
    "bundle-unsigned",
    "a version 1 trust bundle carries no signatures and no trust version; only signed bundles are applied as updates",
  );
}

/** The canonical bytes of a version 1 bundle; decodeTrustBundle(encodeTrustBundle(b)) gives b back. */
export function encodeTrustBundle(bundle: TrustBundle): Uint8Array {
  if (bundle.signedTrust !== undefined || bundle.approvals !== undefined) {
    throw new AirgrantError("internal", "a version 2 bundle is encoded by encodeSignedTrustContent");
  }
  const value: JsonValue = {
    ...encodeBundlePolicy(bundle),
    version: TRUST_BUNDLE_VERSION,
    requiredSignatures: bundle.requiredSignatures,
  };
  const bytes = new TextEncoder().encode(`${encodeCanonicalJson(value)}\n`);
  decodeTrustBundle(bytes);
  return bytes;
}

/** A bundle key's public key (an issuer's or an approver's): the one decodeTrustBundle imported to check it, or imported now for a key made in code. */
export function issuerPublicKey(key: BundleKey): KeyObject {
  return bundleKeyObject(key);
}
