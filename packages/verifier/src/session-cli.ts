import {
  type CommandLine,
  isoSeconds,
  printableLine,
  readProcessStat,
  type SuccessCode,
  usageError,
  writeOut,
} from "@airgrant/core";
import { auditSessionOf, processIdentity } from "./login-processes.js";
import { closeLoginSession, openLoginSession } from "./login-session.js";
import { describeCaller, readPamEnvironment } from "./pam-environment.js";
import { startSessionWatcher, watchSessions } from "./session-watcher.js";
import { hostState } from "./state-paths.js";

/**
 * The `session` and `session-watch` commands (docs/verifier.md, "When a
 * session ends"); cli.ts parses the arguments and maps thrown errors to
 * exit codes.
 */

interface Output {
  json: boolean;
}

/** Default seconds between the warning and the end. */
export const DEFAULT_WARN_BEFORE = 300;
const MAX_WARN_BEFORE = 86_400;

function parseWarnBefore(cli: CommandLine, value: string | undefined): number {
  if (value === undefined) return DEFAULT_WARN_BEFORE;
  if (!/^\d{1,5}$/.test(value) || Number(value) > MAX_WARN_BEFORE) {
    throw usageError(cli, `--warn-before takes whole seconds, 0 to ${MAX_WARN_BEFORE}`);
  }
  return Number(value);
}

function print(out: Output, code: SuccessCode, message: string, extra: Record<string, unknown> = {}): number {
  if (out.json) writeOut(`${JSON.stringify({ ok: true, code, message, ...extra })}\n`);
  else writeOut(`${code}: ${printableLine(message)}\n`);
  return 0;
}

/**
 * The login's audit session id, when pam_loginuid gave the opener one of
 * its own: an id the opener's parent has too (sshd started from someone's
 * login, with no pam_loginuid line above ours) would name that login as well.
 */
function freshAuditSession(session: number | undefined, opener: number): number | undefined {
  const parent = readProcessStat(opener)?.ppid;
  if (session === undefined || parent === undefined) return session;
  return auditSessionOf(parent) === session ? undefined : session;
}

/**
 * pam_exec in the session section, for open_session and close_session: opens
 * the session of a login a grant admitted (handed to the host's watcher) or logs its
 * logout; for any other login, nothing.
 */
export function runSessionCommand(
  cli: CommandLine,
  values: { "warn-before"?: string },
  stateDir: string,
  out: Output,
): number {
  const warnBefore = parseWarnBefore(cli, values["warn-before"]);
  const pam = readPamEnvironment(process.env, "session");
  const state = hostState(stateDir);
  const clock = () => new Date();
  const caller = describeCaller(pam);
  const auditSession = auditSessionOf("self");
  if (pam.type === "close_session") {
    const closed = closeLoginSession(state, auditSession, clock);
    if (closed === undefined) return print(out, "not-airgrant", `no session of a grant to close ${caller}`);
    return print(out, "session-closed", `logout of grant ${closed.grantId}'s session ${caller}`, {
      grantId: closed.grantId,
      auditSession: closed.auditSession,
    });
  }
  const parent = readProcessStat("self")?.ppid;
  const opener = parent === undefined ? undefined : processIdentity(parent);
  const session =
    opener === undefined
      ? undefined
      : openLoginSession(state, {
          user: pam.user,
          opener,
          auditSession: freshAuditSession(auditSession, opener.pid),
          warnBefore,
          now: Math.floor(clock().getTime() / 1000),
          startWatcher: startSessionWatcher(stateDir),
        });
  if (session === undefined) return print(out, "not-airgrant", `no grant admitted this login ${caller}`);
  return print(
    out,
    "session-opened",
    `grant ${session.grantId}'s access ends at ${isoSeconds(session.accessEndsAt)}: this session ends then ${caller}`,
    { grantId: session.grantId, auditSession: session.auditSession, accessEndsAt: session.accessEndsAt },
  );
}

/** `session-watch --state DIR`: the watcher the session line starts; not for people. */
export function runSessionWatchCommand(cli: CommandLine, positionals: string[], stateDir: string): number {
  if (positionals.length > 0) throw usageError(cli, "session-watch takes no arguments");
  watchSessions(hostState(stateDir), () => new Date());
  return 0;
}
