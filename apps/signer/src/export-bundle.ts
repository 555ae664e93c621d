import { randomBytes as nodeRandomBytes } from "node:crypto";
import {
  AirgrantError,
  type ApprovalRequirement,
  type ApprovalTrust,
  type AuditRecord,
  assembleSignedTrustBundle,
  auditData,
  checkTarget,
  decodeSignedTrustBundle,
  encodeSignedTrustContent,
  encodeTrustBundle,
  formatTarget,
  MAX_APPROVALS,
  parseTarget,
  type RequestPolicy,
  type SignedTrust,
  sha256,
  type TrustBundle,
  type TrustedIssuer,
  toHex,
  writeFileAtomic,
} from "@airgrant/core";
import { bundleApprover, readApprovers } from "./approver-keys.js";
import { readIssuedGrants } from "./issued-grants.js";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import { readRetiredIssuers } from "./retired-issuers.js";
import { bundleRootKey, currentRootKeys, type RootsRecord, readRootsRecord, writeRootsRecord } from "./root-keys.js";
import type { Signer } from "./signer.js";
import { readPolicy, writePolicy } from "./signer-policy.js";

export interface BundleRequest {
  /** Longest grant hosts accept, seconds. */
  maxLifetime: number;
  /** Clock difference hosts tolerate, seconds. */
  clockSkew: number;
  /** Group name → host names. */
  groups: Record<string, string[]>;
  /** A signed (version 2) bundle, for `bundle sign` by its roots; version 1 without. */
  signed?: SignedBundleRequest;
}

export interface SignedBundleRequest {
  /** Default: one more than the last signed bundle's. */
  trustVersion?: number;
  /** Default: the last signed bundle's; needed for the first. */
  threshold?: number;
  /** How long until the bundle expires, seconds. */
  expiresIn: number;
  onExpiry: SignedTrust["onExpiry"];
  /** `approvalPolicy` (docs/trust-bundle.md, "Approvals"); the approvers are those of approvers.json. */
  approvalPolicy?: ApprovalRequirement[];
  /** Where hosts refuse grants bound to no request, and the requests' limits (docs/requests.md, "Policy"). */
  requestPolicy?: RequestPolicy;
}

export interface ExportedBundle {
  bytes: Uint8Array;
  bundle: TrustBundle;
  sha256: string;
  auditSeq: number;
}

/** How long hosts trust the issuer key after the bundle is made: a year, then a new bundle is due. */
export const ISSUER_VALIDITY_SECONDS = 365 * 24 * 3600;

/** Parses `NAME=host1,host2` as given to `--group`. */
export function parseGroupOption(text: string): [string, string[]] {
  const eq = text.indexOf("=");
  const name = eq < 0 ? "" : text.slice(0, eq);
  const hosts =
    eq < 0
      ? []
      : text
          .slice(eq + 1)
          .split(",")
          .map((h) => h.trim().toLowerCase());
  if (name === "" || hosts.length === 0 || hosts.some((h) => h === "")) {
    throw new AirgrantError("bad-input", `--group '${text}' is not NAME=host1,host2`);
  }
  try {
    checkTarget({ kind: "group", name });
    for (const host of hosts) checkTarget({ kind: "host", name: host });
  } catch (err) {
    throw new AirgrantError("bad-input", `--group ${name}: ${(err as Error).message}`);
  }
  return [name, [...new Set(hosts)].sort()];
}

/** Parses `TARGET=N` as given to `--approvals-for`: `*`, a host or `group:NAME`, and 0-3 approvals. */
export function parseApprovalsOption(text: string): ApprovalRequirement {
  const eq = text.lastIndexOf("=");
  const target = eq < 0 ? "" : text.slice(0, eq).trim().toLowerCase();
  const count = eq < 0 ? "" : text.slice(eq + 1).trim();
  if (target === "" || !/^[0-3]$/.test(count)) {
    throw new AirgrantError("bad-input", `--approvals-for '${text}' is not TARGET=N with N from 0 to ${MAX_APPROVALS}`);
  }
  if (target !== "*") {
    try {
      return { target: formatTarget(parseTarget(target)), approvals: Number(count) };
    } catch (err) {
      throw new AirgrantError("bad-input", `--approvals-for ${target}: ${(err as Error).message}`);
    }
  }
  return { target, approvals: Number(count) };
}

/** The approvers and policy of a signed bundle, or none when approvers.json and the request have neither. */
function approvalTrustOf(home: Signer["home"], request: SignedBundleRequest): ApprovalTrust | undefined {
  const approvers = readApprovers(home).map(bundleApprover);
  const policy = request.approvalPolicy ?? [];
  if (approvers.length === 0 && policy.length === 0) return undefined;
  const targets = policy.map((entry) => entry.target);
  if (new Set(targets).size !== targets.length) {
    throw new AirgrantError("bad-input", "--approvals-for names a target twice");
  }
  return { approvers, policy };
}

/** The ids of every grant the signer log records as revoked, sorted. */
function revokedGrantIds(logPath: string): string[] {
  const ids: string[] = [];
  for (const grant of readIssuedGrants(logPath).grants.values()) {
    if (grant.revocation !== undefined) ids.push(grant.grantId);
  }
  return ids.sort();
}

/**
 * Builds the trust bundle (docs/trust-bundle.md) for this signer's issuer key,
 * writes it atomically to `outPath` (0644: it holds only public keys),
 * records its maxLifetime as the longest grant the signer will mint, and
 * appends `bundle-exported` with its SHA-256 to the signer log: one step of
 * a Signer's operation (withSigner), under the home's lock it holds. The
 * bundle revokes every grant the signer log records as revoked (`revoke`),
 * read under that lock, so no revocation recorded before it is left out.
 *
 * The issuer may grant every target (`*`): officers' targets are enforced
 * when minting, so enrolling or removing an officer never needs new bundles
 * on the hosts.
 */
export function exportBundle(
  signer: Signer,
  outPath: string,
  request: BundleRequest,
  options: { clock?: () => Date; randomBytes?: (n: number) => Uint8Array } = {},
): ExportedBundle {
  const clock = options.clock ?? (() => new Date());
  const random = options.randomBytes ?? ((n: number) => new Uint8Array(nodeRandomBytes(n)));
  const { home, issuer } = signer;
  const now = Math.floor(clock().getTime() / 1000);
  const created = Math.floor(Date.parse(issuer.created) / 1000);
  const bundle: TrustBundle = {
    bundleId: toHex(random(16)),
    created: now,
    issuers: [
      {
        keyId: issuer.keyId,
        algorithm: signatureAlgorithmOf(issuer.alg),
        publicKey: issuer.publicKey,
        notBefore: Math.min(created, now),
        notAfter: now + ISSUER_VALIDITY_SECONDS,
        targets: ["*"],
      },
    ],
    groups: request.groups,
    maxLifetime: request.maxLifetime,
    clockSkew: request.clockSkew,
    requiredSignatures: 1,
    revokedGrants: revokedGrantIds(home.auditLogPath),
  };
  const roots = request.signed === undefined ? undefined : readRootsRecord(home);
  const signedTrust =
    request.signed === undefined || roots === undefined ? undefined : signedTrustOf(roots, request.signed, now);
  if (signedTrust !== undefined) bundle.issuers.push(...retiredIssuersOf(home, request.maxLifetime, now));
  const approvals = request.signed === undefined ? undefined : approvalTrustOf(home, request.signed);
  if (approvals !== undefined) bundle.approvals = approvals;
  const bytes =
    signedTrust === undefined
      ? encodeTrustBundle(bundle)
      : assembleSignedTrustBundle(
          encodeSignedTrustContent({
            ...bundle,
            signedTrust,
            ...(request.signed?.requestPolicy === undefined ? {} : { requestPolicy: request.signed.requestPolicy }),
          }),
          [],
        );
  writeFileAtomic(outPath, bytes, { mode: 0o644 });
  const policy = readPolicy(home.policyPath);
  if (policy.maxLifetime !== request.maxLifetime) {
    writePolicy(home.policyPath, { ...policy, maxLifetime: request.maxLifetime });
  }
  const digest = toHex(sha256(bytes));
  const record: AuditRecord<"bundle-exported"> = {
    bundleId: bundle.bundleId,
    sha256: digest,
    issuerKeyId: issuer.keyId,
    maxLifetime: bundle.maxLifetime,
    clockSkew: bundle.clockSkew,
    groups: Object.keys(bundle.groups).sort(),
    revokedGrants: bundle.revokedGrants,
  };
  if (signedTrust !== undefined && roots !== undefined) {
    record.trustVersion = signedTrust.trustVersion;
    record.roots = signedTrust.roots.keys.map((k) => k.keyId);
    record.rootThreshold = signedTrust.roots.threshold;
    record.expires = signedTrust.expires;
    record.signedSha256 = toHex(sha256(decodeSignedTrustBundle(bytes).signedBytes));
    if (request.signed?.requestPolicy !== undefined) record.requestPolicy = { ...request.signed.requestPolicy };
  }
  if (approvals !== undefined) {
    record.approvers = approvals.approvers.map((a) => a.keyId).sort();
    record.approvalPolicy = approvals.policy.map((entry) => `${entry.target}=${entry.approvals}`);
  }
  const entry = appendSignerEntry(home, "bundle-exported", auditData("bundle-exported", record), clock);
  if (signedTrust !== undefined && roots !== undefined) {
    // After the log: a crash before this leaves the version to be used again, which hosts refuse, never skip.
    writeRootsRecord(home, {
      ...roots,
      threshold: signedTrust.roots.threshold,
      lastTrustVersion: signedTrust.trustVersion,
    });
  }
  return {
    bytes,
    bundle: signedTrust === undefined ? bundle : { ...bundle, signedTrust },
    sha256: digest,
    auditSeq: entry.seq,
  };
}

/**
 * The keys `init --rotate` retired whose grants may still run, as a signed
 * bundle lists them (docs/signer.md, "Rotating the issuer key"): each with
 * its `retireAt`, valid until `retireAt + maxLifetime`, when the last grant
 * it may have started has ended; after that it is left out. Version 1 has
 * no `retireAt`, so only signed bundles list them.
 */
function retiredIssuersOf(home: Signer["home"], maxLifetime: number, now: number): TrustedIssuer[] {
  return readRetiredIssuers(home)
    .filter((key) => key.retireAt + maxLifetime > now)
    .map((key) => ({
      keyId: key.keyId,
      algorithm: signatureAlgorithmOf(key.alg),
      publicKey: key.publicKey,
      notBefore: Math.min(Math.floor(Date.parse(key.created) / 1000), key.retireAt),
      notAfter: key.retireAt + maxLifetime,
      targets: ["*"],
      retireAt: key.retireAt,
    }));
}

/**
 * The trust of the next signed bundle: the roots of roots.json that are not
 * removed, the threshold asked for or the last one, the trust version asked
 * for (above the last) or the next (docs/signer.md, "Signed bundles").
 */
function signedTrustOf(roots: RootsRecord, request: SignedBundleRequest, now: number): SignedTrust {
  const keys = currentRootKeys(roots).map(bundleRootKey);
  if (keys.length === 0) {
    throw new AirgrantError(
      "key-missing",
      'no root keys recorded; run "airgrant-signer root init --token LABEL" first',
    );
  }
  const threshold = request.threshold ?? roots.threshold;
  if (threshold === undefined) throw new AirgrantError("usage", "the first signed bundle needs --root-threshold K");
  if (threshold > keys.length) {
    throw new AirgrantError("bad-input", `--root-threshold ${threshold} is more than the ${keys.length} root key(s)`);
  }
  const trustVersion = request.trustVersion ?? roots.lastTrustVersion + 1;
  if (trustVersion <= roots.lastTrustVersion) {
    throw new AirgrantError(
      "bad-input",
      `--trust-version ${trustVersion} is not above ${roots.lastTrustVersion}, the last exported: hosts would refuse it as a rollback`,
    );
  }
  return {
    trustVersion,
    expires: now + request.expiresIn,
    onExpiry: request.onExpiry,
    roots: { keys: keys.sort((a, b) => (a.keyId < b.keyId ? -1 : 1)), threshold },
  };
}
