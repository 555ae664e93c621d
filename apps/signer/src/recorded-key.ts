import { importPublicKey, keyIdOf, toHex } from "@airgrant/core";
import { type IssuerKeyAlg, isIssuerKeyAlg, signatureAlgorithmOf } from "./issuer-key-alg.js";
import { stateCorrupt } from "./state-file.js";

export interface RecordedKey {
  keyId: string;
  alg: IssuerKeyAlg;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
}

/**
 * The public key a state file records (`alg`, `publicKey` in base64 and the
 * `keyId` that must be its own), or `state-corrupt` naming the member of
 * `what` that is wrong: issuer.json, retired-issuers.json, roots.json and
 * approvers.json record their keys alike.
 */
export function recordedKey(
  path: string,
  what: string,
  members: { alg?: unknown; publicKey?: unknown; keyId?: unknown },
): RecordedKey {
  const member = (name: string) => (what === "" ? name : `${what}.${name}`);
  const { alg, publicKey, keyId } = members;
  if (typeof alg !== "string" || !isIssuerKeyAlg(alg)) throw stateCorrupt(path, member("alg"));
  if (typeof publicKey !== "string") throw stateCorrupt(path, member("publicKey"));
  const spki = new Uint8Array(Buffer.from(publicKey, "base64"));
  try {
    importPublicKey(signatureAlgorithmOf(alg), spki);
  } catch {
    throw stateCorrupt(path, `${member("publicKey")} is not an ${alg} public key`);
  }
  if (typeof keyId !== "string" || keyId !== toHex(keyIdOf(spki))) {
    throw stateCorrupt(path, `${member("keyId")} does not match publicKey`);
  }
  return { keyId, alg, publicKey: spki };
}
