import { writeFileAtomic } from "@airgrant/core";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { recordedKey } from "./recorded-key.js";
import type { SignerHome } from "./signer-home.js";
import { checkStateObject, parseStateObject, readStateFile, stateCorrupt, stateText, stateTime } from "./state-file.js";

/**
 * retired-issuers.json in the signer's home (docs/signer.md,
 * "retired-issuers.json"): the issuer keys `init --rotate` replaced, kept so
 * that signed bundles go on listing each with its `retireAt` while its
 * grants can still run, and so that their OTP counters on the token still
 * count.
 */
export interface RetiredIssuer {
  keyId: string;
  alg: IssuerKeyAlg;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
  keyLabel: string;
  /** When `init` recorded it, ISO 8601 UTC, as issuer.json said. */
  created: string;
  /** The last second a grant it signed may start: the time of the rotation, seconds since the epoch. */
  retireAt: number;
}

export const RETIRED_ISSUERS_FORMAT = "airgrant-signer-retired-issuers-v1";
const KEYS = ["format", "keys"] as const;
const KEY_MEMBERS = ["keyId", "alg", "publicKey", "keyLabel", "created", "retireAt"] as const;

function decodeRetiredIssuer(path: string, value: unknown, index: number): RetiredIssuer {
  const what = `keys[${index}]`;
  const o = checkStateObject(path, value, KEY_MEMBERS, what);
  const { retireAt } = o;
  const key = recordedKey(path, what, o);
  const keyLabel = stateText(path, `${what}.keyLabel`, o.keyLabel);
  const created = stateTime(path, `${what}.created`, o.created);
  if (!Number.isSafeInteger(retireAt) || (retireAt as number) < Math.floor(Date.parse(created) / 1000)) {
    throw stateCorrupt(path, `${what}.retireAt`);
  }
  return { ...key, keyLabel, created, retireAt: retireAt as number };
}

/** The retired issuer keys, oldest rotation first; none when the file does not exist. */
export function readRetiredIssuers(home: SignerHome): RetiredIssuer[] {
  const path = home.retiredIssuersPath;
  const text = readStateFile(path, { ownerOnly: true });
  if (text === undefined) return [];
  const o = parseStateObject(path, text, KEYS);
  if (o.format !== RETIRED_ISSUERS_FORMAT) throw stateCorrupt(path, `format is not ${RETIRED_ISSUERS_FORMAT}`);
  if (!Array.isArray(o.keys)) throw stateCorrupt(path, "keys");
  const keys = o.keys.map((k, i) => decodeRetiredIssuer(path, k, i));
  if (new Set(keys.map((k) => k.keyId)).size !== keys.length) throw stateCorrupt(path, "a key is listed twice");
  return keys;
}

export function writeRetiredIssuers(home: SignerHome, keys: readonly RetiredIssuer[]): void {
  const value = {
    format: RETIRED_ISSUERS_FORMAT,
    keys: keys.map((k) => ({
      keyId: k.keyId,
      alg: k.alg,
      publicKey: Buffer.from(k.publicKey).toString("base64"),
      keyLabel: k.keyLabel,
      created: k.created,
      retireAt: k.retireAt,
    })),
  };
  writeFileAtomic(home.retiredIssuersPath, `${JSON.stringify(value, null, 2)}\n`);
}
