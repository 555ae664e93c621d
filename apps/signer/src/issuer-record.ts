import { AirgrantError, writeFileAtomic } from "@airgrant/core";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { recordedKey } from "./recorded-key.js";
import { checkStateObject, parseStateJson, readStateFile, stateCorrupt, stateText, stateTime } from "./state-file.js";
import type { OpenTokenOptions } from "./token-session.js";

/** The token the issuer key is on, as `init` opened it: every later command opens it unless told otherwise. */
export type TokenLocation = Pick<OpenTokenOptions, "modulePath" | "tokenLabel">;

/** issuer.json in the signer's home: which token key signs, and its public half (docs/signer.md). */
export interface IssuerRecord {
  keyLabel: string;
  alg: IssuerKeyAlg;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
  /** 16 hex digits: first 8 bytes of SHA-256 of publicKey (docs/grant-format.md). */
  keyId: string;
  /** When `init` first recorded the key, ISO 8601 UTC. */
  created: string;
  /** Absent in a home made before init recorded its token (format v1). */
  token?: TokenLocation;
}

export const ISSUER_RECORD_FORMAT = "airgrant-signer-issuer-v2";
/** The format of a home made before init recorded its token: still read, never written. */
const ISSUER_RECORD_FORMAT_V1 = "airgrant-signer-issuer-v1";

const KEYS_V1 = ["format", "keyLabel", "alg", "publicKey", "keyId", "created"] as const;
const KEYS = [...KEYS_V1, "tokenLabel", "modulePath"] as const;

export function encodeIssuerRecord(record: IssuerRecord & { token: TokenLocation }): string {
  const value = {
    format: ISSUER_RECORD_FORMAT,
    keyLabel: record.keyLabel,
    alg: record.alg,
    publicKey: Buffer.from(record.publicKey).toString("base64"),
    keyId: record.keyId,
    created: record.created,
    tokenLabel: record.token.tokenLabel,
    modulePath: record.token.modulePath,
  };
  return `${JSON.stringify(value, null, 2)}\n`;
}

/**
 * issuer.json, or undefined when `init` has not been run in this home. It
 * must be owner-only (`state-insecure`): it names the library the signer loads.
 */
export function readIssuerRecord(path: string): IssuerRecord | undefined {
  const text = readStateFile(path, { ownerOnly: true });
  if (text === undefined) return undefined;
  const value = parseStateJson(path, text);
  const v1 = (value as { format?: unknown } | null)?.format === ISSUER_RECORD_FORMAT_V1;
  const o = checkStateObject(path, value, v1 ? KEYS_V1 : KEYS, "the file");
  if (o.format !== ISSUER_RECORD_FORMAT && !v1) throw stateCorrupt(path, `format is not ${ISSUER_RECORD_FORMAT}`);
  const keyLabel = stateText(path, "keyLabel", o.keyLabel);
  const key = recordedKey(path, "", o);
  const created = stateTime(path, "created", o.created);
  const record: IssuerRecord = { keyLabel, ...key, created };
  if (v1) return record;
  const tokenLabel = stateText(path, "tokenLabel", o.tokenLabel);
  const modulePath = stateText(path, "modulePath", o.modulePath);
  return { ...record, token: { tokenLabel, modulePath } };
}

/** issuer.json, or `key-missing` telling the user to run init. */
export function requireIssuerRecord(path: string): IssuerRecord {
  const record = readIssuerRecord(path);
  if (record === undefined) {
    throw new AirgrantError(
      "key-missing",
      `no issuer key recorded in ${path}; run "airgrant-signer init" first (with the same --home)`,
    );
  }
  return record;
}

export function writeIssuerRecord(path: string, record: IssuerRecord & { token: TokenLocation }): void {
  writeFileAtomic(path, encodeIssuerRecord(record));
}

/** PEM "PUBLIC KEY" (RFC 7468 §13) of a DER SubjectPublicKeyInfo. */
export function publicKeyPem(spki: Uint8Array): string {
  const lines =
    Buffer.from(spki)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}
