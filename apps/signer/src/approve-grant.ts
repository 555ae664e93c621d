import { closeSync, openSync } from "node:fs";
import {
  AirgrantError,
  auditData,
  encodeGrant,
  encodeGrantText,
  formatTarget,
  type Grant,
  importPublicKey,
  isoSeconds,
  keyIdOf,
  MAX_SINGLE_SIGNATURE_TEXT_LENGTH,
  readBounded,
  sha256,
  targetsPermit,
  toHex,
  verifySignature,
  writeFileAtomic,
} from "@airgrant/core";
import type { ApproverRecord } from "./approver-keys.js";
import { formatDuration } from "./duration.js";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import {
  decodePendingGrant,
  encodePendingGrant,
  MAX_PENDING_GRANT_BYTES,
  type PendingGrant,
  pendingGrantOf,
  pendingSignatures,
} from "./pending-grant.js";
import { type TokenSource, withHomeSession } from "./signer.js";
import type { SignerHome } from "./signer-home.js";
import type { TokenSession } from "./token-session.js";

/**
 * `approve` and `deny` of a pending grant (docs/two-person.md): one
 * officer, with their own approval key on their own token, adds their
 * signature over the grant's body, or ends the pending grant. Each is one
 * operation under the home's lock, logged in this home's signer log.
 */

/** A pending grant file as read: at most MAX_PENDING_GRANT_BYTES, decoded canonically. */
export function readPendingGrant(path: string): PendingGrant {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new AirgrantError("file-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    const read = readBounded(fd, MAX_PENDING_GRANT_BYTES);
    if (read.oversized) {
      throw new AirgrantError("malformed-pending-grant", `pending grant: ${path} is larger than any pending grant`);
    }
    return decodePendingGrant(read.bytes);
  } finally {
    closeSync(fd);
  }
}

/** Whether a grant's text fits a PAM password prompt, and what carries it otherwise (docs/two-person.md, "Carriers"). */
export function carriersOf(textLength: number): { textLength: number; fitsPrompt: boolean; advice: string } {
  const fitsPrompt = textLength <= MAX_SINGLE_SIGNATURE_TEXT_LENGTH;
  return {
    textLength,
    fitsPrompt,
    advice: fitsPrompt
      ? `the grant is ${textLength} characters: it fits a password prompt (at most ${MAX_SINGLE_SIGNATURE_TEXT_LENGTH}), a file and a QR code`
      : `the grant is ${textLength} characters, more than the ${MAX_SINGLE_SIGNATURE_TEXT_LENGTH} a password prompt takes: carry it as a file (airgrant-verifier check < FILE) or a QR code read by a scanner into check`,
  };
}

/** What a pending grant grants and who approved it, for the officer to read before they approve or deny. */
export function describePendingGrant(pending: PendingGrant): string {
  const grant = pendingGrantOf(pending);
  const approved = pending.approvals.map((a) => `${a.officer} (key ${a.keyId})`).join(", ") || "nobody yet";
  const lines = [
    `grant ${toHex(grant.grantId)}`,
    `  account:     ${grant.principal}`,
    `  target:      ${formatTarget(grant.target)}`,
    `  window:      ${isoSeconds(grant.notBefore)} to ${isoSeconds(grant.notAfter)} (${formatDuration(grant.notAfter - grant.notBefore)})`,
    `  uses:        ${grant.maxUses}`,
    `  reason:      ${grant.reason ?? "(none)"}`,
    `  issuer key:  ${pending.issuer.keyId}`,
    `  approvals:   ${pending.approvals.length} of ${pending.approvalsNeeded}: ${approved}`,
  ];
  if (grant.challenge !== undefined) lines.push(`  request code: ${toHex(grant.challenge)}`);
  if (grant.sourceAddress !== undefined) lines.push(`  from:        ${grant.sourceAddress}`);
  if (grant.forceCommand !== undefined) lines.push(`  command:     ${grant.forceCommand}`);
  if (pending.denied !== undefined) {
    lines.push(`  DENIED by ${pending.denied.officer}: ${pending.denied.reason}`);
  }
  return `${lines.join("\n")}\n`;
}

function requireOpen(pending: PendingGrant, path: string): void {
  if (pending.denied !== undefined) {
    throw new AirgrantError(
      "pending-grant-closed",
      `${path} was denied by officer ${pending.denied.officer} (${pending.denied.reason}); make a new grant`,
    );
  }
  if (pending.approvals.length >= pending.approvalsNeeded) {
    throw new AirgrantError("pending-grant-closed", `${path} has all ${pending.approvalsNeeded} approvals it needs`);
  }
}

/** The officer's key is on the token they opened, and is the one approvers.json records. */
function checkApproverKey(session: TokenSession, approver: ApproverRecord): void {
  const key = session.findOrCreateIssuerKey({ label: approver.keyLabel, alg: approver.alg, create: false });
  if (toHex(keyIdOf(key.publicKeySpki)) !== approver.keyId) {
    throw new AirgrantError(
      "key-missing",
      `the key "${approver.keyLabel}" on token "${session.tokenLabel}" is not officer ${approver.officer}'s approval key ${approver.keyId}`,
    );
  }
}

/** Refused before anything is signed: the rules a host applies to approvals, and the officer's own limits. */
function checkMayApprove(pending: PendingGrant, grant: Grant, approver: ApproverRecord): void {
  const earlier = pending.approvals.find((a) => a.officer === approver.officer || a.keyId === approver.keyId);
  if (earlier !== undefined) {
    throw new AirgrantError(
      "already-approved",
      `officer ${earlier.officer} already approved this grant (key ${earlier.keyId}); it needs another officer`,
    );
  }
  if (grant.principal === approver.officer) {
    throw new AirgrantError(
      "self-approval",
      `the grant is for account ${grant.principal}, officer ${approver.officer}'s own: another officer must approve it`,
    );
  }
  const target = formatTarget(grant.target);
  if (!targetsPermit(approver.targets, grant.target)) {
    throw new AirgrantError(
      "officer-not-allowed",
      `officer ${approver.officer} may approve grants for ${approver.targets.join(",")}, not ${target}`,
    );
  }
  const ttl = grant.notAfter - grant.notBefore;
  if (ttl > approver.maxTtl) {
    throw new AirgrantError(
      "ttl-too-long",
      `officer ${approver.officer} may approve grants of at most ${formatDuration(approver.maxTtl)}, not ${formatDuration(ttl)}`,
    );
  }
}

export interface ApproveResult {
  pending: PendingGrant;
  grantId: string;
  auditSeq: number;
  /** The grant text, once this approval completed it. */
  grant?: string;
  /** The text length and the carriers it fits. */
  carriers: ReturnType<typeof carriersOf>;
}

/**
 * `airgrant-signer approve FILE`: under the home's lock, the file is read
 * again, the officer's key checked on their token, the approval refused
 * before signing if a host would not count it or the officer may not give
 * it, the body signed and the signature checked, the file rewritten with
 * it, and `grant-approved` logged; the approval that completes the grant
 * also logs `grant-completed` and returns the grant's text.
 */
export function approvePendingGrant(
  home: SignerHome,
  token: TokenSource,
  path: string,
  approver: ApproverRecord,
  clock: () => Date = () => new Date(),
): ApproveResult {
  return withHomeSession(home, token, (session) => {
    const pending = readPendingGrant(path);
    requireOpen(pending, path);
    const grant = pendingGrantOf(pending);
    checkMayApprove(pending, grant, approver);
    checkApproverKey(session, approver);
    const signature = session.sign(approver.keyLabel, pending.body);
    const algorithm = signatureAlgorithmOf(approver.alg);
    if (!verifySignature(algorithm, importPublicKey(algorithm, approver.publicKey), pending.body, signature)) {
      throw new AirgrantError("internal", `the token's signature by ${approver.keyId} does not verify`);
    }
    const approved: PendingGrant = {
      ...pending,
      approvals: [...pending.approvals, { keyId: approver.keyId, algorithm, officer: approver.officer, signature }],
    };
    writeFileAtomic(path, encodePendingGrant(approved));
    const grantId = toHex(grant.grantId);
    const bodySha256 = toHex(sha256(pending.body));
    let auditSeq = appendSignerEntry(
      home,
      "grant-approved",
      auditData("grant-approved", {
        grantId,
        officer: approver.officer,
        keyId: approver.keyId,
        approvals: approved.approvals.length,
        approvalsNeeded: approved.approvalsNeeded,
        bodySha256,
      }),
      clock,
    ).seq;
    const bytes = encodeGrant(approved.body, pendingSignatures(approved));
    const carriers = carriersOf(encodeGrantText(bytes).length);
    if (approved.approvals.length < approved.approvalsNeeded) return { pending: approved, grantId, auditSeq, carriers };
    auditSeq = appendSignerEntry(
      home,
      "grant-completed",
      auditData("grant-completed", {
        grantId,
        approvers: approved.approvals.map((a) => a.keyId),
        officers: approved.approvals.map((a) => a.officer),
        grantSha256: toHex(sha256(bytes)),
      }),
      clock,
    ).seq;
    return { pending: approved, grantId, auditSeq, carriers, grant: encodeGrantText(bytes) };
  });
}

/**
 * `airgrant-signer deny FILE --reason TEXT`: the officer, logged in to
 * their own token, ends the pending grant: the file records who denied it
 * and why, `approve` refuses it from then on, and `grant-denied` is logged.
 */
export function denyPendingGrant(
  home: SignerHome,
  token: TokenSource,
  path: string,
  approver: ApproverRecord,
  reason: string,
  clock: () => Date = () => new Date(),
): { pending: PendingGrant; grantId: string; auditSeq: number } {
  return withHomeSession(home, token, (session) => {
    const pending = readPendingGrant(path);
    requireOpen(pending, path);
    const grant = pendingGrantOf(pending);
    checkApproverKey(session, approver);
    const denied: PendingGrant = { ...pending, denied: { officer: approver.officer, reason } };
    writeFileAtomic(path, encodePendingGrant(denied));
    const grantId = toHex(grant.grantId);
    const entry = appendSignerEntry(
      home,
      "grant-denied",
      auditData("grant-denied", {
        grantId,
        officer: approver.officer,
        reason,
        approvals: pending.approvals.length,
        bodySha256: toHex(sha256(pending.body)),
      }),
      clock,
    );
    return { pending: denied, grantId, auditSeq: entry.seq };
  });
}
