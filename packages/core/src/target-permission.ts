import { formatTarget, type GrantTarget } from "./grant.js";

/**
 * Whether a list of permitted targets (an issuer's `targets` in the trust
 * bundle, an officer's in the signer's policy) lets its holder grant access
 * to `target`: `*`, or exactly that target. `group:NAME` permits grants to
 * the group, never to one of its hosts by name (docs/trust-bundle.md, "What
 * targets permit"): the signer, which knows no groups, and every host, whose
 * bundles may list different members, then give one answer.
 */
export function targetsPermit(permitted: readonly string[], target: GrantTarget): boolean {
  return permitted.includes("*") || permitted.includes(formatTarget(target));
}
