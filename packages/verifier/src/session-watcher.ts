import { basename } from "node:path";
import { AirgrantError, sleepMs } from "@airgrant/core";
import { type ProcessIdentity, processIdentity } from "./login-processes.js";
import { endExpiredSession, sessionsWatchedBy, warnIfDue } from "./login-session.js";
import type { HostState } from "./state-paths.js";

/**
 * The host's session watcher (docs/verifier.md, "When a session ends"): a
 * root process of its own, started detached by the first session line that
 * finds none running, that writes each session's warning when it is due and
 * ends each session when its access ends, and exits when no session is left
 * to it. The user cannot signal it (it is root's), and a watcher that dies
 * anyway is replaced by the next verifier start (superviseSessions).
 */

/** How often the watcher looks at its sessions: an end comes at most this late. */
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
 * Start `airgrant-verifier session-watch`, detached (its own process group
 * and session, no file of ours open) with only PATH in its environment, and
 * say which process it is.
 */
export function startSessionWatcher(stateDir: string): () => ProcessIdentity {
  return () => {
    const [command, args] = selfCommand();
    // Loaded here, not at start: the host's executable is a snapshot of what
    // the verifier loads at start, and every login pays for its size
    // (scripts/build-sea.mjs); a watcher is started once for many logins.
    const { spawn } = process.getBuiltinModule("node:child_process");
    const child = spawn(command, [...args, "session-watch", "--state", stateDir], {
      detached: true,
      stdio: "ignore",
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    child.unref();
    const identity = child.pid === undefined ? undefined : processIdentity(child.pid);
    if (identity === undefined) throw new AirgrantError("internal", "cannot start the session watcher");
    return identity;
  };
}

/**
 * Watch every open session that names this watcher: warn each when due, end
 * each when its access ends; exit once none names it.
 */
export function watchSessions(state: HostState, clock: () => Date): void {
  const me = processIdentity(process.pid);
  if (me === undefined) throw new AirgrantError("internal", "cannot read this process's start time (/proc/self/stat)");
  // The first look waits for the session line that started this watcher to write its record.
  for (let watched = sessionsWatchedBy(state, me); watched.length > 0; watched = sessionsWatchedBy(state, me)) {
    for (const session of watched) {
      const now = Math.floor(clock().getTime() / 1000);
      warnIfDue(state, session.auditSession, now);
      if (now >= session.accessEndsAt) endExpiredSession(state, session.auditSession, clock);
    }
    sleepMs(WATCH_INTERVAL_MS);
  }
}
