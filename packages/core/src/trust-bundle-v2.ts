import { AirgrantError } from "./airgrant-error.js";
import { encodeCanonicalJson, type JsonValue } from "./canonical-json.js";
import { fromHex } from "./hex.js";
import { decodeApprovalTrust, encodeApprovalTrust } from "./trust-bundle-approvals.js";
import {
  asBase64,
  asInteger,
  asObject,
  asString,
  asStringArray,
  bad,
  checkPermittedTarget,
  decodeBundleKey,
  decodeBundlePolicy,
  encodeBundleKey,
  encodeBundlePolicy,
  type JsonObject,
  MAX_PENDING_REQUESTS,
  MAX_REQUEST_LIFETIME,
  type RequestPolicy,
  readBundleText,
  requireSortedKeyIds,
  type SignedTrust,
  TRUST_BUNDLE_FORMAT,
  type TrustBundle,
  type TrustRoots,
  U32_MAX,
} from "./trust-bundle-members.js";

/** A root key's signature over the bytes of a version 2 bundle's `signed`. */
export interface RootSignature {
  keyId: string;
  /** Raw: r || s for ECDSA P-256 (low-S), RFC 8032 for Ed25519; 64 bytes. */
  signature: Uint8Array;
}

/** A version 2 bundle file as decoded (docs/trust-bundle.md, "Version 2: signed trust"). */
export interface SignedTrustBundleFile {
  bundle: TrustBundle & { signedTrust: SignedTrust };
  signatures: RootSignature[];
  /** The canonical bytes of `signed`: what every signature is over, cut from the file itself. */
  signedBytes: Uint8Array;
}

export const SIGNED_TRUST_BUNDLE_VERSION = 2;
export const MAX_ROOT_KEYS = 16;
export const MAX_BUNDLE_SIGNATURES = 32;
const SIGNATURE_LENGTH = 64;

const SIGNED_MEMBERS = [
  "bundleId",
  "clockSkew",
  "created",
  "expires",
  "format",
  "groups",
  "issuers",
  "maxLifetime",
  "onExpiry",
  "revokedGrants",
  "roots",
  "trustVersion",
  "version",
] as const;

/** Members of `signed` that may be absent: the two-person rule's (trust-bundle-approvals.ts) and the request policy. */
const OPTIONAL_MEMBERS = ["approvalPolicy", "approvers", "requestPolicy"] as const;

const REQUEST_POLICY_MEMBERS = ["lifetime", "maxPendingPerHost", "required"] as const;
const MAX_REQUIRED_TARGETS = 1024;

function decodeRequestPolicy(value: JsonValue | undefined): RequestPolicy {
  const o = asObject(value, "requestPolicy", REQUEST_POLICY_MEMBERS);
  const required = asStringArray(o.required, "requestPolicy.required", MAX_REQUIRED_TARGETS);
  for (const t of required) checkPermittedTarget(t, "requestPolicy.required");
  return {
    required,
    lifetime: asInteger(o.lifetime, "requestPolicy.lifetime", 60, MAX_REQUEST_LIFETIME),
    maxPendingPerHost: asInteger(o.maxPendingPerHost, "requestPolicy.maxPendingPerHost", 1, MAX_PENDING_REQUESTS),
  };
}

function decodeRoots(value: JsonValue | undefined): TrustRoots {
  const o = asObject(value, "roots", ["keys", "threshold"]);
  if (!Array.isArray(o.keys) || o.keys.length === 0 || o.keys.length > MAX_ROOT_KEYS) {
    throw bad(`roots.keys must list 1-${MAX_ROOT_KEYS} keys`);
  }
  const keys = o.keys.map((k, i) =>
    decodeBundleKey(asObject(k, `roots.keys[${i}]`, ["algorithm", "keyId", "publicKey"]), `roots.keys[${i}]`),
  );
  requireSortedKeyIds(keys, "roots.keys");
  return { keys, threshold: asInteger(o.threshold, "roots.threshold", 1, keys.length) };
}

function decodeSignatures(value: JsonValue | undefined): RootSignature[] {
  if (!Array.isArray(value) || value.length > MAX_BUNDLE_SIGNATURES) {
    throw bad(`signatures must be a list of at most ${MAX_BUNDLE_SIGNATURES}`);
  }
  const signatures = value.map((s, i) => {
    const what = `signatures[${i}]`;
    const o = asObject(s, what, ["keyId", "signature"]);
    const keyId = asString(o.keyId, `${what}.keyId`);
    fromHex(keyId, 8, "malformed-bundle", `trust bundle: ${what}.keyId`);
    const signature = asBase64(o.signature, `${what}.signature`);
    if (signature.length !== SIGNATURE_LENGTH) throw bad(`${what}.signature must be ${SIGNATURE_LENGTH} bytes`);
    return { keyId, signature };
  });
  requireSortedKeyIds(signatures, "signatures");
  return signatures;
}

/** The version 2 file `value` (canonical, from `text`), checked member by member. */
export function decodeSignedTrustValue(value: JsonObject, text: string): SignedTrustBundleFile {
  const file = asObject(value, "trust bundle", ["signatures", "signed"]);
  const signatures = decodeSignatures(file.signatures);
  const signed = file.signed;
  const present = OPTIONAL_MEMBERS.filter((m) => signed !== null && typeof signed === "object" && m in signed);
  const o = asObject(signed, "signed", [...SIGNED_MEMBERS, ...present]);
  if (o.format !== TRUST_BUNDLE_FORMAT) throw bad(`format must be '${TRUST_BUNDLE_FORMAT}'`);
  if (o.version !== SIGNED_TRUST_BUNDLE_VERSION) throw bad(`version ${String(o.version)} is not supported`);
  const policy = decodeBundlePolicy(o, 2);
  const roots = decodeRoots(o.roots);
  const issuerIds = new Set(policy.issuers.map((i) => i.keyId));
  const both = roots.keys.find((k) => issuerIds.has(k.keyId));
  if (both !== undefined) throw bad(`key ${both.keyId} is both a root and an issuer`);
  const approvals = decodeApprovalTrust(o, new Set([...issuerIds, ...roots.keys.map((k) => k.keyId)]));
  const onExpiry = o.onExpiry;
  if (onExpiry !== "warn" && onExpiry !== "refuse") throw bad("onExpiry must be 'warn' or 'refuse'");
  const signedTrust: SignedTrust = {
    trustVersion: asInteger(o.trustVersion, "trustVersion", 1, Number.MAX_SAFE_INTEGER),
    expires: asInteger(o.expires, "expires", policy.created + 1, U32_MAX),
    onExpiry,
    roots,
  };
  // Canonical as a whole, so `signed` is the rest of the file after this prefix, less the closing brace and newline.
  const prefix = `{"signatures":${encodeCanonicalJson(file.signatures as JsonValue)},"signed":`;
  if (!text.startsWith(prefix)) throw new AirgrantError("internal", "a canonical bundle does not start as encoded");
  const signedBytes = new TextEncoder().encode(text.slice(prefix.length, -2));
  const bundle: SignedTrustBundleFile["bundle"] = {
    ...policy,
    requiredSignatures: 1,
    signedTrust,
    ...(approvals === undefined ? {} : { approvals }),
  };
  if (present.includes("requestPolicy")) bundle.requestPolicy = decodeRequestPolicy(o.requestPolicy);
  return { bundle, signatures, signedBytes };
}

/** The canonical bytes of `signed` for a version 2 bundle: what its root keys sign. */
export function encodeSignedTrustContent(bundle: TrustBundle & { signedTrust: SignedTrust }): Uint8Array {
  const { trustVersion, expires, onExpiry, roots } = bundle.signedTrust;
  const value: JsonValue = {
    ...encodeBundlePolicy(bundle),
    ...encodeApprovalTrust(bundle.approvals),
    version: SIGNED_TRUST_BUNDLE_VERSION,
    trustVersion,
    expires,
    onExpiry,
    roots: {
      keys: [...roots.keys].sort((a, b) => (a.keyId < b.keyId ? -1 : 1)).map(encodeBundleKey),
      threshold: roots.threshold,
    },
    ...(bundle.requestPolicy === undefined
      ? {}
      : {
          requestPolicy: {
            required: [...bundle.requestPolicy.required].sort(),
            lifetime: bundle.requestPolicy.lifetime,
            maxPendingPerHost: bundle.requestPolicy.maxPendingPerHost,
          },
        }),
  };
  const signedBytes = new TextEncoder().encode(encodeCanonicalJson(value));
  assembleSignedTrustBundle(signedBytes, []);
  return signedBytes;
}

/** The file of `signed` (its canonical bytes) and its signatures, put in key id order; checked by decoding it. */
export function assembleSignedTrustBundle(signedBytes: Uint8Array, signatures: readonly RootSignature[]): Uint8Array {
  const sorted = [...signatures].sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
  const list = encodeCanonicalJson(
    sorted.map((s) => ({ keyId: s.keyId, signature: Buffer.from(s.signature).toString("base64") })),
  );
  const text = `{"signatures":${list},"signed":${new TextDecoder().decode(signedBytes)}}\n`;
  const bytes = new TextEncoder().encode(text);
  decodeSignedTrustValue(readBundleText(bytes).value as JsonObject, text);
  return bytes;
}
