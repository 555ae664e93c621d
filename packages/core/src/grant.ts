import { AirgrantError } from "./airgrant-error.js";
import type { SignatureAlgorithm } from "./signature-algorithm.js";
import { checkSourceAddressList, MAX_SOURCE_ADDRESS_LIST_BYTES } from "./source-address.js";

/** Where a grant lets its principal log in: one host, or every host of a group. */
export interface GrantTarget {
  kind: "host" | "group";
  name: string;
}

/** The point in the signer's audit log at which the grant was issued. */
export interface GrantAnchor {
  seq: number;
  /** First 8 bytes of the signer log's head hash. */
  headPrefix: Uint8Array;
}

/** Everything a grant says, before it is signed (docs/grant-format.md). */
export interface GrantFields {
  grantId: Uint8Array;
  issuerKeyId: Uint8Array;
  notBefore: number;
  notAfter: number;
  maxUses: number;
  principal: string;
  target: GrantTarget;
  anchor: GrantAnchor;
  reason?: string;
  challenge?: Uint8Array;
  sourceAddress?: string;
  forceCommand?: string;
  /** The lowest trust version (docs/trust-bundle.md) a host must have applied to accept the grant. */
  minTrustVersion?: number;
}

export interface GrantSignature {
  keyId: Uint8Array;
  algorithm: SignatureAlgorithm;
  signature: Uint8Array;
}

/** A decoded grant: its fields, the exact bytes its signatures cover, and the signatures. */
export interface Grant extends GrantFields {
  signedBytes: Uint8Array;
  signatures: GrantSignature[];
  /** The whole binary grant as received. */
  bytes: Uint8Array;
}

export const GRANT_ID_LENGTH = 16;
export const ANCHOR_PREFIX_LENGTH = 8;
export const MAX_SIGNATURES = 4;

/** Field limits, in bytes of UTF-8 (docs/grant-format.md, "Fields"). */
export const GRANT_LIMITS = {
  principal: 32,
  target: 64,
  reason: 64,
  challengeMin: 8,
  challengeMax: 32,
  sourceAddress: MAX_SOURCE_ADDRESS_LIST_BYTES,
  forceCommand: 128,
  /** A `min-trust-version` is a u32 of at least 1: every signed bundle's trust version is. */
  minTrustVersionMin: 1,
  minTrustVersionMax: 0xffff_ffff,
} as const;

const PRINCIPAL_PATTERN = /^[a-z_][a-z0-9_.-]*$/;
/** docs/grant-format.md, "Host names": dot-separated labels of 1-63 characters (RFC 1035, 2.3.4). */
const HOST_LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST_PATTERN = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);
const GROUP_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
// C0 and C1 controls, DEL, the Unicode line/paragraph separators and the bidi
// controls (printableLine's set): none of them belongs in a reason or command
// that ends up in logs, terminals and the auditor's report.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to find them
const CONTROL_PATTERN = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function invalid(message: string): AirgrantError {
  return new AirgrantError("invalid-grant-field", message);
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

export function checkPrincipal(principal: string): void {
  if (principal.length === 0 || principal.length > GRANT_LIMITS.principal || !PRINCIPAL_PATTERN.test(principal)) {
    throw invalid(
      `user must be 1-${GRANT_LIMITS.principal} characters of a-z, 0-9, '_', '.', '-', not starting with a digit, '.' or '-'`,
    );
  }
}

export function checkTarget(target: GrantTarget): void {
  const pattern = target.kind === "host" ? HOST_PATTERN : GROUP_PATTERN;
  if (target.name.length === 0 || target.name.length > GRANT_LIMITS.target || !pattern.test(target.name)) {
    throw invalid(
      target.kind === "host"
        ? `host must be a lower-case DNS name of at most ${GRANT_LIMITS.target} characters, each label 1-63 characters of a-z, 0-9, '-', not starting or ending with '-'`
        : `group must be 1-${GRANT_LIMITS.target} characters of a-z, 0-9, '.', '_', '-'`,
    );
  }
}

/** Parse `host` or `group:NAME` as people write targets on the command line and in bundles. */
export function parseTarget(text: string): GrantTarget {
  const target: GrantTarget = text.startsWith("group:")
    ? { kind: "group", name: text.slice("group:".length) }
    : { kind: "host", name: text.toLowerCase() };
  checkTarget(target);
  return target;
}

export function formatTarget(target: GrantTarget): string {
  return target.kind === "group" ? `group:${target.name}` : target.name;
}

function checkText(what: string, text: string, max: number): void {
  const length = utf8Length(text);
  if (length === 0 || length > max) throw invalid(`${what} must be 1-${max} bytes of UTF-8`);
  if (CONTROL_PATTERN.test(text)) throw invalid(`${what} must not contain control characters`);
  if (!text.isWellFormed()) throw invalid(`${what} must be well-formed UTF-8`);
}

const U32_MAX = 0xffff_ffff;

/** Check every field against the rules of docs/grant-format.md; throws `invalid-grant-field`. */
export function checkGrantFields(fields: GrantFields): void {
  if (fields.grantId.length !== GRANT_ID_LENGTH) throw invalid(`grant id must be ${GRANT_ID_LENGTH} bytes`);
  if (fields.issuerKeyId.length !== 8) throw invalid("issuer key id must be 8 bytes");
  for (const [name, value] of [
    ["not-before", fields.notBefore],
    ["not-after", fields.notAfter],
    ["anchor sequence", fields.anchor.seq],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw invalid(`${name} must fit in 32 bits unsigned`);
  }
  if (fields.notAfter <= fields.notBefore) throw invalid("not-after must be later than not-before");
  if (!Number.isInteger(fields.maxUses) || fields.maxUses < 1 || fields.maxUses > 255) {
    throw invalid("maximum uses must be 1-255");
  }
  checkPrincipal(fields.principal);
  checkTarget(fields.target);
  if (fields.anchor.headPrefix.length !== ANCHOR_PREFIX_LENGTH) {
    throw invalid(`anchor head prefix must be ${ANCHOR_PREFIX_LENGTH} bytes`);
  }
  if (fields.reason !== undefined) checkText("reason", fields.reason, GRANT_LIMITS.reason);
  if (fields.challenge !== undefined) {
    const n = fields.challenge.length;
    if (n < GRANT_LIMITS.challengeMin || n > GRANT_LIMITS.challengeMax) {
      throw invalid(`challenge must be ${GRANT_LIMITS.challengeMin}-${GRANT_LIMITS.challengeMax} bytes`);
    }
  }
  if (fields.sourceAddress !== undefined) checkSourceAddressList(fields.sourceAddress);
  if (fields.forceCommand !== undefined) checkText("force command", fields.forceCommand, GRANT_LIMITS.forceCommand);
  if (fields.minTrustVersion !== undefined) checkMinTrustVersion(fields.minTrustVersion);
}

export function checkMinTrustVersion(version: number): void {
  if (
    !Number.isInteger(version) ||
    version < GRANT_LIMITS.minTrustVersionMin ||
    version > GRANT_LIMITS.minTrustVersionMax
  ) {
    throw invalid(
      `minimum trust version must be ${GRANT_LIMITS.minTrustVersionMin}-${GRANT_LIMITS.minTrustVersionMax}`,
    );
  }
}
