import { AirgrantError } from "./airgrant-error.js";
import { meetsRoots, rootKeysSigning, sameRoots } from "./root-signatures.js";
import type { TrustBundle } from "./trust-bundle.js";
import type { SignedTrustBundleFile } from "./trust-bundle-v2.js";

/**
 * Whether `file` may replace `installed` (docs/trust-bundle.md, "Accepting
 * a bundle"): its trust version above the installed one, signed by a
 * threshold of the installed roots and of its own. With no version 2 bundle
 * installed only its own roots are asked: that install is the act of trust
 * that pins them. Throws the refusal's code.
 */
export function acceptSignedTrustBundle(installed: TrustBundle | undefined, file: SignedTrustBundleFile): void {
  const next = file.bundle.signedTrust;
  const current = installed?.signedTrust;
  if (current !== undefined) {
    if (next.trustVersion <= current.trustVersion) {
      throw new AirgrantError(
        "bundle-rollback",
        `trust bundle ${file.bundle.bundleId} is trust version ${next.trustVersion}; this host has ${current.trustVersion} and takes only a greater one`,
      );
    }
    if (!meetsRoots(file, current.roots)) {
      throw new AirgrantError(
        "not-enough-root-signatures",
        `trust version ${next.trustVersion} is signed by ${rootKeysSigning(file, current.roots).length} of the installed root keys; ${current.roots.threshold} must sign`,
      );
    }
  }
  if (!meetsRoots(file, next.roots)) {
    const rotation = current !== undefined && !sameRoots(current.roots, next.roots);
    throw new AirgrantError(
      rotation ? "root-rotation-unsigned" : "not-enough-root-signatures",
      `trust version ${next.trustVersion} is signed by ${rootKeysSigning(file, next.roots).length} of ${rotation ? "the new root keys it names" : "its root keys"}; ${next.roots.threshold} must sign`,
    );
  }
}

export interface TrustChain {
  /** The files applied, in trust version order; the last is the one to install. */
  applied: SignedTrustBundleFile[];
  /** Trust versions given at or below the installed one, passed over. */
  passedOver: number[];
}

/**
 * Walk a host forward through files carried together: in trust version
 * order, those above the installed version each accepted against the one
 * before it. Refused as a whole (`bundle-rollback` when none is newer,
 * `bad-input` for two files of one version, or the first file's refusal),
 * so that nothing is installed unless every step holds.
 */
export function walkTrustChain(
  installed: TrustBundle | undefined,
  files: readonly SignedTrustBundleFile[],
): TrustChain {
  const sorted = [...files].sort((a, b) => a.bundle.signedTrust.trustVersion - b.bundle.signedTrust.trustVersion);
  for (let i = 1; i < sorted.length; i++) {
    const version = (sorted[i] as SignedTrustBundleFile).bundle.signedTrust.trustVersion;
    if ((sorted[i - 1] as SignedTrustBundleFile).bundle.signedTrust.trustVersion === version) {
      throw new AirgrantError("bad-input", `two files of trust version ${version} given`);
    }
  }
  const installedVersion = installed?.signedTrust?.trustVersion;
  const newer =
    installedVersion === undefined
      ? sorted
      : sorted.filter((f) => f.bundle.signedTrust.trustVersion > installedVersion);
  const passedOver = sorted.slice(0, sorted.length - newer.length).map((f) => f.bundle.signedTrust.trustVersion);
  if (sorted.length === 0) throw new AirgrantError("bad-input", "no trust bundle given");
  if (newer.length === 0) {
    throw new AirgrantError(
      "bundle-rollback",
      `the files given are trust version ${passedOver.join(", ")}; this host has ${installedVersion} and takes only a greater one`,
    );
  }
  let current = installed;
  for (const file of newer) {
    acceptSignedTrustBundle(current, file);
    current = file.bundle;
  }
  return { applied: newer, passedOver };
}
