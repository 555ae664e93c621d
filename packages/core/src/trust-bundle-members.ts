import type { KeyObject } from "node:crypto";
import { AirgrantError } from "./airgrant-error.js";
import { type JsonValue, readCanonicalJsonFile } from "./canonical-json.js";
import { checkTarget, formatTarget, type GrantTarget, parseTarget } from "./grant.js";
import { fromHex, toHex } from "./hex.js";
import { importPublicKey, isSignatureAlgorithm, keyIdOf, type SignatureAlgorithm } from "./signature-algorithm.js";

/**
 * The members version 1 and version 2 of the trust bundle share
 * (docs/trust-bundle.md), decoded once for both: every refusal is
 * `malformed-bundle`.
 */

/** A public key a bundle names: an issuer's or a root's. */
export interface BundleKey {
  keyId: string;
  algorithm: SignatureAlgorithm;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
}

/** An issuer key a host trusts, and what it may grant (docs/trust-bundle.md). */
export interface TrustedIssuer extends BundleKey {
  notBefore: number;
  notAfter: number;
  /** Hosts and groups it may grant; `*` is every target. */
  targets: string[];
  /** Version 2: the last second a grant signed by this key may start ("Issuer key rotation"). */
  retireAt?: number;
}

/** What a bundle says about grants, in either version. */
export interface BundlePolicy {
  bundleId: string;
  created: number;
  issuers: TrustedIssuer[];
  /** Host groups: group name to the host names in it. */
  groups: Record<string, string[]>;
  /** Longest validity window a host accepts, seconds. */
  maxLifetime: number;
  /** Clock difference tolerated at either end of a window, seconds. */
  clockSkew: number;
  /** Grant ids (hex) refused whatever their signatures say. */
  revokedGrants: string[];
}

/** The offline keys of a version 2 bundle, and how many must sign the next one. */
export interface TrustRoots {
  keys: BundleKey[];
  threshold: number;
}

/** What a version 2 bundle adds (docs/trust-bundle.md, "Version 2: signed trust"). */
export interface SignedTrust {
  trustVersion: number;
  /** Seconds since the epoch. */
  expires: number;
  onExpiry: "warn" | "refuse";
  roots: TrustRoots;
}

/** An officer's own approval key (docs/trust-bundle.md, "Approvals"). */
export interface TrustedApprover extends BundleKey {
  /** The officer's name at the signer; compared with a grant's principal. */
  officer: string;
  /** Hosts and groups the officer may approve grants for; `*` is every target. */
  targets: string[];
}

/** One entry of `approvalPolicy`: approvals beyond the issuer's signature that a login needs. */
export interface ApprovalRequirement {
  /** `*`, a host name, or `group:NAME`. */
  target: string;
  approvals: number;
}

/** Version 2's two-person rule: who approves, and how many approvals each host needs. */
export interface ApprovalTrust {
  /** Sorted by keyId. */
  approvers: TrustedApprover[];
  /** Host entries, then group entries, each sorted by name, then `*`. */
  policy: ApprovalRequirement[];
}

/** Version 2's `requestPolicy` (docs/requests.md, "Policy"), as the bundle says it. */
export interface RequestPolicy {
  /** Targets (issuer targets' form: `*`, a host, `group:NAME`) whose hosts refuse grants not bound to a request. */
  required: string[];
  /** Seconds a request stays pending, on the host's clock. */
  lifetime: number;
  /** Requests pending on one host at once (one per account). */
  maxPendingPerHost: number;
}

export const DEFAULT_REQUEST_POLICY: Readonly<RequestPolicy> = { required: [], lifetime: 3600, maxPendingPerHost: 64 };
export const MAX_REQUEST_LIFETIME = 86_400;
export const MAX_PENDING_REQUESTS = 4096;

export interface TrustBundle extends BundlePolicy {
  /** Distinct trusted issuers that must have signed a grant: version 1's member, 1 in version 2. */
  requiredSignatures: number;
  /** Present for a version 2 bundle. */
  signedTrust?: SignedTrust;
  /** Present for a version 2 bundle with `approvers` or `approvalPolicy`. */
  approvals?: ApprovalTrust;
  /** Version 2's `requestPolicy`, when the bundle has one; DEFAULT_REQUEST_POLICY applies otherwise. */
  requestPolicy?: RequestPolicy;
}

/** The request policy a host applies: the bundle's, else the defaults. */
export function requestPolicyOf(bundle: TrustBundle): RequestPolicy {
  return bundle.requestPolicy ?? DEFAULT_REQUEST_POLICY;
}

/**
 * Whether `permitted` (targets in issuers' form) names `host`: `*`, the host
 * itself, or a group of `groups` it is in. Unlike what an issuer may grant,
 * a host is in a group's policy by being one of its members.
 */
export function targetsCoverHost(
  permitted: readonly string[],
  groups: Readonly<Record<string, readonly string[]>>,
  host: string,
): boolean {
  return permitted.some((t) => {
    if (t === "*" || t === host) return true;
    if (!t.startsWith("group:")) return false;
    const name = t.slice("group:".length);
    return Object.hasOwn(groups, name) && (groups[name] ?? []).includes(host);
  });
}

export const TRUST_BUNDLE_FORMAT = "airgrant-trust-bundle";
export const MAX_TRUST_BUNDLE_BYTES = 4 * 1024 * 1024;
/** The largest clock skew a bundle may set: a host keeps use records at least this long past a grant's not-after. */
export const MAX_CLOCK_SKEW = 3600;
const MAX_LIFETIME = 7 * 24 * 3600;
const LIMITS = { issuers: 64, targets: 1024, groups: 1024, hostsPerGroup: 4096, revoked: 100_000 } as const;
export const U32_MAX = 0xffff_ffff;

export function bad(message: string): AirgrantError {
  return new AirgrantError("malformed-bundle", `trust bundle: ${message}`);
}

export type JsonObject = { [key: string]: JsonValue };

export function asObject(value: JsonValue | undefined, what: string, keys: readonly string[]): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad(`${what} must be an object`);
  const extra = Object.keys(value).filter((k) => !keys.includes(k));
  if (extra.length > 0) throw bad(`${what} has unknown member '${extra[0]}'`);
  for (const k of keys) if (!(k in value)) throw bad(`${what} lacks '${k}'`);
  return value;
}

export function asInteger(value: JsonValue | undefined, what: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`${what} must be an integer in ${min}..${max}`);
  }
  return value;
}

export function asString(value: JsonValue | undefined, what: string): string {
  if (typeof value !== "string") throw bad(`${what} must be a string`);
  return value;
}

export function asStringArray(value: JsonValue | undefined, what: string, max: number): string[] {
  if (!Array.isArray(value) || value.length > max) throw bad(`${what} must be a list of at most ${max} strings`);
  const out = value.map((v, i) => asString(v, `${what}[${i}]`));
  for (let i = 1; i < out.length; i++) {
    if ((out[i - 1] as string) >= (out[i] as string)) throw bad(`${what} must be sorted and without duplicates`);
  }
  return out;
}

/** Canonical base64 (with padding) of some bytes, or `malformed-bundle`. */
export function asBase64(value: JsonValue | undefined, what: string): Uint8Array {
  const text = asString(value, what);
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  if (Buffer.from(bytes).toString("base64") !== text) throw bad(`${what} must be canonical base64`);
  return bytes;
}

/** Items sorted by `keyId`, none twice. */
export function requireSortedKeyIds(items: readonly { keyId: string }[], what: string): void {
  for (let i = 1; i < items.length; i++) {
    if ((items[i - 1] as { keyId: string }).keyId >= (items[i] as { keyId: string }).keyId) {
      throw bad(`${what} must be sorted by keyId and without duplicates`);
    }
  }
}

/** Each decoded key's public key, imported once. */
const keyCache = new WeakMap<BundleKey, KeyObject>();

/** `keyId`, `algorithm` and `publicKey` of an issuer or root object, the key imported and its id checked. */
export function decodeBundleKey(o: JsonObject, what: string): BundleKey {
  const algorithm = asString(o.algorithm, `${what}.algorithm`);
  if (!isSignatureAlgorithm(algorithm)) throw bad(`${what}.algorithm '${algorithm}' is not supported`);
  const publicKey = asBase64(o.publicKey, `${what}.publicKey`);
  let key: KeyObject;
  try {
    key = importPublicKey(algorithm, publicKey);
  } catch (err) {
    throw bad(`${what}.publicKey: ${(err as Error).message}`);
  }
  const keyId = asString(o.keyId, `${what}.keyId`);
  if (keyId !== toHex(keyIdOf(publicKey))) throw bad(`${what}.keyId does not match its public key`);
  const decoded: BundleKey = { keyId, algorithm, publicKey };
  keyCache.set(decoded, key);
  return decoded;
}

/** `*`, or a grant target in its one spelling (formatTarget). */
export function checkPermittedTarget(t: string, what: string): void {
  if (t === "*") return;
  let parsed: GrantTarget;
  try {
    parsed = parseTarget(t);
  } catch (err) {
    throw bad(`${what}: ${(err as Error).message}`);
  }
  if (formatTarget(parsed) !== t) throw bad(`${what}: '${t}' is not in canonical form`);
}

/** A key's `targets`: sorted, no duplicates, not empty, each `*` or a canonical target. */
export function decodeTargetList(value: JsonValue | undefined, what: string): string[] {
  const targets = asStringArray(value, what, LIMITS.targets);
  if (targets.length === 0) throw bad(`${what} is empty`);
  for (const t of targets) checkPermittedTarget(t, what);
  return targets;
}

const ISSUER_MEMBERS = ["algorithm", "keyId", "notAfter", "notBefore", "publicKey", "targets"] as const;

function decodeIssuer(value: JsonValue, index: number, version: 1 | 2): TrustedIssuer {
  const what = `issuers[${index}]`;
  const retires =
    version === 2 && value !== null && typeof value === "object" && !Array.isArray(value) && "retireAt" in value;
  const o = asObject(value, what, retires ? [...ISSUER_MEMBERS, "retireAt"] : ISSUER_MEMBERS);
  const key = decodeBundleKey(o, what);
  const notBefore = asInteger(o.notBefore, `${what}.notBefore`, 0, U32_MAX);
  const notAfter = asInteger(o.notAfter, `${what}.notAfter`, notBefore + 1, U32_MAX);
  const targets = decodeTargetList(o.targets, `${what}.targets`);
  const issuer: TrustedIssuer = { ...key, notBefore, notAfter, targets };
  if (retires) issuer.retireAt = asInteger(o.retireAt, `${what}.retireAt`, notBefore, notAfter - 1);
  // The key imported to check it is kept for the signatures checked against it (issuerPublicKey).
  keyCache.set(issuer, keyCache.get(key) as KeyObject);
  return issuer;
}

/**
 * The file's text and its one canonical JSON value: UTF-8, one object, one
 * newline, at most MAX_TRUST_BUNDLE_BYTES.
 */
export function readBundleText(bytes: Uint8Array): { text: string; value: JsonValue } {
  return readCanonicalJsonFile(bytes, {
    maxBytes: MAX_TRUST_BUNDLE_BYTES,
    code: "malformed-bundle",
    what: "trust bundle",
  });
}

/** The policy members of an object whose member names the caller has checked. */
export function decodeBundlePolicy(o: JsonObject, version: 1 | 2): BundlePolicy {
  const bundleId = toHex(fromHex(asString(o.bundleId, "bundleId"), 16, "malformed-bundle", "trust bundle: bundleId"));
  if (!Array.isArray(o.issuers) || o.issuers.length === 0 || o.issuers.length > LIMITS.issuers) {
    throw bad(`issuers must list 1-${LIMITS.issuers} keys`);
  }
  const issuers = o.issuers.map((issuer, i) => decodeIssuer(issuer, i, version));
  requireSortedKeyIds(issuers, "issuers");
  const groupsObject = o.groups;
  if (groupsObject === null || typeof groupsObject !== "object" || Array.isArray(groupsObject)) {
    throw bad("groups must be an object");
  }
  const groupNames = Object.keys(groupsObject);
  if (groupNames.length > LIMITS.groups) throw bad(`more than ${LIMITS.groups} groups`);
  const groups: Record<string, string[]> = Object.create(null);
  for (const name of groupNames) {
    try {
      checkTarget({ kind: "group", name });
    } catch (err) {
      throw bad(`group '${name}': ${(err as Error).message}`);
    }
    const hosts = asStringArray(groupsObject[name], `groups.${name}`, LIMITS.hostsPerGroup);
    for (const host of hosts) {
      try {
        checkTarget({ kind: "host", name: host });
      } catch (err) {
        throw bad(`groups.${name}: ${(err as Error).message}`);
      }
    }
    groups[name] = hosts;
  }
  const revokedGrants = asStringArray(o.revokedGrants, "revokedGrants", LIMITS.revoked);
  for (const id of revokedGrants) fromHex(id, 16, "malformed-bundle", "trust bundle: revokedGrants entry");
  return {
    bundleId,
    created: asInteger(o.created, "created", 0, U32_MAX),
    issuers,
    groups,
    maxLifetime: asInteger(o.maxLifetime, "maxLifetime", 1, MAX_LIFETIME),
    clockSkew: asInteger(o.clockSkew, "clockSkew", 0, MAX_CLOCK_SKEW),
    revokedGrants,
  };
}

export function encodeBundleKey(key: BundleKey): JsonObject {
  return { keyId: key.keyId, algorithm: key.algorithm, publicKey: Buffer.from(key.publicKey).toString("base64") };
}

/** The policy members as canonical JSON values, sorted as the decoder requires. */
export function encodeBundlePolicy(policy: BundlePolicy): JsonObject {
  const issuers = [...policy.issuers].sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
  return {
    format: TRUST_BUNDLE_FORMAT,
    bundleId: policy.bundleId,
    created: policy.created,
    issuers: issuers.map((i) => ({
      ...encodeBundleKey(i),
      notBefore: i.notBefore,
      notAfter: i.notAfter,
      targets: [...i.targets].sort(),
      ...(i.retireAt === undefined ? {} : { retireAt: i.retireAt }),
    })),
    groups: Object.fromEntries(Object.entries(policy.groups).map(([k, v]) => [k, [...v].sort()])),
    maxLifetime: policy.maxLifetime,
    clockSkew: policy.clockSkew,
    revokedGrants: [...policy.revokedGrants].sort(),
  };
}

/** A bundle key's public key: the one imported when it was decoded, or imported now for a key made in code. */
export function bundleKeyObject(key: BundleKey): KeyObject {
  let imported = keyCache.get(key);
  if (imported === undefined) {
    imported = importPublicKey(key.algorithm, key.publicKey);
    keyCache.set(key, imported);
  }
  return imported;
}
