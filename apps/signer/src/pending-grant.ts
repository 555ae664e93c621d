import {
  AirgrantError,
  decodeGrant,
  encodeCanonicalJson,
  encodeGrant,
  fromHex,
  type Grant,
  type GrantSignature,
  isOfficerName,
  isSignatureAlgorithm,
  type JsonValue,
  MAX_APPROVALS,
  readCanonicalJsonFile,
  type SignatureAlgorithm,
  toHex,
} from "@airgrant/core";
import { checkRevocationReason } from "./revoke.js";

/**
 * A grant waiting for its approvals, as it travels between officers
 * (docs/two-person.md, "The pending grant file"): the body the issuer
 * signed, the issuer's signature, the approvals so far, how many it needs,
 * and, once an officer refused it, who and why. One canonical JSON object
 * (docs/canonical-json.md) and a newline.
 */

export interface PendingApproval {
  keyId: string;
  algorithm: SignatureAlgorithm;
  officer: string;
  /** 64 bytes, as a grant's signature (docs/grant-format.md, "Signatures"). */
  signature: Uint8Array;
}

export interface PendingGrant {
  /** The grant body: the bytes every signature is over. */
  body: Uint8Array;
  issuer: { keyId: string; algorithm: SignatureAlgorithm; signature: Uint8Array };
  /** In the order they were added; the grant's signatures follow the issuer's in this order. */
  approvals: PendingApproval[];
  /** 1..3: approvals the grant is made for. */
  approvalsNeeded: number;
  denied?: { officer: string; reason: string };
}

export const PENDING_GRANT_FORMAT = "airgrant-pending-grant";
export const PENDING_GRANT_VERSION = 1;
/** A pending grant is a few hundred bytes of body and four signatures; anything far larger is not one. */
export const MAX_PENDING_GRANT_BYTES = 16 * 1024;
const TOP = ["approvals", "approvalsNeeded", "body", "format", "issuer", "version"];

function bad(message: string): AirgrantError {
  return new AirgrantError("malformed-pending-grant", `pending grant: ${message}`);
}

type JsonObject = { [key: string]: JsonValue };

function object(value: JsonValue | undefined, what: string, keys: readonly string[]): JsonObject {
  if (value === null || value === undefined || typeof value !== "object" || Array.isArray(value)) {
    throw bad(`${what} must be an object`);
  }
  const names = Object.keys(value);
  if (names.length !== keys.length || !keys.every((k) => names.includes(k))) {
    throw bad(`${what} must have exactly ${keys.join(", ")}`);
  }
  return value;
}

function string(value: JsonValue | undefined, what: string): string {
  if (typeof value !== "string") throw bad(`${what} must be a string`);
  return value;
}

function base64(value: JsonValue | undefined, what: string): Uint8Array {
  const text = string(value, what);
  const bytes = new Uint8Array(Buffer.from(text, "base64"));
  if (Buffer.from(bytes).toString("base64") !== text) throw bad(`${what} must be canonical base64`);
  return bytes;
}

function signatureOf(
  o: JsonObject,
  what: string,
): { keyId: string; algorithm: SignatureAlgorithm; signature: Uint8Array } {
  const keyId = toHex(
    fromHex(string(o.keyId, `${what}.keyId`), 8, "malformed-pending-grant", `pending grant: ${what}.keyId`),
  );
  const algorithm = string(o.algorithm, `${what}.algorithm`);
  if (!isSignatureAlgorithm(algorithm)) throw bad(`${what}.algorithm '${algorithm}' is not supported`);
  const signature = base64(o.signature, `${what}.signature`);
  if (signature.length !== 64) throw bad(`${what}.signature must be 64 bytes`);
  return { keyId, algorithm, signature };
}

/** The grant's signatures in order: the issuer's, then each approval's. */
export function pendingSignatures(pending: PendingGrant): GrantSignature[] {
  return [pending.issuer, ...pending.approvals].map((s) => ({
    keyId: fromHex(s.keyId, 8, "internal", "key id"),
    algorithm: s.algorithm,
    signature: s.signature,
  }));
}

/** The binary grant of the body and the signatures so far, decoded: every field checked as a host checks it. */
export function pendingGrantOf(pending: PendingGrant): Grant {
  try {
    return decodeGrant(encodeGrant(pending.body, pendingSignatures(pending)));
  } catch (err) {
    if (err instanceof AirgrantError) throw bad(err.message);
    throw err;
  }
}

/** Decode a pending grant file, refusing anything but its one canonical encoding (`malformed-pending-grant`). */
export function decodePendingGrant(bytes: Uint8Array): PendingGrant {
  const { value } = readCanonicalJsonFile(bytes, {
    maxBytes: MAX_PENDING_GRANT_BYTES,
    code: "malformed-pending-grant",
    what: "pending grant",
  });
  const hasDenial = value !== null && typeof value === "object" && !Array.isArray(value) && "denied" in value;
  const o = object(value, "the file", hasDenial ? [...TOP, "denied"] : TOP);
  if (o.format !== PENDING_GRANT_FORMAT) throw bad(`format must be '${PENDING_GRANT_FORMAT}'`);
  if (o.version !== PENDING_GRANT_VERSION) throw bad(`version ${String(o.version)} is not supported`);
  const needed = o.approvalsNeeded;
  if (typeof needed !== "number" || !Number.isInteger(needed) || needed < 1 || needed > MAX_APPROVALS) {
    throw bad(`approvalsNeeded must be an integer in 1..${MAX_APPROVALS}`);
  }
  if (!Array.isArray(o.approvals) || o.approvals.length > needed) {
    throw bad("approvals must be a list of at most approvalsNeeded approvals");
  }
  const approvals = o.approvals.map((a, i) => {
    const what = `approvals[${i}]`;
    const entry = object(a, what, ["algorithm", "keyId", "officer", "signature"]);
    const officer = string(entry.officer, `${what}.officer`);
    if (!isOfficerName(officer)) throw bad(`${what}.officer is not an officer name`);
    return { ...signatureOf(entry, what), officer };
  });
  if (new Set(approvals.map((a) => a.officer)).size !== approvals.length) throw bad("an officer approves once");
  const pending: PendingGrant = {
    body: base64(o.body, "body"),
    issuer: signatureOf(object(o.issuer, "issuer", ["algorithm", "keyId", "signature"]), "issuer"),
    approvals,
    approvalsNeeded: needed,
  };
  if (hasDenial) {
    const denial = object(o.denied, "denied", ["officer", "reason"]);
    const officer = string(denial.officer, "denied.officer");
    const reason = string(denial.reason, "denied.reason");
    if (!isOfficerName(officer)) throw bad("denied.officer is not an officer name");
    try {
      checkRevocationReason(reason);
    } catch {
      throw bad("denied.reason must be 1-128 bytes of printable text, as revoke's --reason");
    }
    pending.denied = { officer, reason };
  }
  pendingGrantOf(pending);
  return pending;
}

/** The file's bytes: canonical JSON and a newline; checked by decoding them. */
export function encodePendingGrant(pending: PendingGrant): Uint8Array {
  const sig = (s: { keyId: string; algorithm: string; signature: Uint8Array }) => ({
    keyId: s.keyId,
    algorithm: s.algorithm,
    signature: Buffer.from(s.signature).toString("base64"),
  });
  const value: JsonValue = {
    format: PENDING_GRANT_FORMAT,
    version: PENDING_GRANT_VERSION,
    body: Buffer.from(pending.body).toString("base64"),
    issuer: sig(pending.issuer),
    approvals: pending.approvals.map((a) => ({ ...sig(a), officer: a.officer })),
    approvalsNeeded: pending.approvalsNeeded,
    ...(pending.denied === undefined ? {} : { denied: { ...pending.denied } }),
  };
  const bytes = new TextEncoder().encode(`${encodeCanonicalJson(value)}\n`);
  decodePendingGrant(bytes);
  return bytes;
}
