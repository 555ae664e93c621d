import { spawn } from "node:child_process";
import { basename } from "node:path";
import { AirgrantError, sleepMs } from "@airgrant/core";
import { isRunning, type ProcessIdentity, processIdentity } from "./login-processes.js";
import { endExpiredSession, readLoginSession, warnIfDue } from "./login-session.js";
import type { HostState } from "./state-paths.js";

/**
 * The watcher of one login's session (docs/verifier.md, "When a session
 * ends"): a root process of its own, started detached by the session line,
 * that writes the warning when it is due and ends the session when its
 * access ends. The user cannot signal it (it is root's), and a watcher that
 * dies anyway is replaced by the next verifier start (superviseSessions).
 */

/** How often the watcher looks at its session: the end comes at most this late, and a logout is seen this soon. */
export const WATCH_INTERVAL_MS = 1000;

/** The installed single executable (docs/verifier.md), which its launcher starts. */
const RUNTIME_NAME = "airgrant-verifier-runtime";

/**
 * This command as it was started: the single executable alone (its argv[1]
 * is the launcher's path, not a script), or Node with its script.
 */
function selfCommand(): [string, string[]] {
  const script = process.argv[1];
  if (basename(process.execPath) === RUNTIME_NAME || script === undefined) return [process.execPath, []];
  return [process.execPath, [...process.execArgv, script]];
}

/**
 * Start `airgrant-verifier session-watch` for the audit session, detached
 * (its own process group and session, no file of ours open) with only PATH
 * in its environment, and say which process it is.
 */
export function startSessionWatcher(stateDir: string): (auditSession: number) => ProcessIdentity {
  return (auditSession) => {
    const [command, args] = selfCommand();
    const child = spawn(command, [...args, "session-watch", "--state", stateDir, String(auditSession)], {
      detached: true,
      stdio: "ignore",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    child.unref();
    const identity = child.pid === undefined ? undefined : processIdentity(child.pid);
    if (identity === undefined) {
      throw new AirgrantError("internal", `cannot start the watcher of audit session ${auditSession}`);
    }
    return identity;
  };
}

/**
 * Watch the session until it is gone (a logout), another watcher took it
 * over, or its access ended and this ended it.
 */
export function watchSession(state: HostState, auditSession: number, clock: () => Date): void {
  const me = processIdentity(process.pid);
  if (readLoginSession(state, auditSession) === undefined) return;
  for (;;) {
    const now = Math.floor(clock().getTime() / 1000);
    const session = warnIfDue(state, auditSession, now);
    if (session === undefined) return;
    const mine = session.watcher !== undefined && me !== undefined && session.watcher.pid === me.pid;
    if (!mine && session.watcher !== undefined && isRunning(session.watcher)) return;
    if (now >= session.accessEndsAt) {
      endExpiredSession(state, auditSession, clock);
      return;
    }
    sleepMs(WATCH_INTERVAL_MS);
  }
}
