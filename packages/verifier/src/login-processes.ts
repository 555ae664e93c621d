import { closeSync, constants, fstatSync, openSync, readdirSync, readlinkSync, writeSync } from "node:fs";
import { readProcessStat, readProcText, sleepMs } from "@airgrant/core";

/**
 * A login's processes, told by the kernel's audit session id
 * (/proc/PID/sessionid). pam_loginuid.so sets it for the process that opens
 * the PAM session (sshd's monitor, login) by writing the login uid; every
 * process started after inherits it, through fork, setsid, nohup, a detached
 * screen or tmux and setuid programs alike, and no process can change its
 * own without CAP_AUDIT_CONTROL (audit_set_loginuid, kernel/audit.c). So it
 * names the login whatever its processes do, short of root.
 */

/** What /proc/PID/sessionid holds before pam_loginuid sets it: (u32)-1, AUDIT_SID_UNSET. */
export const AUDIT_SESSION_UNSET = 4294967295;

/** A process told apart from a later one given the same pid. */
export interface ProcessIdentity {
  pid: number;
  start: string;
}

/** The audit session id of a process, or undefined when it is gone or unset. */
export function auditSessionOf(pid: number | "self"): number | undefined {
  const text = readProcText(`/proc/${pid}/sessionid`);
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  const id = Number(text.trim());
  return id === AUDIT_SESSION_UNSET ? undefined : id;
}

export function processIdentity(pid: number): ProcessIdentity | undefined {
  const stat = readProcessStat(pid);
  return stat === undefined ? undefined : { pid, start: stat.startTime };
}

/** Whether the process is still the one identified (same pid, same start time). */
export function isRunning(process: ProcessIdentity): boolean {
  return readProcessStat(process.pid)?.startTime === process.start;
}

/**
 * This process's parent and grandparent: the application that runs PAM
 * (sshd's monitor or its PAM child, login, pamtester), which forked the
 * pam_exec child that this process is (the installed launcher execs, it does
 * not fork).
 */
export function loginAncestry(): ProcessIdentity[] {
  const out: ProcessIdentity[] = [];
  let pid = readProcessStat("self")?.ppid;
  for (let depth = 0; depth < 2 && pid !== undefined && pid > 1; depth++) {
    const stat = readProcessStat(pid);
    if (stat === undefined) break;
    out.push({ pid, start: stat.startTime });
    pid = stat.ppid;
  }
  return out;
}

function numericEntries(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Whether the process is this verifier's runtime run by root (every uid 0):
 * a watcher, or the session line's check, which inherit the audit session
 * of the login they run for. A user can run the runtime, but not as root.
 */
function isRootVerifier(pid: number): boolean {
  let exe: string;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return false;
  }
  if (exe !== process.execPath) return false;
  const uids = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$/m.exec(readProcText(`/proc/${pid}/status`) ?? "");
  return uids?.slice(1).every((uid) => uid === "0") === true;
}

/**
 * The live pids whose audit session is `session`: zombies (already dead) and
 * root's verifier processes (isRootVerifier) left out.
 */
export function processesInAuditSession(session: number): number[] {
  return numericEntries("/proc").filter(
    (pid) =>
      pid !== process.pid &&
      auditSessionOf(pid) === session &&
      readProcessStat(pid)?.state !== "Z" &&
      !isRootVerifier(pid),
  );
}

/** The controlling terminals (device numbers) of the session's processes. */
export function terminalsOfAuditSession(session: number): number[] {
  const terminals = new Set<number>();
  for (const pid of processesInAuditSession(session)) {
    const tty = readProcessStat(pid)?.ttyNr ?? 0;
    if (tty > 0) terminals.add(tty);
  }
  return [...terminals];
}

/**
 * The device file of a terminal device number (devices.txt): Unix98 pty
 * slaves (majors 136-143) and virtual consoles (major 4, minors 1-63).
 */
export function terminalPath(ttyNr: number): string | undefined {
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `/dev/pts/${(major - 136) * 256 + minor}`;
  if (major === 4 && minor >= 1 && minor <= 63) return `/dev/tty${minor}`;
  return undefined;
}

/**
 * Write `text` to a terminal, without making it ours (O_NOCTTY) or waiting
 * on it (O_NONBLOCK), and only if the file opened is that device: true when
 * it was written.
 */
export function writeToTerminal(ttyNr: number, text: string): boolean {
  const path = terminalPath(ttyNr);
  if (path === undefined) return false;
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch {
    return false;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isCharacterDevice() || st.rdev !== ttyNr) return false;
    writeSync(fd, text);
    return true;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** How long processes get between SIGTERM and SIGKILL. */
const TERM_GRACE_MS = 1000;
/** Rounds of SIGKILL: each kills what the last scan found, and a child forked meanwhile is found by the next. */
const KILL_ROUNDS = 50;

function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch {
    return false;
  }
}

/**
 * End every process of the audit session: SIGTERM, a second's grace, then
 * SIGKILL until a scan finds none. Returns how many distinct processes were
 * signalled and how many remain (0 unless something forks faster than it is
 * killed for KILL_ROUNDS rounds).
 */
export function endAuditSession(session: number): { ended: number; remaining: number } {
  const seen = new Set<number>();
  for (const pid of processesInAuditSession(session)) if (signal(pid, "SIGTERM")) seen.add(pid);
  if (seen.size > 0) sleepMs(TERM_GRACE_MS);
  let remaining = processesInAuditSession(session);
  for (let round = 0; round < KILL_ROUNDS && remaining.length > 0; round++) {
    for (const pid of remaining) if (signal(pid, "SIGKILL")) seen.add(pid);
    sleepMs(20);
    remaining = processesInAuditSession(session);
  }
  return { ended: seen.size, remaining: remaining.length };
}
