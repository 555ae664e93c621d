import { readFileSync } from "node:fs";
import {
  AirgrantError,
  assembleSignedTrustBundle,
  auditData,
  decodeSignedTrustBundle,
  importPublicKey,
  keyIdOf,
  rootKeysSigning,
  type SignedTrustBundleFile,
  sha256,
  toHex,
  verifySignature,
  writeFileAtomic,
} from "@airgrant/core";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import { type RootKeyRecord, readRootsRecord, rootsPath } from "./root-keys.js";
import { type TokenSource, withHomeSession } from "./signer.js";
import type { SignerHome } from "./signer-home.js";

export interface SignBundleResult {
  file: SignedTrustBundleFile;
  root: RootKeyRecord;
  /** Whether the key is one of the bundle's own roots (else it signs for the roots a host has, in a rotation). */
  ownRoot: boolean;
  /** Distinct own roots that have signed, this one included. */
  ownRootsSigned: number;
  auditSeq: number;
}

function readBundleFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AirgrantError("file-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

/** The root key of roots.json labelled `keyLabel` on token `tokenLabel`, or `key-missing`. */
export function findRootKey(home: SignerHome, tokenLabel: string, keyLabel: string): RootKeyRecord {
  const root = readRootsRecord(home).keys.find((k) => k.token.tokenLabel === tokenLabel && k.keyLabel === keyLabel);
  if (root === undefined) {
    throw new AirgrantError(
      "key-missing",
      `no root key "${keyLabel}" on token "${tokenLabel}" in ${rootsPath(home)}; run "airgrant-signer root init --token ${tokenLabel}"`,
    );
  }
  return root;
}

/**
 * `airgrant-signer bundle sign FILE`: one root holder adds the signature
 * of their root key to a signed bundle, over the bytes of its `signed`
 * (docs/trust-bundle.md), and the file is rewritten with it, in key id
 * order; each holder of a threshold of roots runs it in turn on the same
 * file. The key must be the one roots.json records for that token and
 * label; the signature is checked before it is written. Under the home's
 * lock, logged as `bundle-signed`.
 */
export function signBundleFile(
  home: SignerHome,
  path: string,
  root: RootKeyRecord,
  token: TokenSource,
  clock: () => Date = () => new Date(),
): SignBundleResult {
  const file = decodeSignedTrustBundle(readBundleFile(path));
  return withHomeSession(home, token, (session) => {
    const key = session.findOrCreateIssuerKey({ label: root.keyLabel, alg: root.alg, create: false });
    if (toHex(keyIdOf(key.publicKeySpki)) !== root.keyId) {
      throw new AirgrantError(
        "key-missing",
        `the key "${root.keyLabel}" on token "${session.tokenLabel}" is not the root key ${root.keyId} of ${rootsPath(home)}`,
      );
    }
    const signature = session.sign(root.keyLabel, file.signedBytes);
    const algorithm = signatureAlgorithmOf(root.alg);
    if (!verifySignature(algorithm, importPublicKey(algorithm, root.publicKey), file.signedBytes, signature)) {
      throw new AirgrantError("internal", `the token's signature by ${root.keyId} does not verify`);
    }
    const signatures = [...file.signatures.filter((s) => s.keyId !== root.keyId), { keyId: root.keyId, signature }];
    const bytes = assembleSignedTrustBundle(file.signedBytes, signatures);
    writeFileAtomic(path, bytes, { mode: 0o644 });
    const signed = decodeSignedTrustBundle(bytes);
    const { roots, trustVersion } = signed.bundle.signedTrust;
    const entry = appendSignerEntry(
      home,
      "bundle-signed",
      auditData("bundle-signed", {
        bundleId: signed.bundle.bundleId,
        trustVersion,
        keyId: root.keyId,
        signedSha256: toHex(sha256(file.signedBytes)),
      }),
      clock,
    );
    return {
      file: signed,
      root,
      ownRoot: roots.keys.some((k) => k.keyId === root.keyId),
      ownRootsSigned: rootKeysSigning(signed, roots).length,
      auditSeq: entry.seq,
    };
  });
}
