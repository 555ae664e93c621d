import { type AuditValue, formatTarget, sha256, type TrustBundle, toHex } from "@airgrant/core";
import { appendHostEntry } from "./host-log.js";
import type { HostState } from "./host-state.js";
import { consumeGrantUse, flushUseStore, pruneExpiredUsesOccasionally, replayedMessage } from "./use-store.js";
import { type Verdict, verifyGrant } from "./verify-grant.js";

export interface CheckGrantInput {
  state: HostState;
  /** The installed bundle (loadInstalledBundle), loaded once by a long-lived caller. */
  bundle: TrustBundle;
  /** What was presented, as read: it is hashed into the log, never stored. */
  presented: Uint8Array;
  /** True when the input went on past what was read. */
  oversized?: boolean;
  user: string;
  host: string;
  clock: () => Date;
  remoteAddress?: string;
  /** Extra context for the log entry, such as the PAM service. */
  context?: Record<string, string>;
}

export interface CheckResult {
  verdict: Verdict;
  /** The sequence number of the host log entry that records this check. */
  auditSeq: number;
}

const LOGGED_USER_LENGTH = 64;

/** At most `max` code points: a cut never leaves half a surrogate pair, which the log refuses. */
function cutForLog(text: string, max: number): string {
  return Array.from(text).slice(0, max).join("");
}
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function decodePresented(input: CheckGrantInput): string | Verdict {
  if (input.oversized) {
    return { allowed: false, code: "malformed-grant", message: "input is far longer than any grant" };
  }
  try {
    return strictUtf8.decode(input.presented);
  } catch {
    return { allowed: false, code: "malformed-grant", message: "input is not text" };
  }
}

/**
 * Check a presented grant on this host and, if it is allowed, take one of its
 * uses. Every check, allowed or not, is appended to the host audit log with
 * the grant id (when the grant parsed) and a hash of what was presented.
 */
export function checkGrant(input: CheckGrantInput): CheckResult {
  const { bundle } = input;
  const now = Math.floor(input.clock().getTime() / 1000);
  const text = decodePresented(input);
  let verdict: Verdict =
    typeof text === "string"
      ? verifyGrant({
          text,
          bundle,
          user: input.user,
          host: input.host,
          now,
          ...(input.remoteAddress === undefined ? {} : { remoteAddress: input.remoteAddress }),
        })
      : text;
  let use: number | undefined;
  if (verdict.allowed) {
    const grant = verdict.grant;
    const grantId = toHex(grant.grantId);
    const taken = consumeGrantUse(
      input.state.usedDir,
      grantId,
      grant.maxUses,
      { expires: grant.notAfter + bundle.clockSkew, usedAt: now },
      { flush: false },
    );
    if (taken.consumed) use = taken.use;
    else {
      verdict = {
        allowed: false,
        code: "grant-replayed",
        message: replayedMessage(grantId, grant.maxUses),
        grant,
      };
    }
  }
  const data: Record<string, AuditValue> = {
    verdict: verdict.code,
    user: cutForLog(input.user, LOGGED_USER_LENGTH),
    host: cutForLog(input.host, LOGGED_USER_LENGTH),
    presented: toHex(sha256(input.presented)),
    presentedBytes: input.presented.length,
  };
  if (data.user !== input.user) data.userTruncated = true;
  if (input.oversized) data.oversized = true;
  const grant = verdict.grant;
  if (grant !== undefined) {
    data.grantId = toHex(grant.grantId);
    data.issuer = toHex(grant.issuerKeyId);
    data.principal = grant.principal;
    data.target = formatTarget(grant.target);
    data.notBefore = grant.notBefore;
    data.notAfter = grant.notAfter;
    data.anchor = { seq: grant.anchor.seq, head: toHex(grant.anchor.headPrefix) };
  }
  if (use !== undefined) data.use = use;
  if (input.remoteAddress !== undefined) data.remoteAddress = input.remoteAddress;
  if (input.context !== undefined) Object.assign(data, input.context);
  const entry = appendHostEntry(input.state, "grant-check", data, input.clock);
  if (use !== undefined) {
    // The use becomes durable only now, after the log entry that records it:
    // nobody is let in before both are on disk, and the two flushes share a
    // journal commit on filesystems that journal metadata.
    flushUseStore(input.state.usedDir);
    pruneExpiredUsesOccasionally(input.state.usedDir, now, bundle.maxLifetime + bundle.clockSkew);
  }
  return { verdict, auditSeq: entry.seq };
}
