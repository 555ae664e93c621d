import { verifySignature } from "./signature-algorithm.js";
import type { TrustRoots } from "./trust-bundle.js";
import { bundleKeyObject } from "./trust-bundle-members.js";
import type { SignedTrustBundleFile } from "./trust-bundle-v2.js";

/**
 * The key ids of `roots` that have a signature in `file` verifying over
 * the bytes of its `signed` (docs/trust-bundle.md, "Counting root
 * signatures"). A file lists a key id at most once, so each key counts
 * once; a signature by another key, or one that does not verify, counts
 * for nothing.
 */
export function rootKeysSigning(file: SignedTrustBundleFile, roots: TrustRoots): string[] {
  const signing: string[] = [];
  for (const { keyId, signature } of file.signatures) {
    const root = roots.keys.find((k) => k.keyId === keyId);
    if (root === undefined) continue;
    if (verifySignature(root.algorithm, bundleKeyObject(root), file.signedBytes, signature)) signing.push(keyId);
  }
  return signing;
}

/** Whether a threshold of `roots` signed `file`. */
export function meetsRoots(file: SignedTrustBundleFile, roots: TrustRoots): boolean {
  return rootKeysSigning(file, roots).length >= roots.threshold;
}

/** The same keys, byte for byte, and the same threshold. */
export function sameRoots(a: TrustRoots, b: TrustRoots): boolean {
  return (
    a.threshold === b.threshold &&
    a.keys.length === b.keys.length &&
    a.keys.every((k, i) => {
      const other = b.keys[i];
      return other !== undefined && other.keyId === k.keyId && Buffer.from(other.publicKey).equals(k.publicKey);
    })
  );
}
