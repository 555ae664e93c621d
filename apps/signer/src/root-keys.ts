import { resolve } from "node:path";
import { AirgrantError, auditData, type BundleKey, keyIdOf, toHex, writeFileAtomic } from "@airgrant/core";
import { withHomeLock } from "./home-lock.js";
import { tokenLocationOf } from "./init-issuer.js";
import { type IssuerKeyAlg, signatureAlgorithmOf } from "./issuer-key-alg.js";
import type { TokenLocation } from "./issuer-record.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import { recordedKey } from "./recorded-key.js";
import { type TokenSource, withHomeSession } from "./signer.js";
import type { SignerHome } from "./signer-home.js";
import { checkStateObject, parseStateObject, readStateFile, stateCorrupt, stateText, stateTime } from "./state-file.js";

/**
 * roots.json in the signer's home (docs/signer.md, "roots.json"): the root
 * keys the next signed bundle names, each on its own token, kept offline
 * apart from the issuer's; and what the last signed bundle said, so that the
 * next one follows it.
 */

export interface RootKeyRecord {
  keyId: string;
  alg: IssuerKeyAlg;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
  keyLabel: string;
  token: TokenLocation;
  /** When `root init` recorded it, ISO 8601 UTC. */
  created: string;
  /** When `root remove` took it out of the next bundle's roots; it can still sign the bundle that rotates it out. */
  removed?: string;
}

export interface RootsRecord {
  keys: RootKeyRecord[];
  /** The threshold of the last signed bundle exported; undefined before the first. */
  threshold?: number;
  /** The trust version of the last signed bundle exported; 0 before the first. */
  lastTrustVersion: number;
}

export const ROOTS_RECORD_FORMAT = "airgrant-signer-roots-v1";
const KEYS = ["format", "keys", "threshold", "lastTrustVersion"] as const;
const KEY_MEMBERS = [
  "keyId",
  "alg",
  "publicKey",
  "keyLabel",
  "tokenLabel",
  "modulePath",
  "created",
  "removed",
] as const;

export function rootsPath(home: SignerHome): string {
  return resolve(home.dir, "roots.json");
}

function decodeRootKey(path: string, value: unknown, index: number): RootKeyRecord {
  const o = checkStateObject(path, value, KEY_MEMBERS, `keys[${index}]`);
  const what = `keys[${index}]`;
  const key = recordedKey(path, what, o);
  const keyLabel = stateText(path, `${what}.keyLabel`, o.keyLabel);
  const tokenLabel = stateText(path, `${what}.tokenLabel`, o.tokenLabel);
  const modulePath = stateText(path, `${what}.modulePath`, o.modulePath);
  const created = stateTime(path, `${what}.created`, o.created);
  const removed = o.removed === null ? undefined : stateTime(path, `${what}.removed`, o.removed);
  const record: RootKeyRecord = { ...key, keyLabel, token: { tokenLabel, modulePath }, created };
  if (removed !== undefined) record.removed = removed;
  return record;
}

/** roots.json, or no keys and no signed bundle yet when it does not exist. */
export function readRootsRecord(home: SignerHome): RootsRecord {
  const path = rootsPath(home);
  const text = readStateFile(path, { ownerOnly: true });
  if (text === undefined) return { keys: [], lastTrustVersion: 0 };
  const o = parseStateObject(path, text, KEYS);
  if (o.format !== ROOTS_RECORD_FORMAT) throw stateCorrupt(path, `format is not ${ROOTS_RECORD_FORMAT}`);
  if (!Array.isArray(o.keys)) throw stateCorrupt(path, "keys");
  const keys = o.keys.map((k, i) => decodeRootKey(path, k, i));
  const { threshold, lastTrustVersion } = o;
  if (threshold !== null && (!Number.isSafeInteger(threshold) || (threshold as number) < 1)) {
    throw stateCorrupt(path, "threshold");
  }
  if (!Number.isSafeInteger(lastTrustVersion) || (lastTrustVersion as number) < 0) {
    throw stateCorrupt(path, "lastTrustVersion");
  }
  const record: RootsRecord = { keys, lastTrustVersion: lastTrustVersion as number };
  if (threshold !== null) record.threshold = threshold as number;
  return record;
}

export function writeRootsRecord(home: SignerHome, record: RootsRecord): void {
  const value = {
    format: ROOTS_RECORD_FORMAT,
    keys: record.keys.map((k) => ({
      keyId: k.keyId,
      alg: k.alg,
      publicKey: Buffer.from(k.publicKey).toString("base64"),
      keyLabel: k.keyLabel,
      tokenLabel: k.token.tokenLabel,
      modulePath: k.token.modulePath,
      created: k.created,
      removed: k.removed ?? null,
    })),
    threshold: record.threshold ?? null,
    lastTrustVersion: record.lastTrustVersion,
  };
  writeFileAtomic(rootsPath(home), `${JSON.stringify(value, null, 2)}\n`);
}

/** A root key as a signed bundle's `roots.keys` names it. */
export function bundleRootKey(key: RootKeyRecord): BundleKey {
  return { keyId: key.keyId, algorithm: signatureAlgorithmOf(key.alg), publicKey: key.publicKey };
}

export interface RootInitResult {
  root: RootKeyRecord;
  generated: boolean;
  /** roots.json gained the key with this call. */
  recorded: boolean;
  auditSeq?: number;
}

/**
 * `airgrant-signer root init`: find or generate a root key on its own token
 * (never the issuer's) and add it to roots.json, under the home's lock, one
 * signer log entry when it is added. Run again, it reports the key recorded.
 */
export function initRootKey(
  home: SignerHome,
  token: TokenSource,
  request: { keyLabel: string; alg: IssuerKeyAlg },
  clock: () => Date = () => new Date(),
): RootInitResult {
  return withHomeSession(home, token, (session, issuer) => {
    if (issuer?.token !== undefined && issuer.token.tokenLabel === session.tokenLabel) {
      throw new AirgrantError(
        "bad-input",
        `token "${session.tokenLabel}" holds this home's issuer key; a root key goes on a token of its own, kept offline`,
      );
    }
    const key = session.findOrCreateIssuerKey({ label: request.keyLabel, alg: request.alg, create: true });
    const keyId = toHex(keyIdOf(key.publicKeySpki));
    if (issuer?.keyId === keyId) throw new AirgrantError("bad-input", `key ${keyId} is this home's issuer key`);
    const roots = readRootsRecord(home);
    const known = roots.keys.find((k) => k.keyId === keyId);
    if (known !== undefined && known.removed === undefined)
      return { root: known, generated: key.created, recorded: false };
    const root: RootKeyRecord = {
      keyId,
      alg: request.alg,
      publicKey: key.publicKeySpki,
      keyLabel: request.keyLabel,
      token: tokenLocationOf(session),
      created: clock().toISOString(),
    };
    const others = roots.keys.filter((k) => k.keyId !== keyId);
    writeRootsRecord(home, { ...roots, keys: [...others, root].sort((a, b) => (a.keyId < b.keyId ? -1 : 1)) });
    const entry = appendSignerEntry(
      home,
      "root-initialised",
      auditData("root-initialised", {
        keyId,
        algorithm: request.alg,
        keyLabel: request.keyLabel,
        token: session.tokenLabel,
        generated: key.created,
      }),
      clock,
    );
    return { root, generated: key.created, recorded: true, auditSeq: entry.seq };
  });
}

/** The keys the next signed bundle names as its roots: those recorded and not removed. */
export function currentRootKeys(roots: RootsRecord): RootKeyRecord[] {
  return roots.keys.filter((k) => k.removed === undefined);
}

/**
 * `airgrant-signer root remove`: the key leaves the roots of the next signed
 * bundle; roots.json keeps it so that it can sign that bundle, which a host
 * needs from a threshold of the roots it has (docs/trust-bundle.md).
 */
export function removeRootKey(home: SignerHome, keyId: string, clock: () => Date = () => new Date()): number {
  return withHomeLock(home.lockPath, () => {
    const roots = readRootsRecord(home);
    const key = roots.keys.find((k) => k.keyId === keyId && k.removed === undefined);
    if (key === undefined) {
      throw new AirgrantError(
        "bad-input",
        `no root key ${keyId} in ${rootsPath(home)}; see "airgrant-signer root list"`,
      );
    }
    const removed = clock().toISOString();
    writeRootsRecord(home, { ...roots, keys: roots.keys.map((k) => (k === key ? { ...k, removed } : k)) });
    return appendSignerEntry(home, "root-removed", auditData("root-removed", { keyId }), clock).seq;
  });
}
