import {
  type AuditRecord,
  approvalRequirementFor,
  auditData,
  formatTarget,
  isoSeconds,
  sha256,
  type TrustBundle,
  toHex,
} from "@airgrant/core";
import type { GrantClaims } from "./claims.js";
import {
  bundleExpired,
  type DenyCode,
  decideGrant,
  type Enforcer,
  type Refusal,
  type RuleContext,
} from "./grant-rules.js";
import { appendHostEntry } from "./host-log.js";
import { type PamItems, printableItem } from "./pam-environment.js";
import { flushRequestStore, lookUpRequest, redeemRequest } from "./request-store.js";
import type { HostState } from "./state-paths.js";
import { judgingTime } from "./time-floor.js";
import { consumeGrantUse, flushUseStore, pruneExpiredUsesOccasionally, replayedMessage } from "./use-store.js";

/**
 * The one admission transaction of the host (docs/verifier.md, "One-time
 * use"): decide on a grant's claims, take a use, record the check, make the
 * use durable, prune. `check`, `pam` and `ssh-session` admit through it.
 */

export type Verdict =
  | { allowed: true; code: "allowed"; message: string; claims: GrantClaims }
  | { allowed: false; code: DenyCode; message: string; claims?: GrantClaims };

export interface AdmissionInput {
  state: HostState;
  /** The installed bundle (loadInstalledBundle). */
  bundle: TrustBundle;
  /** The carrier decoded (decodeGrantClaims, decodeCertificateClaims), or why it is not one. */
  claims: GrantClaims | Refusal<DenyCode>;
  /** What was presented, as read: it is hashed into the log, never stored. */
  presented: Uint8Array;
  /** True when the input went on past what was read. */
  oversized?: boolean;
  /** Who asks: the account, and what the way in knows of the login (pam_exec's PamEnvironment). */
  caller: Caller;
  host: string;
  clock: () => Date;
}

export interface Caller {
  /** The account being logged in to, as given: the rules refuse one that is not an account name. */
  user: string;
  /** The client's address, when the way in knows it. */
  remoteAddress?: string;
  /** The PAM items, for the log entry. */
  items?: PamItems;
}

export interface Admission {
  verdict: Verdict;
  /** The sequence number of the host log entry that records this check. */
  auditSeq: number;
  /** Which use of the grant this login took. */
  use?: number;
  /** When the access this admission gave ends (accessEndsAt), seconds; set when allowed. */
  accessEndsAt?: number;
}

/**
 * When the access a grant gives ends, on the host's clock: the one place
 * this is decided (docs/verifier.md, "When a session ends"). The login's
 * session is ended then, and the grant-check entry records it. A
 * request-bound grant lasts its duration from its use (docs/requests.md,
 * "What a host checks"), any other until its not-after.
 */
export function accessEndsAt(claims: GrantClaims, usedAt: number): number {
  return claims.constraints.challenge === undefined ? claims.notAfter : usedAt + (claims.notAfter - claims.notBefore);
}

/** How much of a user or host name a log entry keeps. */
export const LOGGED_NAME_LENGTH = 64;

function allowedMessage(claims: GrantClaims, context: RuleContext): string {
  const what = claims.carrier === "ssh-certificate" ? "certificate for grant" : "grant";
  return `${what} ${claims.grantId} lets '${context.user}' in on '${context.host}' until ${isoSeconds(accessEndsAt(claims, context.now))}`;
}

function decide(
  input: AdmissionInput,
  context: RuleContext,
): { verdict: Verdict; enforced?: Record<string, Enforcer>; signer?: string; approvers?: string[] } {
  const { claims } = input;
  if ("code" in claims) return { verdict: { allowed: false, code: claims.code, message: claims.message } };
  const decision = decideGrant(claims, input.bundle, context);
  const signer = decision.signers[0]?.keyId;
  const known = {
    ...(signer === undefined ? {} : { signer }),
    ...(decision.approvals.length === 0 ? {} : { approvers: decision.approvals.map((a) => a.keyId) }),
  };
  if (!decision.allowed) {
    return { verdict: { allowed: false, code: decision.code, message: decision.message, claims }, ...known };
  }
  return {
    verdict: { allowed: true, code: "allowed", message: allowedMessage(claims, context), claims },
    enforced: decision.enforced,
    ...known,
  };
}

/**
 * The members every check records (docs/verifier.md, "Audit entries"): the
 * verdict, who and where, the SHA-256 of what was presented (never the
 * grant), and what the grant claims once its carrier decoded.
 */
function entryData(
  input: AdmissionInput,
  context: RuleContext,
  verdict: Verdict,
  { signer, approvers }: { signer?: string; approvers?: string[] },
  enforced: Record<string, Enforcer> | undefined,
): AuditRecord<"grant-check"> {
  const { now } = context;
  const { caller } = input;
  const user = printableItem(caller.user, LOGGED_NAME_LENGTH);
  const data: AuditRecord<"grant-check"> = {
    verdict: verdict.code,
    user: user.value,
    host: printableItem(input.host, LOGGED_NAME_LENGTH).value,
    presented: toHex(sha256(input.presented)),
    presentedBytes: input.presented.length,
  };
  if (user.truncated) data.userTruncated = true;
  if (input.oversized) data.oversized = true;
  const claims = verdict.claims;
  if (claims !== undefined) {
    data.via = claims.carrier;
    data.grantId = claims.grantId;
    if (signer !== undefined) data.issuer = signer;
    if (approvers !== undefined) data.approvers = approvers;
    const needed = approvalRequirementFor(
      input.bundle.approvals?.policy ?? [],
      input.bundle.groups,
      input.host.toLowerCase(),
    );
    if (needed !== undefined) data.approvalsNeeded = needed.approvals;
    data.principal = printableItem(claims.principals[0] ?? "", LOGGED_NAME_LENGTH).value;
    data.target = formatTarget(claims.target);
    data.maxUses = claims.maxUses;
    if (Number.isSafeInteger(claims.notBefore)) data.notBefore = claims.notBefore;
    if (Number.isSafeInteger(claims.notAfter)) data.notAfter = claims.notAfter;
    if (claims.anchor !== undefined) {
      data.anchor = { seq: claims.anchor.seq, head: toHex(claims.anchor.headPrefix) };
    }
    if (claims.sshSerial !== undefined) data.sshSerial = claims.sshSerial;
  }
  if (enforced !== undefined && Object.keys(enforced).length > 0) data.enforced = enforced;
  const record = context.request?.record;
  if (context.request?.code !== undefined) data.request = context.request.code.symbols;
  if (claims !== undefined && record !== undefined && Number.isSafeInteger(claims.notBefore)) {
    // The grant was signed between the request's making and its use, both
    // on this host's clock: the signer's clock was ahead by this much.
    data.requestAge = now - record.created;
    data.signerAhead = { least: claims.notBefore - now, most: claims.notBefore - record.created };
  }
  if (context.clockBehind > 0) data.clockBehind = context.clockBehind;
  if (bundleExpired(input.bundle, now)) data.bundleExpired = true;
  if (caller.remoteAddress !== undefined) data.remoteAddress = caller.remoteAddress;
  if (caller.items !== undefined) Object.assign(data, caller.items);
  return data;
}

export function admitGrant(input: AdmissionInput): Admission {
  const { caller, state } = input;
  const time = judgingTime(state, input.clock);
  const { now } = time;
  const context: RuleContext = { user: caller.user, host: input.host.toLowerCase(), now, clockBehind: time.behind };
  if (caller.remoteAddress !== undefined) context.remoteAddress = caller.remoteAddress;
  const challenge = "code" in input.claims ? undefined : input.claims.constraints.challenge;
  if (challenge !== undefined) context.request = lookUpRequest(state.requestsDir, challenge);
  const decided = decide(input, context);
  let { verdict } = decided;
  let use: number | undefined;
  let redeemed = false;
  if (verdict.allowed && context.request?.code !== undefined) {
    const { claims } = verdict;
    redeemed = redeemRequest(state.requestsDir, context.request.code, claims.grantId, now);
    if (!redeemed) {
      const message = `request ${context.request.code.symbols} was redeemed already`;
      verdict = { allowed: false, code: "request-redeemed", message, claims };
    }
  }
  if (verdict.allowed) {
    const { claims } = verdict;
    const left = consumeGrantUse(
      state.usedDir,
      claims.grantId,
      claims.maxUses,
      { expires: claims.notAfter + input.bundle.clockSkew, usedAt: now, notAfter: claims.notAfter },
      { flush: false },
    );
    if (!left.consumed) {
      const message =
        "pruned" in left
          ? `grant ${claims.grantId} ended before uses were last pruned: how often it was used can no longer be told`
          : replayedMessage(claims.grantId, claims.maxUses);
      verdict = { allowed: false, code: "grant-replayed", message, claims };
    } else if ("use" in left) use = left.use;
  }
  const data = entryData(input, context, verdict, decided, verdict.allowed ? decided.enforced : undefined);
  const endsAt = verdict.allowed ? accessEndsAt(verdict.claims, now) : undefined;
  if (use !== undefined) data.use = use;
  if (endsAt !== undefined && Number.isSafeInteger(endsAt)) data.accessEndsAt = endsAt;
  const entry = appendHostEntry(state, "grant-check", auditData("grant-check", data), time.clock);
  if (redeemed) flushRequestStore(state.requestsDir);
  if (use !== undefined) {
    // The use becomes durable only now, after the log entry that records it:
    // nobody is let in before both are on disk, and the two flushes share a
    // journal commit on filesystems that journal metadata.
    flushUseStore(state.usedDir);
    pruneExpiredUsesOccasionally(state.usedDir, now, input.bundle.maxLifetime + input.bundle.clockSkew);
  }
  const admission: Admission = { verdict, auditSeq: entry.seq };
  if (use !== undefined) admission.use = use;
  if (endsAt !== undefined) admission.accessEndsAt = endsAt;
  return admission;
}
