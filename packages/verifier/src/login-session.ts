import { readdirSync, unlinkSync } from "node:fs";
import {
  AirgrantError,
  type AuditRecord,
  auditData,
  ensurePrivateDirectory,
  fsyncDirectory,
  isoSeconds,
  readBootId,
  readProcessStat,
  withFileLock,
  writeFileAtomic,
} from "@airgrant/core";
import { type Admission, LOGGED_NAME_LENGTH } from "./admission.js";
import { appendHostEntry } from "./host-log.js";
import {
  endAuditSession,
  isRunning,
  type ProcessIdentity,
  processIdentity,
  terminalsOfAuditSession,
  writeToTerminal,
} from "./login-processes.js";
import { printableItem } from "./pam-environment.js";
import { type HostState, inDir } from "./state-paths.js";
import { readStateFile } from "./state-permissions.js";

/**
 * The sessions of logins made with grants (docs/verifier.md, "When a
 * session ends"), kept in `sessions/` of the state directory: a login
 * admitted but whose session has not opened yet (`pending-<check seq>.json`),
 * an open session (`open-<audit session>.json`) and one being ended
 * (`ending-<audit session>.json`). Every change is made under
 * `sessions/.lock` and written atomically, so a crash at any point leaves
 * each record whole and a later start finishes what was begun.
 */

/** An allowed login whose PAM session has not opened yet. */
export interface PendingLogin {
  checkSeq: number;
  grantId: string;
  user: string;
  /** This host, as the grant-check entry names it. */
  host: string;
  accessEndsAt: number;
  admittedAt: number;
  /** The processes that ran PAM for the check (loginAncestry): the session opens in one of them. */
  ancestors: ProcessIdentity[];
}

/** An open session of a login made with a grant. */
export interface LoginSession {
  bootId: string;
  auditSession: number;
  checkSeq: number;
  grantId: string;
  user: string;
  host: string;
  openedAt: number;
  accessEndsAt: number;
  /** Seconds before accessEndsAt that the warning is written. */
  warnBefore: number;
  warned: boolean;
  /** The watcher ending the session on time, once started. */
  watcher?: ProcessIdentity;
  /** In an ending- record: the process ending it. */
  ender?: ProcessIdentity;
}

/** A pending login whose session has not opened by then is dropped: sshd's LoginGraceTime is 120 s. */
export const PENDING_LOGIN_SECONDS = 600;

const PENDING_FORMAT = "airgrant-pending-login-v1";
const SESSION_FORMAT = "airgrant-session-v1";

export function sessionsDir(state: HostState): string {
  return inDir(state.dir, "sessions");
}

function withSessionsLock<T>(state: HostState, fn: () => T): T {
  ensurePrivateDirectory(sessionsDir(state));
  return withFileLock(inDir(sessionsDir(state), ".lock"), fn);
}

function corrupt(path: string, what: string): AirgrantError {
  return new AirgrantError("state-corrupt", `${path} is not a session record: ${what}; remove it by hand`);
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 128;
const isProcess = (v: unknown): v is ProcessIdentity => {
  const p = v as ProcessIdentity;
  return typeof v === "object" && v !== null && isCount(p.pid) && typeof p.start === "string" && /^\d+$/.test(p.start);
};

function readRecord(path: string, format: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readStateFile(path).toString("utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw err;
    throw corrupt(path, "not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || (parsed as { format?: unknown }).format !== format) {
    throw corrupt(path, `no format '${format}'`);
  }
  return parsed as Record<string, unknown>;
}

function readPending(path: string): PendingLogin {
  const r = readRecord(path, PENDING_FORMAT);
  const { checkSeq, grantId, user, host, accessEndsAt, admittedAt, ancestors } = r;
  if (
    !isCount(checkSeq) ||
    !isText(grantId) ||
    !isText(user) ||
    !isText(host) ||
    !isCount(accessEndsAt) ||
    !isCount(admittedAt)
  ) {
    throw corrupt(path, "a member is missing or of the wrong kind");
  }
  if (!Array.isArray(ancestors) || !ancestors.every(isProcess)) throw corrupt(path, "no ancestors");
  return { checkSeq, grantId, user, host, accessEndsAt, admittedAt, ancestors };
}

function readSession(path: string): LoginSession {
  const r = readRecord(path, SESSION_FORMAT);
  const { bootId, auditSession, checkSeq, grantId, user, host, openedAt, accessEndsAt, warnBefore, warned } = r;
  const { watcher, ender } = r;
  if (
    !isText(bootId) ||
    !isCount(auditSession) ||
    !isCount(checkSeq) ||
    !isText(grantId) ||
    !isText(user) ||
    !isText(host) ||
    !isCount(openedAt) ||
    !isCount(accessEndsAt) ||
    !isCount(warnBefore) ||
    typeof warned !== "boolean" ||
    (watcher !== undefined && !isProcess(watcher)) ||
    (ender !== undefined && !isProcess(ender))
  ) {
    throw corrupt(path, "a member is missing or of the wrong kind");
  }
  const session: LoginSession = {
    bootId,
    auditSession,
    checkSeq,
    grantId,
    user,
    host,
    openedAt,
    accessEndsAt,
    warnBefore,
    warned,
  };
  if (watcher !== undefined) session.watcher = watcher;
  if (ender !== undefined) session.ender = ender;
  return session;
}

function writeRecord(path: string, format: string, record: object, options: { durable?: boolean } = {}): void {
  writeFileAtomic(path, `${JSON.stringify({ format, ...record })}\n`, options);
}

function removeRecord(path: string): void {
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

const openPath = (state: HostState, session: number) => inDir(sessionsDir(state), `open-${session}.json`);
const endingPath = (state: HostState, session: number) => inDir(sessionsDir(state), `ending-${session}.json`);

function readOpen(state: HostState, session: number): LoginSession | undefined {
  try {
    return readSession(openPath(state, session));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** A record's kind and number from its name; undefined for the lock's files and a write's temporary file. */
function recordOf(name: string): { kind: "pending" | "open" | "ending"; n: number } | undefined {
  const match = /^(pending|open|ending)-(\d+)\.json$/.exec(name);
  return match === null ? undefined : { kind: match[1] as "pending" | "open" | "ending", n: Number(match[2]) };
}

function names(state: HostState): string[] {
  try {
    return readdirSync(sessionsDir(state)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** Every open session, as its record says. */
export function openSessions(state: HostState): LoginSession[] {
  const out: LoginSession[] = [];
  for (const name of names(state)) {
    if (recordOf(name)?.kind !== "open") continue;
    try {
      out.push(readSession(inDir(sessionsDir(state), name)));
    } catch (err) {
      // Closed meanwhile.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  return out;
}

/** Whether an open session of this boot names a watcher that runs: the host's one watcher. */
function isWatched(session: LoginSession, bootId: string | undefined): boolean {
  return session.bootId === bootId && session.watcher !== undefined && isRunning(session.watcher);
}

/** The watcher an open session of this boot names, when it runs. Under the lock. */
function runningWatcher(state: HostState): ProcessIdentity | undefined {
  const bootId = readBootId();
  return openSessions(state).find((s) => isWatched(s, bootId))?.watcher;
}

/** Record an allowed login whose session is still to open (`pam`, `ssh-session`). */
export function recordPendingLogin(state: HostState, login: PendingLogin): void {
  // Without the lock, which the other records are written under: this
  // one's name, its check's sequence in the log, is no other process's to
  // write, and the rename puts it in place whole. Not flushed: a crash ends
  // the login it waits for, and a session can open only in a process of
  // this boot (its ancestors name their start).
  ensurePrivateDirectory(sessionsDir(state));
  writeRecord(inDir(sessionsDir(state), `pending-${login.checkSeq}.json`), PENDING_FORMAT, login, { durable: false });
}

function currentBootId(): string {
  const bootId = readBootId();
  if (bootId === undefined) throw new AirgrantError("internal", "cannot read /proc/sys/kernel/random/boot_id");
  return bootId;
}

export interface OpenRequest {
  user: string;
  /** The process running PAM for this session (the parent of the session line's command). */
  opener: ProcessIdentity;
  /** The audit session pam_loginuid gave the login; undefined when it is not set, or not the login's own. */
  auditSession: number | undefined;
  warnBefore: number;
  now: number;
  /** Starts a watcher and says which process it is. */
  startWatcher(): ProcessIdentity;
}

/**
 * Open the session of the login admitted by `opener`: the pending login of
 * this user whose check ran in that process (or its child) becomes an open
 * session, handed to the host's watcher. Undefined when no grant admitted this login (a
 * break-glass password, a plain key): its session is not ours to end.
 */
export function openLoginSession(state: HostState, request: OpenRequest): LoginSession | undefined {
  return withSessionsLock(state, () => {
    let found: { path: string; login: PendingLogin } | undefined;
    for (const name of names(state)) {
      if (recordOf(name)?.kind !== "pending") continue;
      const path = inDir(sessionsDir(state), name);
      const login = readPending(path);
      const mine = login.ancestors.some((a) => a.pid === request.opener.pid && a.start === request.opener.start);
      if (mine && login.user === request.user && (found === undefined || login.checkSeq > found.login.checkSeq)) {
        found = { path, login };
      }
    }
    if (found === undefined) return undefined;
    if (request.auditSession === undefined) {
      throw new AirgrantError(
        "pam-misconfigured",
        "the login has no audit session id of its own (/proc/self/sessionid): pam_loginuid.so must come before this line in the session section (docs/pam.md)",
      );
    }
    const { login } = found;
    const session: LoginSession = {
      bootId: currentBootId(),
      auditSession: request.auditSession,
      checkSeq: login.checkSeq,
      grantId: login.grantId,
      user: login.user,
      host: login.host,
      openedAt: request.now,
      accessEndsAt: login.accessEndsAt,
      warnBefore: request.warnBefore,
      warned: false,
    };
    session.watcher = runningWatcher(state) ?? request.startWatcher();
    writeRecord(openPath(state, request.auditSession), SESSION_FORMAT, session);
    removeRecord(found.path);
    return session;
  });
}

function logClosed(
  state: HostState,
  session: LoginSession,
  reason: "logout" | "expiry" | "reboot",
  now: number,
  clock: () => Date,
  extra: Partial<AuditRecord<"session-closed">> = {},
): void {
  const data: AuditRecord<"session-closed"> = {
    reason,
    user: session.user,
    host: session.host,
    grantId: session.grantId,
    checkSeq: session.checkSeq,
    auditSession: session.auditSession,
    openedAt: session.openedAt,
    accessEndsAt: session.accessEndsAt,
    ...extra,
  };
  if (reason !== "reboot") data.seconds = Math.max(0, now - session.openedAt);
  appendHostEntry(state, "session-closed", auditData("session-closed", data), clock);
}

/** The session's close_session: logged as a logout, unless it is being ended or is no grant's. */
export function closeLoginSession(
  state: HostState,
  auditSession: number | undefined,
  clock: () => Date,
): LoginSession | undefined {
  if (auditSession === undefined) return undefined;
  return withSessionsLock(state, () => {
    const session = readOpen(state, auditSession);
    if (session === undefined) return undefined;
    const now = Math.floor(clock().getTime() / 1000);
    logClosed(state, session, "logout", now, clock);
    removeRecord(openPath(state, auditSession));
    return session;
  });
}

/** The line written to the session's terminals before it ends. */
export function warningText(session: LoginSession, now: number): string {
  const at = isoSeconds(session.accessEndsAt).slice(11, 19);
  const left = Math.max(0, session.accessEndsAt - now);
  return `\r\n\x07airgrant: the access of grant ${session.grantId} ends at ${at} UTC, in ${left} s: this session and every process it started will then be ended\r\n`;
}

/** Write the warning to the session's terminals once, when its time has come; returns the session as it now is. */
export function warnIfDue(state: HostState, auditSession: number, now: number): LoginSession | undefined {
  const due = (session: LoginSession | undefined) =>
    session !== undefined && !session.warned && now >= session.accessEndsAt - session.warnBefore;
  const seen = readOpen(state, auditSession);
  if (!due(seen)) return seen;
  return withSessionsLock(state, () => {
    const session = readOpen(state, auditSession);
    if (session === undefined || !due(session)) return session;
    const text = warningText(session, now);
    for (const tty of terminalsOfAuditSession(auditSession)) writeToTerminal(tty, text);
    const warned = { ...session, warned: true };
    writeRecord(openPath(state, auditSession), SESSION_FORMAT, warned);
    return warned;
  });
}

/**
 * End the session because its access ended: claimed first (the record
 * renamed to ending-, so that the close_session its end causes logs nothing
 * and a crash leaves it to be finished), then its processes ended, then
 * logged. Also finishes a session left `ending-` by a crash.
 */
export function endExpiredSession(state: HostState, auditSession: number, clock: () => Date): boolean {
  const me = processIdentity(process.pid);
  const claimed = withSessionsLock(state, () => {
    const ending = endingPath(state, auditSession);
    let session: LoginSession | undefined;
    try {
      session = readSession(ending);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // Another process is ending it right now.
    if (session?.ender !== undefined && isRunning(session.ender)) return undefined;
    session ??= readOpen(state, auditSession);
    if (session === undefined) return undefined;
    writeRecord(ending, SESSION_FORMAT, me === undefined ? session : { ...session, ender: me });
    removeRecord(openPath(state, auditSession));
    fsyncDirectory(sessionsDir(state));
    return session;
  });
  if (claimed === undefined) return false;
  const sameBoot = claimed.bootId === readBootId();
  const result = sameBoot ? endAuditSession(auditSession) : { ended: 0, remaining: 0 };
  withSessionsLock(state, () => {
    const now = Math.floor(clock().getTime() / 1000);
    const extra: Partial<AuditRecord<"session-closed">> = { processesEnded: result.ended };
    if (result.remaining > 0) extra.processesRemaining = result.remaining;
    logClosed(state, claimed, sameBoot ? "expiry" : "reboot", now, clock, sameBoot ? extra : {});
    removeRecord(endingPath(state, auditSession));
  });
  return true;
}

/** What a start has to do for the sessions it finds (superviseSessions). */
interface SessionCare {
  /** Temporary files whose writer is gone. */
  leftovers: string[];
  /** The audit sessions to end: their end was begun, or their access is over with no watcher. */
  overdue: number[];
  /** Open sessions of this boot whose watcher is gone, to be handed one. */
  unwatched: { path: string; session: LoginSession }[];
  /** The host's running watcher, if an open session names one. */
  watcher: ProcessIdentity | undefined;
  /** Pending logins past their time. */
  expired: string[];
}

/**
 * One look at the directory, each name parsed and each open session read
 * once: a start on a busy host meets here every login of the last ten
 * minutes that opened no session.
 */
function sessionCare(state: HostState, bootId: string | undefined, now: number): SessionCare {
  const care: SessionCare = { leftovers: [], overdue: [], unwatched: [], watcher: undefined, expired: [] };
  const pending: { path: string; checkSeq: number }[] = [];
  for (const name of names(state)) {
    const path = inDir(sessionsDir(state), name);
    const record = recordOf(name);
    if (record === undefined) {
      // A temporary file whose writer (the pid in its name) is gone is one
      // a kill -9 cut short; a pending login's may be in the writing.
      const temporary = /^(?:pending|open|ending)-\d+\.json\.tmp-(\d+)-/.exec(name);
      if (temporary !== null && readProcessStat(Number(temporary[1])) === undefined) care.leftovers.push(path);
      continue;
    }
    if (record.kind === "ending") care.overdue.push(record.n);
    if (record.kind === "pending") pending.push({ path, checkSeq: record.n });
    if (record.kind !== "open") continue;
    const session = readSession(path);
    if (isWatched(session, bootId)) {
      care.watcher ??= session.watcher;
    } else if (session.bootId !== bootId || now >= session.accessEndsAt) {
      care.overdue.push(session.auditSession);
    } else {
      care.unwatched.push({ path, session });
    }
  }
  // Pending logins are made in the order of their checks, so the oldest
  // come first and the first one still young ends the look: a start reads
  // one record, not every login of the last ten minutes. After a clock
  // set back, a later one may wait for an earlier one to go; either way
  // none can open a session but in the process that ran its check.
  pending.sort((a, b) => a.checkSeq - b.checkSeq);
  for (const { path } of pending) {
    if (readPending(path).admittedAt + PENDING_LOGIN_SECONDS >= now) break;
    care.expired.push(path);
  }
  return care;
}

function nothingToDo(care: SessionCare): boolean {
  return care.leftovers.length + care.overdue.length + care.unwatched.length + care.expired.length === 0;
}

/**
 * What every verifier start does for the sessions (docs/verifier.md, "When
 * a session ends"): finish sessions whose end was begun, end those past
 * their end whose watcher is gone, start a watcher again for the others
 * whose watcher is gone, and drop pending logins that never opened a session.
 */
export function superviseSessions(state: HostState, clock: () => Date, startWatcher: () => ProcessIdentity): void {
  const now = Math.floor(clock().getTime() / 1000);
  const bootId = readBootId();
  // Most starts find nothing to do, and look without the lock; a start
  // that finds something looks again under it, and does what it finds then.
  try {
    if (nothingToDo(sessionCare(state, bootId, now))) return;
  } catch {
    // A record removed meanwhile, or a damaged one: the look under the lock tells.
  }
  const overdue = withSessionsLock(state, () => {
    const care = sessionCare(state, bootId, now);
    for (const path of care.leftovers) removeRecord(path);
    let watcher = care.watcher;
    for (const { path, session } of care.unwatched) {
      watcher ??= startWatcher();
      writeRecord(path, SESSION_FORMAT, { ...session, watcher });
    }
    for (const path of care.expired) removeRecord(path);
    return care.overdue;
  });
  for (const session of overdue) endExpiredSession(state, session, clock);
}

/**
 * The open sessions that name `watcher`, once nobody is changing them: the
 * watcher's last look before it exits. Under the lock, no session can be
 * given this watcher between the look and the exit: a session line gives a
 * new session only a watcher that another open session names.
 */
export function sessionsWatchedBy(state: HostState, watcher: ProcessIdentity): LoginSession[] {
  // A state directory removed meanwhile is not made again.
  if (names(state).length === 0) return [];
  return withSessionsLock(state, () =>
    openSessions(state).filter((s) => s.watcher?.pid === watcher.pid && s.watcher.start === watcher.start),
  );
}

/**
 * After `pam` or `ssh-session` let a login in: the session line that opens
 * its session finds it by the process that ran PAM for both (loginAncestry).
 */
export function recordAdmittedLogin(
  state: HostState,
  admission: Admission,
  caller: { user: string; host: string },
  ancestors: ProcessIdentity[],
  clock: () => Date,
): void {
  const { verdict, accessEndsAt } = admission;
  if (!verdict.allowed || accessEndsAt === undefined || !Number.isSafeInteger(accessEndsAt)) return;
  recordPendingLogin(state, {
    checkSeq: admission.auditSeq,
    grantId: verdict.claims.grantId,
    user: printableItem(caller.user, LOGGED_NAME_LENGTH).value,
    host: printableItem(caller.host, LOGGED_NAME_LENGTH).value,
    accessEndsAt,
    admittedAt: Math.floor(clock().getTime() / 1000),
    ancestors,
  });
}
