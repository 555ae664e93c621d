import { resolve } from "node:path";
import { AirgrantError, auditData, keyIdOf, type TrustedApprover, toHex, writeFileAtomic } from "@airgrant/core";
import { withHomeLock } from "./home-lock.js";
import { tokenLocationOf } from "./init-issuer.js";
import { type IssuerKeyAlg, signatureAlgorithmOf } from "./issuer-key-alg.js";
import type { TokenLocation } from "./issuer-record.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import { recordedKey } from "./recorded-key.js";
import { readRootsRecord } from "./root-keys.js";
import { type TokenSource, withHomeSession } from "./signer.js";
import type { SignerHome } from "./signer-home.js";
import { checkOfficerName, MAX_LIFETIME_LIMIT, parseTargetList } from "./signer-policy.js";
import { checkStateObject, parseStateObject, readStateFile, stateCorrupt, stateText, stateTime } from "./state-file.js";

/**
 * approvers.json in the signer's home (docs/two-person.md, "Enrolment"):
 * the officers' own approval keys, each on the officer's own token, what
 * each officer may approve, and where the key is, so that `approve` opens
 * the right token. Bundles name them as `approvers`.
 */

export interface ApproverRecord {
  officer: string;
  keyId: string;
  alg: IssuerKeyAlg;
  /** DER SubjectPublicKeyInfo. */
  publicKey: Uint8Array;
  keyLabel: string;
  token: TokenLocation;
  /** Sorted: `*`, host names and `group:NAME` entries the officer may approve. */
  targets: string[];
  /** Longest grant the officer may approve, seconds. */
  maxTtl: number;
  /** When `approver enrol` recorded it, ISO 8601 UTC. */
  enrolled: string;
}

export const APPROVERS_RECORD_FORMAT = "airgrant-signer-approvers-v1";
const MEMBERS = [
  "officer",
  "keyId",
  "alg",
  "publicKey",
  "keyLabel",
  "tokenLabel",
  "modulePath",
  "targets",
  "maxTtl",
  "enrolled",
] as const;

export function approversPath(home: SignerHome): string {
  return resolve(home.dir, "approvers.json");
}

function decodeApprover(path: string, value: unknown, index: number): ApproverRecord {
  const what = `approvers[${index}]`;
  const o = checkStateObject(path, value, MEMBERS, what);
  const { targets, maxTtl } = o;
  const key = recordedKey(path, what, o);
  const officer = stateText(path, `${what}.officer`, o.officer);
  const keyLabel = stateText(path, `${what}.keyLabel`, o.keyLabel);
  const tokenLabel = stateText(path, `${what}.tokenLabel`, o.tokenLabel);
  const modulePath = stateText(path, `${what}.modulePath`, o.modulePath);
  try {
    checkOfficerName(officer);
    if (!Array.isArray(targets) || !targets.every((t) => typeof t === "string")) throw new Error();
    if (parseTargetList(targets.join(",")).join(",") !== targets.join(",")) throw new Error();
  } catch {
    throw stateCorrupt(path, `${what} has a bad officer name or targets`);
  }
  if (typeof maxTtl !== "number" || !Number.isInteger(maxTtl) || maxTtl < 1 || maxTtl > MAX_LIFETIME_LIMIT) {
    throw stateCorrupt(path, `${what}.maxTtl`);
  }
  const enrolled = stateTime(path, `${what}.enrolled`, o.enrolled);
  return {
    officer,
    ...key,
    keyLabel,
    token: { tokenLabel, modulePath },
    targets: targets as string[],
    maxTtl,
    enrolled,
  };
}

/** approvers.json, sorted by key id; none when it does not exist. */
export function readApprovers(home: SignerHome): ApproverRecord[] {
  const path = approversPath(home);
  const text = readStateFile(path, { ownerOnly: true });
  if (text === undefined) return [];
  const o = parseStateObject(path, text, ["format", "approvers"]);
  if (o.format !== APPROVERS_RECORD_FORMAT) throw stateCorrupt(path, `format is not ${APPROVERS_RECORD_FORMAT}`);
  if (!Array.isArray(o.approvers)) throw stateCorrupt(path, "approvers");
  const approvers = o.approvers.map((a, i) => decodeApprover(path, a, i));
  if (new Set(approvers.map((a) => a.keyId)).size !== approvers.length) throw stateCorrupt(path, "a key twice");
  return approvers;
}

function writeApprovers(home: SignerHome, approvers: readonly ApproverRecord[]): void {
  const value = {
    format: APPROVERS_RECORD_FORMAT,
    approvers: [...approvers]
      .sort((a, b) => (a.keyId < b.keyId ? -1 : 1))
      .map((a) => ({
        officer: a.officer,
        keyId: a.keyId,
        alg: a.alg,
        publicKey: Buffer.from(a.publicKey).toString("base64"),
        keyLabel: a.keyLabel,
        tokenLabel: a.token.tokenLabel,
        modulePath: a.token.modulePath,
        targets: a.targets,
        maxTtl: a.maxTtl,
        enrolled: a.enrolled,
      })),
  };
  writeFileAtomic(approversPath(home), `${JSON.stringify(value, null, 2)}\n`);
}

/** An approver as a bundle's `approvers` names it. */
export function bundleApprover(record: ApproverRecord): TrustedApprover {
  return {
    keyId: record.keyId,
    algorithm: signatureAlgorithmOf(record.alg),
    publicKey: record.publicKey,
    officer: record.officer,
    targets: record.targets,
  };
}

export interface ApproverEnrolment {
  officer: string;
  keyLabel: string;
  alg: IssuerKeyAlg;
  targets: string[];
  maxTtl: number;
}

export interface ApproverEnrolResult {
  approver: ApproverRecord;
  generated: boolean;
  /** approvers.json gained the key with this call. */
  recorded: boolean;
  auditSeq?: number;
}

/**
 * `airgrant-signer approver enrol`: find or generate the officer's approval
 * key on the officer's own token (never the issuer's, never a root's key)
 * and record it, with the token and module it is on, under the home's
 * lock; `approver-enrolled` is logged. Run again for the same key, it
 * reports the key recorded; a key recorded for another officer is refused.
 */
export function enrolApprover(
  home: SignerHome,
  token: TokenSource,
  enrolment: ApproverEnrolment,
  clock: () => Date = () => new Date(),
): ApproverEnrolResult {
  checkOfficerName(enrolment.officer);
  return withHomeSession(home, token, (session, issuer) => {
    if (issuer?.token !== undefined && issuer.token.tokenLabel === session.tokenLabel) {
      throw new AirgrantError(
        "bad-input",
        `token "${session.tokenLabel}" holds this home's issuer key; an approval key goes on the officer's own token`,
      );
    }
    const key = session.findOrCreateIssuerKey({ label: enrolment.keyLabel, alg: enrolment.alg, create: true });
    const keyId = toHex(keyIdOf(key.publicKeySpki));
    if (issuer?.keyId === keyId) throw new AirgrantError("bad-input", `key ${keyId} is this home's issuer key`);
    if (readRootsRecord(home).keys.some((k) => k.keyId === keyId)) {
      throw new AirgrantError("bad-input", `key ${keyId} is a root key; an approval key is the officer's own`);
    }
    const approvers = readApprovers(home);
    const known = approvers.find((a) => a.keyId === keyId);
    if (known !== undefined && known.officer !== enrolment.officer) {
      throw new AirgrantError(
        "officer-exists",
        `key ${keyId} is already the approval key of officer ${known.officer}; an officer approves with a key of their own`,
      );
    }
    if (known !== undefined) return { approver: known, generated: key.created, recorded: false };
    const approver: ApproverRecord = {
      officer: enrolment.officer,
      keyId,
      alg: enrolment.alg,
      publicKey: key.publicKeySpki,
      keyLabel: enrolment.keyLabel,
      token: tokenLocationOf(session),
      targets: enrolment.targets,
      maxTtl: enrolment.maxTtl,
      enrolled: clock().toISOString(),
    };
    writeApprovers(home, [...approvers, approver]);
    const entry = appendSignerEntry(
      home,
      "approver-enrolled",
      auditData("approver-enrolled", {
        officer: approver.officer,
        keyId,
        algorithm: approver.alg,
        keyLabel: approver.keyLabel,
        token: approver.token.tokenLabel,
        modulePath: approver.token.modulePath,
        targets: approver.targets,
        maxTtl: approver.maxTtl,
        generated: key.created,
      }),
      clock,
    );
    return { approver, generated: key.created, recorded: true, auditSeq: entry.seq };
  });
}

/**
 * `airgrant-signer approver remove --key-id ID`: the key leaves
 * approvers.json, and the next bundle's `approvers`; the key stays on the
 * officer's token, which is theirs. Logged as `approver-removed`.
 */
export function removeApprover(home: SignerHome, keyId: string, clock: () => Date = () => new Date()): number {
  return withHomeLock(home.lockPath, () => {
    const approvers = readApprovers(home);
    const approver = approvers.find((a) => a.keyId === keyId);
    if (approver === undefined) {
      throw new AirgrantError(
        "unknown-officer",
        `no approval key ${keyId} in ${approversPath(home)}; see "airgrant-signer approver list"`,
      );
    }
    writeApprovers(
      home,
      approvers.filter((a) => a !== approver),
    );
    const data = auditData("approver-removed", { officer: approver.officer, keyId });
    return appendSignerEntry(home, "approver-removed", data, clock).seq;
  });
}
