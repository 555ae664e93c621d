import type { KeyObject } from "node:crypto";
import { AirgrantError } from "./airgrant-error.js";
import { encodeCanonicalJson, type JsonValue, parseCanonicalJson } from "./canonical-json.js";
import { checkTarget, formatTarget, type GrantTarget, parseTarget } from "./grant.js";
import { fromHex, toHex } from "./hex.js";
import { importPublicKey, isSignatureAlgorithm, keyIdOf, type SignatureAlgorithm } from "./signature-algorithm.js";

/** An issuer key a host trusts, and what it may grant (docs/trust-bundle.md). */
export interface TrustedIssuer {
  keyId: string;
  algorithm: SignatureAlgorithm;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** Hosts and groups it may grant; `*` is every target. */
  targets: string[];
}

export interface TrustBundle {
  bundleId: string;
  created: number;
  issuers: TrustedIssuer[];
  /** Host groups: group name to the host names in it. */
  groups: Record<string, string[]>;
  /** Longest validity window a host accepts, seconds. */
  maxLifetime: number;
  /** Clock difference tolerated at either end of a window, seconds. */
  clockSkew: number;
  /** Distinct trusted issuers that must have signed a grant. */
  requiredSignatures: number;
  /** Grant ids (hex) refused whatever their signatures say. */
  revokedGrants: string[];
}

export const TRUST_BUNDLE_FORMAT = "airgrant-trust-bundle";
export const TRUST_BUNDLE_VERSION = 1;
export const MAX_TRUST_BUNDLE_BYTES = 4 * 1024 * 1024;

const LIMITS = { issuers: 64, targets: 1024, groups: 1024, hostsPerGroup: 4096, revoked: 100_000 } as const;
/** The largest clock skew a bundle may set: a host keeps use records at least this long past a grant's not-after. */
export const MAX_CLOCK_SKEW = 3600;
const MAX_LIFETIME = 7 * 24 * 3600;

function bad(message: string): AirgrantError {
  return new AirgrantError("malformed-bundle", `trust bundle: ${message}`);
}

type JsonObject = { [key: string]: JsonValue };

function asObject(value: JsonValue | undefined, what: string, keys: readonly string[]): JsonObject {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw bad(`${what} must be an object`);
  const extra = Object.keys(value).filter((k) => !keys.includes(k));
  if (extra.length > 0) throw bad(`${what} has unknown member '${extra[0]}'`);
  for (const k of keys) if (!(k in value)) throw bad(`${what} lacks '${k}'`);
  return value;
}

function asInteger(value: JsonValue | undefined, what: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`${what} must be an integer in ${min}..${max}`);
  }
  return value;
}

function asString(value: JsonValue | undefined, what: string): string {
  if (typeof value !== "string") throw bad(`${what} must be a string`);
  return value;
}

function asStringArray(value: JsonValue | undefined, what: string, max: number): string[] {
  if (!Array.isArray(value) || value.length > max) throw bad(`${what} must be a list of at most ${max} strings`);
  const out = value.map((v, i) => asString(v, `${what}[${i}]`));
  for (let i = 1; i < out.length; i++) {
    if ((out[i - 1] as string) >= (out[i] as string)) throw bad(`${what} must be sorted and without duplicates`);
  }
  return out;
}

const U32_MAX = 0xffff_ffff;

/** Each decoded issuer's public key, imported once. */
const keyCache = new WeakMap<TrustedIssuer, KeyObject>();

function decodeIssuer(value: JsonValue, index: number): TrustedIssuer {
  const what = `issuers[${index}]`;
  const o = asObject(value, what, ["algorithm", "keyId", "notAfter", "notBefore", "publicKey", "targets"]);
  const algorithm = asString(o.algorithm, `${what}.algorithm`);
  if (!isSignatureAlgorithm(algorithm)) throw bad(`${what}.algorithm '${algorithm}' is not supported`);
  const keyText = asString(o.publicKey, `${what}.publicKey`);
  const publicKey = new Uint8Array(Buffer.from(keyText, "base64"));
  if (Buffer.from(publicKey).toString("base64") !== keyText) throw bad(`${what}.publicKey must be canonical base64`);
  let key: KeyObject;
  try {
    key = importPublicKey(algorithm, publicKey);
  } catch (err) {
    throw bad(`${what}.publicKey: ${(err as Error).message}`);
  }
  const keyId = asString(o.keyId, `${what}.keyId`);
  if (keyId !== toHex(keyIdOf(publicKey))) throw bad(`${what}.keyId does not match its public key`);
  const notBefore = asInteger(o.notBefore, `${what}.notBefore`, 0, U32_MAX);
  const notAfter = asInteger(o.notAfter, `${what}.notAfter`, notBefore + 1, U32_MAX);
  const targets = asStringArray(o.targets, `${what}.targets`, LIMITS.targets);
  if (targets.length === 0) throw bad(`${what}.targets is empty`);
  for (const t of targets) {
    if (t === "*") continue;
    let parsed: GrantTarget;
    try {
      parsed = parseTarget(t);
    } catch (err) {
      throw bad(`${what}.targets: ${(err as Error).message}`);
    }
    if (formatTarget(parsed) !== t) throw bad(`${what}.targets: '${t}' is not in canonical form`);
  }
  const issuer: TrustedIssuer = { keyId, algorithm, publicKey, notBefore, notAfter, targets };
  // Imported to check it: kept for the signatures checked against it (issuerPublicKey).
  keyCache.set(issuer, key);
  return issuer;
}

/**
 * Decode and validate a trust bundle file: canonical JSON followed by one
 * newline, version 1, every member checked. Throws `malformed-bundle`.
 */
export function decodeTrustBundle(bytes: Uint8Array): TrustBundle {
  if (bytes.length > MAX_TRUST_BUNDLE_BYTES) throw bad(`larger than ${MAX_TRUST_BUNDLE_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw bad("not UTF-8 text");
  }
  if (!text.endsWith("\n")) throw bad("must end with a single newline");
  const value = parseCanonicalJson(text.slice(0, -1), "malformed-bundle", "trust bundle");
  const o = asObject(value, "trust bundle", [
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
  ]);
  if (o.format !== TRUST_BUNDLE_FORMAT) throw bad(`format must be '${TRUST_BUNDLE_FORMAT}'`);
  // malformed-bundle, not unsupported-version: a bundle is input (exit 2), a grant's version is a verdict (exit 1).
  if (o.version !== TRUST_BUNDLE_VERSION) throw bad(`version ${String(o.version)} is not supported`);
  const bundleId = toHex(fromHex(asString(o.bundleId, "bundleId"), 16, "malformed-bundle", "trust bundle: bundleId"));
  if (!Array.isArray(o.issuers) || o.issuers.length === 0 || o.issuers.length > LIMITS.issuers) {
    throw bad(`issuers must list 1-${LIMITS.issuers} keys`);
  }
  const issuers = o.issuers.map(decodeIssuer);
  for (let i = 1; i < issuers.length; i++) {
    if ((issuers[i - 1] as TrustedIssuer).keyId >= (issuers[i] as TrustedIssuer).keyId) {
      throw bad("issuers must be sorted by keyId and without duplicates");
    }
  }
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
  const requiredSignatures = asInteger(o.requiredSignatures, "requiredSignatures", 1, 4);
  if (requiredSignatures > issuers.length) throw bad("requiredSignatures is more than the issuers listed");
  return {
    bundleId,
    created: asInteger(o.created, "created", 0, U32_MAX),
    issuers,
    groups,
    maxLifetime: asInteger(o.maxLifetime, "maxLifetime", 1, MAX_LIFETIME),
    clockSkew: asInteger(o.clockSkew, "clockSkew", 0, MAX_CLOCK_SKEW),
    requiredSignatures,
    revokedGrants,
  };
}

/** The canonical bytes of a bundle; decodeTrustBundle(encodeTrustBundle(b)) gives b back. */
export function encodeTrustBundle(bundle: TrustBundle): Uint8Array {
  const issuers = [...bundle.issuers].sort((a, b) => (a.keyId < b.keyId ? -1 : 1));
  const value: JsonValue = {
    format: TRUST_BUNDLE_FORMAT,
    version: TRUST_BUNDLE_VERSION,
    bundleId: bundle.bundleId,
    created: bundle.created,
    issuers: issuers.map((i) => ({
      keyId: i.keyId,
      algorithm: i.algorithm,
      publicKey: Buffer.from(i.publicKey).toString("base64"),
      notBefore: i.notBefore,
      notAfter: i.notAfter,
      targets: [...i.targets].sort(),
    })),
    groups: Object.fromEntries(Object.entries(bundle.groups).map(([k, v]) => [k, [...v].sort()])),
    maxLifetime: bundle.maxLifetime,
    clockSkew: bundle.clockSkew,
    requiredSignatures: bundle.requiredSignatures,
    revokedGrants: [...bundle.revokedGrants].sort(),
  };
  const bytes = new TextEncoder().encode(`${encodeCanonicalJson(value)}\n`);
  decodeTrustBundle(bytes);
  return bytes;
}

/** An issuer's public key: the one decodeTrustBundle imported to check it, or imported now for an issuer made in code. */
export function issuerPublicKey(issuer: TrustedIssuer): KeyObject {
  let key = keyCache.get(issuer);
  if (key === undefined) {
    key = importPublicKey(issuer.algorithm, issuer.publicKey);
    keyCache.set(issuer, key);
  }
  return key;
}
