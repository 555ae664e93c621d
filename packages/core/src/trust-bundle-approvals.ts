import type { JsonValue } from "./canonical-json.js";
import { parseTarget } from "./grant.js";
import {
  type ApprovalRequirement,
  type ApprovalTrust,
  asInteger,
  asObject,
  asString,
  bad,
  checkPermittedTarget,
  decodeBundleKey,
  decodeTargetList,
  encodeBundleKey,
  type JsonObject,
  requireSortedKeyIds,
  type TrustedApprover,
  targetsCoverHost,
} from "./trust-bundle-members.js";

/**
 * The two-person rule's members of a version 2 bundle, `approvers` and
 * `approvalPolicy` (docs/trust-bundle.md, "Approvals"), and which entry of
 * the policy a login on a host is held to.
 */

export const MAX_APPROVERS = 64;
export const MAX_APPROVAL_POLICY_ENTRIES = 64;
/** A grant carries at most four signatures and the first is the issuer's (docs/grant-format.md). */
export const MAX_APPROVALS = 3;

const OFFICER_NAME_PATTERN = /^[a-z0-9][a-z0-9._@-]{0,63}$/;

/** Whether `name` is an officer name: 1-64 characters of a-z, 0-9, `.`, `_`, `@`, `-`, the first a letter or digit. */
export function isOfficerName(name: string): boolean {
  return OFFICER_NAME_PATTERN.test(name);
}

/** 0 for a host, 1 for a group, 2 for `*`: the order of `approvalPolicy`, most specific first. */
function specificity(target: string): number {
  if (target === "*") return 2;
  return parseTarget(target).kind === "host" ? 0 : 1;
}

function policyOrder(a: ApprovalRequirement, b: ApprovalRequirement): number {
  const rank = specificity(a.target) - specificity(b.target);
  if (rank !== 0) return rank;
  return a.target < b.target ? -1 : a.target > b.target ? 1 : 0;
}

function decodeApprover(value: JsonValue, index: number): TrustedApprover {
  const what = `approvers[${index}]`;
  const o = asObject(value, what, ["algorithm", "keyId", "officer", "publicKey", "targets"]);
  const key = decodeBundleKey(o, what);
  const officer = asString(o.officer, `${what}.officer`);
  if (!isOfficerName(officer)) throw bad(`${what}.officer is not an officer name (a-z, 0-9, '.', '_', '@', '-')`);
  return { ...key, officer, targets: decodeTargetList(o.targets, `${what}.targets`) };
}

function decodeRequirement(value: JsonValue, index: number): ApprovalRequirement {
  const what = `approvalPolicy[${index}]`;
  const o = asObject(value, what, ["approvals", "target"]);
  const target = asString(o.target, `${what}.target`);
  checkPermittedTarget(target, `${what}.target`);
  return { target, approvals: asInteger(o.approvals, `${what}.approvals`, 0, MAX_APPROVALS) };
}

/**
 * `approvers` and `approvalPolicy` of `signed`, each absent or a non-empty
 * list; `keyIds` are the bundle's issuer and root keys, which may not
 * approve. Undefined when the bundle has neither member.
 */
export function decodeApprovalTrust(o: JsonObject, keyIds: ReadonlySet<string>): ApprovalTrust | undefined {
  if (!("approvers" in o) && !("approvalPolicy" in o)) return undefined;
  const approvers = decodeList(o.approvers, "approvers", MAX_APPROVERS).map(decodeApprover);
  requireSortedKeyIds(approvers, "approvers");
  const shared = approvers.find((a) => keyIds.has(a.keyId));
  if (shared !== undefined) throw bad(`key ${shared.keyId} is both an approver and an issuer or root`);
  const policy = decodeList(o.approvalPolicy, "approvalPolicy", MAX_APPROVAL_POLICY_ENTRIES).map(decodeRequirement);
  for (let i = 1; i < policy.length; i++) {
    if (policyOrder(policy[i - 1] as ApprovalRequirement, policy[i] as ApprovalRequirement) >= 0) {
      throw bad("approvalPolicy must list hosts, then groups, each sorted by name, then '*', each target once");
    }
  }
  const officers = new Set(approvers.map((a) => a.officer)).size;
  const unmet = policy.find((entry) => entry.approvals > officers);
  if (unmet !== undefined) {
    throw bad(
      `approvalPolicy for '${unmet.target}' needs ${unmet.approvals} approvals; approvers name ${officers} officer(s)`,
    );
  }
  return { approvers, policy };
}

function decodeList(value: JsonValue | undefined, what: string, max: number): JsonValue[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length === 0 || value.length > max) {
    throw bad(`${what}, when present, must list 1-${max} entries`);
  }
  return value;
}

/** The members as canonical JSON values, in the order the decoder requires; none for no approvals. */
export function encodeApprovalTrust(approvals: ApprovalTrust | undefined): JsonObject {
  if (approvals === undefined) return {};
  const out: JsonObject = {};
  if (approvals.approvers.length > 0) {
    out.approvers = [...approvals.approvers]
      .sort((a, b) => (a.keyId < b.keyId ? -1 : 1))
      .map((a) => ({ ...encodeBundleKey(a), officer: a.officer, targets: [...a.targets].sort() }));
  }
  if (approvals.policy.length > 0) {
    out.approvalPolicy = [...approvals.policy]
      .sort(policyOrder)
      .map((entry) => ({ target: entry.target, approvals: entry.approvals }));
  }
  return out;
}

/**
 * The entry of `approvalPolicy` a login on `host` is held to, whatever
 * the grant's target: the entry naming the host; else, of the entries for
 * groups that list the host in `groups`, the one needing the most
 * approvals; else `*`. Undefined when none applies (no approvals needed).
 */
export function approvalRequirementFor(
  policy: readonly ApprovalRequirement[],
  groups: Readonly<Record<string, readonly string[]>>,
  host: string,
): ApprovalRequirement | undefined {
  const named = policy.find((entry) => entry.target === host);
  if (named !== undefined) return named;
  let strictest: ApprovalRequirement | undefined;
  for (const entry of policy) {
    if (!entry.target.startsWith("group:") || !targetsCoverHost([entry.target], groups, host)) continue;
    if (strictest === undefined || entry.approvals > strictest.approvals) strictest = entry;
  }
  return strictest ?? policy.find((entry) => entry.target === "*");
}
