import {
  AirgrantError,
  formatTarget,
  type GrantTarget,
  isOfficerName,
  parseTarget,
  targetsPermit,
  writeFileAtomic,
} from "@airgrant/core";
import { isModhex, MAX_PUBLIC_ID_LENGTH } from "@airgrant/yubikey-otp";
import { checkStateObject, parseStateObject, readStateFile, stateCorrupt } from "./state-file.js";

/** An officer: who may approve grants, with which YubiKey, for what (docs/signer.md, "Policy"). */
export interface Officer {
  name: string;
  /** The YubiKey's public id, lower-case modhex (the first characters of its OTPs). */
  yubikeyId: string;
  /** The YubiKey's 6-byte private id, 12 lower-case hex digits. */
  privateId: string;
  /** CKA_LABEL of the officer's AES-128 OTP secret on the token. */
  aesKeyLabel: string;
  /** Sorted: `*`, host names and `group:NAME` entries this officer may approve. */
  targets: string[];
  /** Longest grant this officer may approve, seconds. */
  maxTtl: number;
  /** When the officer was enrolled, ISO 8601 UTC. */
  enrolled: string;
}

export interface SignerPolicy {
  /** Longest grant the hosts accept: the maxLifetime of the last bundle exported. */
  maxLifetime: number;
  /** Sorted by name; names and YubiKey ids are unique. */
  officers: Officer[];
}

export const POLICY_FORMAT = "airgrant-signer-policy-v1";
/** Eight hours, the default officer TTL and host lifetime. */
export const DEFAULT_MAX_LIFETIME = 8 * 3600;
/** The trust bundle's own upper bound on maxLifetime (docs/trust-bundle.md). */
export const MAX_LIFETIME_LIMIT = 7 * 24 * 3600;

const PRIVATE_ID_PATTERN = /^[0-9a-f]{12}$/;
const OFFICER_KEYS = ["name", "yubikeyId", "privateId", "aesKeyLabel", "targets", "maxTtl", "enrolled"] as const;

export function emptyPolicy(): SignerPolicy {
  return { maxLifetime: DEFAULT_MAX_LIFETIME, officers: [] };
}

/** The token label of an officer's OTP secret. */
export function aesKeyLabelOf(yubikeyId: string): string {
  return `airgrant-otp-${yubikeyId}`;
}

export function checkOfficerName(name: string): void {
  if (!isOfficerName(name)) {
    throw new AirgrantError("bad-input", "an officer name is 1-64 characters of a-z, 0-9, '.', '_', '@', '-'");
  }
}

/** A YubiKey public id as typed: modhex, 2-16 characters, an even number (whole bytes); returns it lower-cased. */
export function normaliseYubikeyId(text: string): string {
  const id = text.toLowerCase();
  if (id.length < 2 || id.length > MAX_PUBLIC_ID_LENGTH || id.length % 2 !== 0 || !isModhex(id)) {
    throw new AirgrantError(
      "bad-input",
      `a YubiKey public id is 2-${MAX_PUBLIC_ID_LENGTH} modhex characters (cbdefghijklnrtuv), as the first characters of its OTPs (12 on a stock YubiKey)`,
    );
  }
  return id;
}

export function normalisePrivateId(text: string): string {
  const id = text.toLowerCase();
  if (!PRIVATE_ID_PATTERN.test(id)) {
    throw new AirgrantError("bad-input", "a YubiKey private id is 6 bytes: 12 hex digits");
  }
  return id;
}

/** A comma list of `*`, host names and `group:NAME`, in canonical form, sorted, without duplicates. */
export function parseTargetList(text: string): string[] {
  const items = text.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) throw new AirgrantError("bad-input", "--targets has an empty entry");
  const out = new Set<string>();
  for (const item of items) {
    if (item === "*") {
      out.add("*");
      continue;
    }
    try {
      out.add(formatTarget(parseTarget(item)));
    } catch (err) {
      throw new AirgrantError("bad-input", `target '${item}': ${(err as Error).message}`);
    }
  }
  return [...out].sort();
}

/** Whether an officer may approve a grant for `target`: the rule hosts apply to issuers (targetsPermit). */
export function officerMayApprove(officer: Officer, target: GrantTarget): boolean {
  return targetsPermit(officer.targets, target);
}

function isSeconds(value: unknown, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= max;
}

function parseOfficer(path: string, value: unknown, index: number): Officer {
  const what = `officers[${index}]`;
  const o = checkStateObject(path, value, OFFICER_KEYS, what);
  const { name, yubikeyId, privateId, aesKeyLabel, targets, maxTtl, enrolled } = o;
  try {
    if (typeof name !== "string") throw new Error();
    checkOfficerName(name);
    if (typeof yubikeyId !== "string" || normaliseYubikeyId(yubikeyId) !== yubikeyId) throw new Error();
    if (typeof privateId !== "string" || normalisePrivateId(privateId) !== privateId) throw new Error();
    if (!Array.isArray(targets) || targets.length === 0 || !targets.every((t) => typeof t === "string")) {
      throw new Error();
    }
    if (parseTargetList(targets.join(",")).join(",") !== targets.join(",")) throw new Error();
  } catch {
    throw stateCorrupt(path, `${what} has a bad name, yubikeyId, privateId or targets`);
  }
  if (aesKeyLabel !== aesKeyLabelOf(yubikeyId)) throw stateCorrupt(path, `${what}.aesKeyLabel`);
  if (!isSeconds(maxTtl, MAX_LIFETIME_LIMIT)) throw stateCorrupt(path, `${what}.maxTtl`);
  if (typeof enrolled !== "string" || Number.isNaN(Date.parse(enrolled))) throw stateCorrupt(path, `${what}.enrolled`);
  return { name, yubikeyId, privateId, aesKeyLabel, targets: targets as string[], maxTtl, enrolled };
}

/** policy.json; a home without one has no officers and the default lifetime. */
export function readPolicy(path: string): SignerPolicy {
  const text = readStateFile(path);
  if (text === undefined) return emptyPolicy();
  const o = parseStateObject(path, text, ["format", "maxLifetime", "officers"]);
  if (o.format !== POLICY_FORMAT) throw stateCorrupt(path, `format is not ${POLICY_FORMAT}`);
  if (!isSeconds(o.maxLifetime, MAX_LIFETIME_LIMIT)) throw stateCorrupt(path, "maxLifetime");
  if (!Array.isArray(o.officers)) throw stateCorrupt(path, "officers is not a list");
  const officers = o.officers.map((value, i) => parseOfficer(path, value, i));
  const names = new Set(officers.map((x) => x.name));
  const ids = new Set(officers.map((x) => x.yubikeyId));
  if (names.size !== officers.length || ids.size !== officers.length) {
    throw stateCorrupt(path, "two officers share a name or a YubiKey");
  }
  return { maxLifetime: o.maxLifetime, officers };
}

export function encodePolicy(policy: SignerPolicy): string {
  const officers = [...policy.officers]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((o) => ({
      name: o.name,
      yubikeyId: o.yubikeyId,
      privateId: o.privateId,
      aesKeyLabel: o.aesKeyLabel,
      targets: o.targets,
      maxTtl: o.maxTtl,
      enrolled: o.enrolled,
    }));
  return `${JSON.stringify({ format: POLICY_FORMAT, maxLifetime: policy.maxLifetime, officers }, null, 2)}\n`;
}

export function writePolicy(path: string, policy: SignerPolicy): void {
  writeFileAtomic(path, encodePolicy(policy));
}
