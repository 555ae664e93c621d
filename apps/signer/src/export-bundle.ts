import { randomBytes as nodeRandomBytes } from "node:crypto";
import {
  AirgrantError,
  auditData,
  checkTarget,
  encodeTrustBundle,
  fromHex,
  sha256,
  type TrustBundle,
  toHex,
  writeFileAtomic,
} from "@airgrant/core";
import { signatureAlgorithmOf } from "./issuer-record.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import type { Signer } from "./signer.js";
import { readPolicy, writePolicy } from "./signer-policy.js";

export interface BundleRequest {
  /** Longest grant hosts accept, seconds. */
  maxLifetime: number;
  /** Clock difference hosts tolerate, seconds. */
  clockSkew: number;
  /** Group name → host names. */
  groups: Record<string, string[]>;
  /** Grant ids, 32 hex digits. */
  revokedGrants: string[];
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

/** A grant id as given to `--revoke`: 32 hex digits, lower-cased. */
export function parseGrantId(text: string): string {
  return toHex(fromHex(text.toLowerCase(), 16, "bad-input", `--revoke ${text}: a grant id`));
}

/**
 * Builds the trust bundle (docs/trust-bundle.md) for this signer's issuer key,
 * writes it atomically to `outPath` (0644: it holds only public keys),
 * records its maxLifetime as the longest grant the signer will mint, and
 * appends `bundle-exported` with its SHA-256 to the signer log: one step of
 * a Signer's operation (withSigner), under the home's lock it holds.
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
    revokedGrants: [...new Set(request.revokedGrants)].sort(),
  };
  const bytes = encodeTrustBundle(bundle);
  writeFileAtomic(outPath, bytes, 0o644);
  const policy = readPolicy(home.policyPath);
  if (policy.maxLifetime !== request.maxLifetime) {
    writePolicy(home.policyPath, { ...policy, maxLifetime: request.maxLifetime });
  }
  const digest = toHex(sha256(bytes));
  const entry = appendSignerEntry(
    home,
    "bundle-exported",
    auditData("bundle-exported", {
      bundleId: bundle.bundleId,
      sha256: digest,
      issuerKeyId: issuer.keyId,
      maxLifetime: bundle.maxLifetime,
      clockSkew: bundle.clockSkew,
      groups: Object.keys(bundle.groups).sort(),
      revokedGrants: bundle.revokedGrants,
    }),
    clock,
  );
  return { bytes, bundle, sha256: digest, auditSeq: entry.seq };
}
