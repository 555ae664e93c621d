import {
  approvalRequirementFor,
  checkPrincipal,
  formatTarget,
  isoSeconds,
  requestCodeOfChallenge,
  requestHostCheck,
  requestPolicyOf,
  sourceAddressAllows,
  type TrustBundle,
  type TrustedApprover,
  type TrustedIssuer,
  targetsCoverHost,
  targetsPermit,
} from "@airgrant/core";
import type { GrantClaims } from "./claims.js";
import type { RequestLookup } from "./request-store.js";

/**
 * The one ordered list of rules a grant takes on this host, whatever
 * carried it (docs/grant-format.md, "What a host checks"). Pure: the
 * one-time store is the admission's (admission.ts). Authenticity is settled
 * before anything else in the claims is read, so that nothing in an
 * unauthenticated grant steers the answer beyond "not genuine".
 */

export interface Refusal<C extends string> {
  code: C;
  message: string;
}

/** Why a grant was refused: stable codes listed in docs/errors.md. */
export type DenyCode =
  | "malformed-grant"
  | "bad-checksum"
  | "unsupported-version"
  | "malformed-certificate"
  | "invalid-user"
  | "clock-behind"
  | "trust-expired"
  | "unknown-issuer"
  | "bad-signature"
  | "issuer-not-valid"
  | "not-enough-signatures"
  | "not-enough-approvals"
  | "issuer-retired"
  | "grant-revoked"
  | "trust-version-required"
  | "grant-lifetime-exceeded"
  | "grant-not-yet-valid"
  | "grant-expired"
  | "wrong-user"
  | "wrong-host"
  | "target-not-allowed"
  | "wrong-source"
  | "request-required"
  | "request-unknown"
  | "request-wrong-host"
  | "request-wrong-user"
  | "request-expired"
  | "request-redeemed"
  | "constraint-unenforceable"
  | "grant-replayed";

/** Who makes sure a constraint holds for the login: this verifier, or sshd (a certificate's critical option). */
export type Enforcer = "airgrant" | "sshd";

export interface RuleContext {
  /** The account being logged in to. */
  user: string;
  /** This host's name, lower case. */
  host: string;
  /** Seconds since the epoch: the host's clock, or its time floor when the clock is behind it (time-floor.ts). */
  now: number;
  /** Seconds the host's clock is behind its time floor; 0 when it is not. */
  clockBehind: number;
  /** The client's address, when the way in knows it. */
  remoteAddress?: string;
  /** What this host holds of the request a grant's `challenge` names (lookUpRequest); none when it holds nothing. */
  request?: RequestLookup;
}

export type Decision =
  | {
      allowed: true;
      /** The bundle issuers whose signatures verified, the grant's issuer first. */
      signers: TrustedIssuer[];
      /** The approvals that counted, one per officer, in the grant's order. */
      approvals: TrustedApprover[];
      /** Each constraint of the grant and who enforces it, for the log. */
      enforced: Record<string, Enforcer>;
    }
  | (Refusal<Exclude<DenyCode, "grant-replayed">> & {
      allowed: false;
      signers: TrustedIssuer[];
      approvals: TrustedApprover[];
    });

type Rule = (
  claims: GrantClaims,
  bundle: TrustBundle,
  context: RuleContext,
  signers: TrustedIssuer[],
  approvals: TrustedApprover[],
) => Refusal<Exclude<DenyCode, "grant-replayed">> | undefined;

const what = (claims: GrantClaims) => (claims.carrier === "ssh-certificate" ? "certificate" : "grant");

function accountName(_claims: GrantClaims, _bundle: TrustBundle, context: RuleContext) {
  try {
    checkPrincipal(context.user);
    return undefined;
  } catch {
    return { code: "invalid-user", message: "the user name is not a valid account name" } as const;
  }
}

/**
 * docs/requests.md, "Time floor": within the bundle's skew the check is
 * judged at the floor; a clock further back than that has been set back,
 * and nothing is let in by it.
 */
function clockNotBehind(_claims: GrantClaims, bundle: TrustBundle, context: RuleContext) {
  if (context.clockBehind <= bundle.clockSkew) return undefined;
  return {
    code: "clock-behind",
    message: `this host's clock is ${context.clockBehind} s behind the latest time its state has seen (${isoSeconds(context.now)}), more than the ${bundle.clockSkew} s skew allowed: set the clock right`,
  } as const;
}

/**
 * docs/trust-bundle.md, "Expiry": a signed bundle past its `expires` that
 * says `refuse` admits nothing until a newer one is applied; one that says
 * `warn` is noted in the log by the admission.
 */
function bundleCurrent(_claims: GrantClaims, bundle: TrustBundle, context: RuleContext) {
  const trust = bundle.signedTrust;
  if (trust === undefined || trust.onExpiry !== "refuse" || !bundleExpired(bundle, context.now)) return undefined;
  return {
    code: "trust-expired",
    message: `the trust bundle (trust version ${trust.trustVersion}) expired at ${isoSeconds(trust.expires)} and refuses grants until a newer one is applied (airgrant-verifier update)`,
  } as const;
}

/** Whether a signed bundle is past its `expires` at `now`: judged without skew. */
export function bundleExpired(bundle: TrustBundle, now: number): boolean {
  return bundle.signedTrust !== undefined && now >= bundle.signedTrust.expires;
}

/**
 * Every signature is by a bundle issuer, verifies, and its key is valid now
 * (give or take the skew); a later signature by an approver's key is an
 * approval, which `enoughApprovals` counts.
 */
function signatures(claims: GrantClaims, bundle: TrustBundle, context: RuleContext, signers: TrustedIssuer[]) {
  for (const signature of claims.signatures) {
    const issuer = signature.findIssuer(bundle);
    if (issuer === undefined && signature.findApprover(bundle) !== undefined) continue;
    if (issuer === undefined) {
      return {
        code: "unknown-issuer",
        message: `${what(claims)} is signed by ${signature.name}, which this host does not trust`,
      } as const;
    }
    const bad = signature.verify(issuer);
    if (bad !== undefined) return { code: "bad-signature", message: bad } as const;
    const { now } = context;
    if (now + bundle.clockSkew < issuer.notBefore || now - bundle.clockSkew >= issuer.notAfter) {
      const by =
        now < issuer.notBefore ? `${issuer.notBefore - now} s before it` : `${now - issuer.notAfter} s after it`;
      return {
        code: "issuer-not-valid",
        message: `issuer key ${issuer.keyId} is valid from ${isoSeconds(issuer.notBefore)} to ${isoSeconds(issuer.notAfter)}; it is ${isoSeconds(now)} on this host, ${by} (${bundle.clockSkew} s skew allowed)`,
      } as const;
    }
    signers.push(issuer);
  }
  return undefined;
}

/** Distinct keys: one key signing twice, under any name, counts once. */
function enoughSignatures(claims: GrantClaims, bundle: TrustBundle, _context: RuleContext, signers: TrustedIssuer[]) {
  const distinct = new Set(signers.map((issuer) => issuer.keyId)).size;
  if (distinct >= bundle.requiredSignatures) return undefined;
  return {
    code: "not-enough-signatures",
    message: `${what(claims)} has ${distinct} distinct signature(s); this host requires ${bundle.requiredSignatures}`,
  } as const;
}

/**
 * docs/trust-bundle.md, "Approvals": a login needs as many approvals as the
 * policy entry for this host says. An approval counts when its signature
 * verifies, its officer may approve the grant's target, is not the grant's
 * own account, and has not been counted already (under any key of theirs).
 */
function enoughApprovals(
  claims: GrantClaims,
  bundle: TrustBundle,
  context: RuleContext,
  _signers: TrustedIssuer[],
  approvals: TrustedApprover[],
) {
  const notCounted: string[] = [];
  for (const signature of claims.signatures) {
    const approver = signature.findApprover(bundle);
    if (approver === undefined) continue;
    const who = `officer ${approver.officer} (key ${approver.keyId})`;
    const counted = approvals.find((a) => a.officer === approver.officer);
    const bad = signature.verify(approver);
    if (bad !== undefined) notCounted.push(`${who}: ${bad}`);
    else if (!targetsPermit(approver.targets, claims.target)) {
      notCounted.push(`${who} may not approve ${formatTarget(claims.target)}`);
    } else if (claims.principals.includes(approver.officer)) {
      notCounted.push(`${who} is the account it grants`);
    } else if (counted !== undefined) {
      notCounted.push(`${who} approved it already, with key ${counted.keyId}`);
    } else approvals.push(approver);
  }
  const requirement = approvalRequirementFor(bundle.approvals?.policy ?? [], bundle.groups, context.host);
  if (requirement === undefined || approvals.length >= requirement.approvals) return undefined;
  const why = notCounted.length === 0 ? "" : `; not counted: ${notCounted.join("; ")}`;
  return {
    code: "not-enough-approvals",
    message: `${what(claims)} has ${approvals.length} approval(s) that count; host '${context.host}' needs ${requirement.approvals} (approvalPolicy '${requirement.target}')${why}`,
  } as const;
}

/**
 * docs/trust-bundle.md, "Issuer key rotation": a retired key's grants that
 * started by its `retireAt` run out; one that starts later is refused.
 * Both times are signed values, so no skew applies.
 */
function notRetired(claims: GrantClaims, _bundle: TrustBundle, _context: RuleContext, signers: TrustedIssuer[]) {
  const retired = signers.find((issuer) => issuer.retireAt !== undefined && claims.notBefore > issuer.retireAt);
  if (retired === undefined) return undefined;
  return {
    code: "issuer-retired",
    message: `issuer key ${retired.keyId} was retired at ${isoSeconds(retired.retireAt as number)}; this ${what(claims)} starts at ${isoSeconds(claims.notBefore)}`,
  } as const;
}

function notRevoked(claims: GrantClaims, bundle: TrustBundle) {
  return bundle.revokedGrants.includes(claims.grantId)
    ? ({ code: "grant-revoked", message: `grant ${claims.grantId} is revoked` } as const)
    : undefined;
}

/**
 * docs/grant-format.md, "Extensions": a grant that names the lowest trust
 * version it needs waits for a host to apply it, so that a revocation
 * shipped in that version reaches a host before the grant does.
 */
function trustVersionApplied(claims: GrantClaims, bundle: TrustBundle) {
  const needed = claims.minTrustVersion;
  if (needed === undefined) return undefined;
  const installed = bundle.signedTrust?.trustVersion;
  if (installed !== undefined && installed >= needed) return undefined;
  const have = installed === undefined ? "an unsigned (version 1) bundle" : `trust version ${installed}`;
  return {
    code: "trust-version-required",
    message: `${what(claims)} needs trust version ${needed} or later; this host has ${have}: apply version ${needed} with airgrant-verifier update`,
  } as const;
}

/** An inverted window (only a certificate can carry one) is no shorter than the longest. */
function lifetime(claims: GrantClaims, bundle: TrustBundle) {
  const { notBefore, notAfter } = claims;
  if (notAfter > notBefore && notAfter - notBefore <= bundle.maxLifetime) return undefined;
  return {
    code: "grant-lifetime-exceeded",
    message: `${what(claims)} is valid for ${notAfter - notBefore} s; this host accepts at most ${bundle.maxLifetime} s`,
  } as const;
}

/**
 * The signer's window on the host's clock, for a grant bound to no request;
 * a request-bound grant's freshness is the request's age on the host's clock
 * (requestBinding). A refusal says by how much the two clocks disagree.
 */
function window(claims: GrantClaims, bundle: TrustBundle, context: RuleContext) {
  if (claims.constraints.challenge !== undefined) return undefined;
  const { now } = context;
  if (now + bundle.clockSkew < claims.notBefore) {
    return {
      code: "grant-not-yet-valid",
      message: `${what(claims)} is valid from ${isoSeconds(claims.notBefore)}; it is ${isoSeconds(now)} on this host, ${claims.notBefore - now} s before (${bundle.clockSkew} s skew allowed)`,
    } as const;
  }
  if (now - bundle.clockSkew >= claims.notAfter) {
    return {
      code: "grant-expired",
      message: `${what(claims)} expired at ${isoSeconds(claims.notAfter)}; it is ${isoSeconds(now)} on this host, ${now - claims.notAfter} s after (${bundle.clockSkew} s skew allowed)`,
    } as const;
  }
  return undefined;
}

/** Exactly one account, the one asked for: a certificate naming several is not one the signer makes. */
function principal(claims: GrantClaims, _bundle: TrustBundle, context: RuleContext) {
  if (claims.principals.length === 1 && claims.principals[0] === context.user) return undefined;
  const named = claims.principals.map((p) => `'${p.slice(0, 40)}'`).join(", ") || "no account";
  return { code: "wrong-user", message: `${what(claims)} is for ${named}, not '${context.user}'` } as const;
}

function onThisHost(claims: GrantClaims, bundle: TrustBundle, context: RuleContext) {
  const { target } = claims;
  const here =
    target.kind === "host"
      ? target.name === context.host
      : Object.hasOwn(bundle.groups, target.name) && (bundle.groups[target.name] ?? []).includes(context.host);
  if (here) return undefined;
  return {
    code: "wrong-host",
    message: `${what(claims)} is for ${formatTarget(target)}, not host '${context.host}'`,
  } as const;
}

function issuersPermitTarget(
  claims: GrantClaims,
  _bundle: TrustBundle,
  _context: RuleContext,
  signers: TrustedIssuer[],
) {
  const refusing = signers.find((issuer) => !targetsPermit(issuer.targets, claims.target));
  if (refusing === undefined) return undefined;
  return {
    code: "target-not-allowed",
    message: `issuer key ${refusing.keyId} may not grant access to ${formatTarget(claims.target)}`,
  } as const;
}

/**
 * docs/requests.md, "What a host checks": a grant with a `challenge` is let
 * in only against a pending request of this host for this account, younger
 * than the policy's lifetime on the host's clock; the admission redeems it
 * with the use. A host the policy names refuses a grant without one.
 */
function requestBinding(claims: GrantClaims, bundle: TrustBundle, context: RuleContext) {
  const policy = requestPolicyOf(bundle);
  if (claims.constraints.challenge === undefined) {
    if (!targetsCoverHost(policy.required, bundle.groups, context.host)) return undefined;
    return {
      code: "request-required",
      message: `host '${context.host}' lets in only grants bound to a request: ask the officer for a grant with the code this host shows at login`,
    } as const;
  }
  const code = requestCodeOfChallenge(claims.constraints.challenge);
  if (code === undefined) {
    return { code: "request-unknown", message: `${what(claims)}'s challenge is not a request code` } as const;
  }
  const { record, redeemed } = context.request ?? {};
  if (record === undefined) {
    if (code.hostCheck !== requestHostCheck(context.host)) {
      return {
        code: "request-wrong-host",
        message: `${what(claims)} is bound to request ${code.symbols}, which was made on another host than '${context.host}'`,
      } as const;
    }
    return {
      code: "request-unknown",
      message: `${what(claims)} is bound to request ${code.symbols}, which this host did not make (or pruned long after it expired)`,
    } as const;
  }
  if (record.host !== context.host) {
    return {
      code: "request-wrong-host",
      message: `request ${code.symbols} was made for host '${record.host}', not '${context.host}'`,
    } as const;
  }
  if (record.user !== context.user) {
    return {
      code: "request-wrong-user",
      message: `request ${code.symbols} was made for '${record.user}', not '${context.user}'`,
    } as const;
  }
  if (redeemed === true) {
    return { code: "request-redeemed", message: `request ${code.symbols} was redeemed already` } as const;
  }
  const age = context.now - record.created;
  if (age >= policy.lifetime) {
    return {
      code: "request-expired",
      message: `request ${code.symbols} was made ${age} s ago on this host's clock (${isoSeconds(record.created)}); requests last ${policy.lifetime} s`,
    } as const;
  }
  return undefined;
}

/**
 * Checked here whenever the way in knows the client's address; sshd checks
 * a certificate's `source-address` again itself, and without an address
 * only a certificate can still be let in (sshd is then the one who checks).
 */
function source(claims: GrantClaims, _bundle: TrustBundle, context: RuleContext) {
  const list = claims.constraints.sourceAddress;
  if (list === undefined) return undefined;
  if (context.remoteAddress === undefined && claims.carrier === "ssh-certificate") return undefined;
  if (sourceAddressAllows(list, context.remoteAddress)) return undefined;
  return {
    code: "wrong-source",
    message: `${what(claims)} allows logins from ${list} only, not from ${context.remoteAddress ?? "an unknown address"}`,
  } as const;
}

/**
 * docs/grant-format.md: a host that cannot enforce a constraint refuses the
 * grant. sshd enforces a certificate's `force-command`; nothing enforces it
 * behind a password prompt. Every way in checks a `challenge` (requestBinding).
 */
function enforceable(claims: GrantClaims) {
  const { constraints } = claims;
  const cannot: string[] = [];
  if (constraints.forceCommand !== undefined && claims.carrier !== "ssh-certificate") cannot.push("force-command");
  for (const name of constraints.unknown ?? []) cannot.push(name.slice(0, 40));
  if (cannot.length === 0) return undefined;
  return {
    code: "constraint-unenforceable",
    message: `${what(claims)} carries ${cannot.join(", ")}, which this way in cannot enforce`,
  } as const;
}

/** In the order of docs/grant-format.md, "What a host checks"; the use left is the admission's. */
const RULES: readonly Rule[] = [
  accountName,
  clockNotBehind,
  bundleCurrent,
  signatures,
  enoughSignatures,
  enoughApprovals,
  notRetired,
  notRevoked,
  trustVersionApplied,
  lifetime,
  window,
  principal,
  onThisHost,
  issuersPermitTarget,
  requestBinding,
  source,
  enforceable,
];

/** Decide on a grant's claims; the first rule that refuses gives the answer. */
export function decideGrant(claims: GrantClaims, bundle: TrustBundle, context: RuleContext): Decision {
  const signers: TrustedIssuer[] = [];
  const approvals: TrustedApprover[] = [];
  for (const rule of RULES) {
    const refusal = rule(claims, bundle, context, signers, approvals);
    if (refusal !== undefined) return { allowed: false, signers, approvals, ...refusal };
  }
  const enforced: Record<string, Enforcer> = {};
  const byCarrier: Enforcer = claims.carrier === "ssh-certificate" ? "sshd" : "airgrant";
  if (claims.constraints.sourceAddress !== undefined) {
    enforced["source-address"] = context.remoteAddress === undefined ? "sshd" : "airgrant";
  }
  if (claims.constraints.forceCommand !== undefined) enforced["force-command"] = byCarrier;
  if (claims.constraints.challenge !== undefined) enforced.challenge = "airgrant";
  return { allowed: true, signers, approvals, enforced };
}
