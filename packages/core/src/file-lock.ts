import { randomBytes } from "node:crypto";
import { lstatSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { AirgrantError } from "./airgrant-error.js";
import { readBootId, readProcessStat } from "./process-status.js";
import { sleepMs } from "./sleep.js";

export interface FileLockOptions {
  /** Give up after this long (default 10 s): a lock held that long is a stuck process, not contention. */
  timeoutMs?: number;
  /**
   * A lock whose target does not name a holder (not written by withFileLock)
   * is taken as left by a crashed writer once it is older than this (default
   * 30 s). A lock naming a holder is broken only when that holder is gone,
   * never for its age: a live holder may be stopped (SIGSTOP) and resume.
   */
  staleMs?: number;
}

/** What `fn` of withFileLock can ask of the lock it runs under. */
export interface HeldFileLock {
  /** Whether the lock still names this holder: false only if someone removed or replaced it. */
  stillHeld(): boolean;
}

/**
 * Tells this process's locks apart from a dead process's that had the same
 * pid. Drawn at the first lock, not when the module loads: a start-up
 * snapshot would otherwise give every process the same one.
 */
let ownerNonce: string | undefined;
let lockCount = 0;

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Marks a field this host cannot give (no /proc): the holder is then judged by its pid alone. */
const UNKNOWN = "-";

let thisHolder: { bootId: string; startTime: string } | undefined;

/** This boot and this process's start time, read once: a lock names them so that liveness survives pid reuse and reboots. */
function holderIdentity(): { bootId: string; startTime: string } {
  if (thisHolder === undefined) {
    thisHolder = {
      bootId: readBootId() ?? UNKNOWN,
      startTime: readProcessStat("self")?.startTime ?? UNKNOWN,
    };
  }
  return thisHolder;
}

/**
 * A lock's target: `<pid> <start time> <boot id> <random> <n>`. Also read: the
 * shorter `<pid> <random> [<n>]`, which names a pid only.
 */
const OWNER = /^([1-9][0-9]{0,9}) (?:([0-9]+|-) ([0-9a-f-]{36}|-) )?[0-9a-f]{16}(?: [0-9]+)?$/;

/**
 * Whether the holder a lock names has gone: its pid is free, or taken by a
 * process started later, or the host has booted since. Undefined when the
 * target names no holder.
 */
function holderGone(owner: string): boolean | undefined {
  const match = OWNER.exec(owner);
  if (match === null) return undefined;
  const pid = Number(match[1]);
  const [, , startTime, bootId] = match;
  const me = holderIdentity();
  if (bootId !== undefined && bootId !== UNKNOWN && me.bootId !== UNKNOWN && bootId !== me.bootId) return true;
  if (!isProcessAlive(pid)) return true;
  if (startTime === undefined || startTime === UNKNOWN) return false;
  const current = readProcessStat(pid)?.startTime;
  // No /proc entry for a pid that answers signals: another pid namespace; keep its lock.
  return current !== undefined && current !== startTime;
}

function readLockOwner(lockPath: string): string | undefined {
  try {
    return readlinkSync(lockPath, "utf8");
  } catch {
    return undefined;
  }
}

function isStale(lockPath: string, owner: string, staleMs: number): boolean {
  const gone = holderGone(owner);
  if (gone !== undefined) return gone;
  try {
    return Date.now() - lstatSync(lockPath).mtimeMs > staleMs;
  } catch {
    return false;
  }
}

/**
 * Remove a stale lock. Two waiters may both judge the same lock stale, and
 * the first may already have removed it and taken a fresh lock by the time
 * the second acts; the second must not remove that fresh lock. So breakers
 * take turns under a second exclusive lock link, `<lock>.break`, and remove the lock
 * only if it still names the stale owner. While a breaker holds `.break`, the
 * lock can change only if its holder releases it, and a dead holder cannot.
 * (Moving the lock aside and linking it back would leave a moment with no
 * lock file, in which a third process could take the lock while the
 * second's fresh lock was being restored: two holders at once.)
 */
function breakStaleLock(lockPath: string, staleOwner: string, breaker: string, staleMs: number): void {
  const breakPath = `${lockPath}.break`;
  if (!tryAcquire(breakPath, breaker)) {
    // Another waiter is breaking it right now (a few system calls). If that
    // waiter died in between, the holder `.break` names is gone and we clear it.
    const other = readLockOwner(breakPath);
    if (other !== undefined && isStale(breakPath, other, Math.min(staleMs, 5_000))) {
      removeIfOwnedBy(breakPath, other);
    }
    return;
  }
  try {
    if (readLockOwner(lockPath) === staleOwner) unlinkSync(lockPath);
  } catch {
    // Already gone.
  } finally {
    removeIfOwnedBy(breakPath, breaker);
  }
}

function removeIfOwnedBy(path: string, owner: string): void {
  try {
    if (readLockOwner(path) === owner) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

/**
 * The lock is a symbolic link whose target is its owner: symlink() creates
 * name and content in one atomic step and fails if the name exists, like
 * O_EXCL, but allocates no data block (the target lives in the inode), so
 * taking and dropping the lock costs a few tens of microseconds instead of
 * the half millisecond a written file costs on ext4.
 */
function tryAcquire(lockPath: string, owner: string): boolean {
  try {
    symlinkSync(owner, lockPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new AirgrantError(
      "state-unwritable",
      `cannot create lock ${lockPath}: ${(err as NodeJS.ErrnoException).code}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Run `fn` while holding an exclusive lock between processes on this host.
 * The lock is a symbolic link created exclusively whose target names its
 * holder (pid, the process's start time, the boot), so a holder that died is
 * detected and its lock broken, while a live one keeps it however long it
 * takes, stopped or not. Node has no flock(); this is the portable
 * equivalent without a native addon.
 */
export function withFileLock<T>(lockPath: string, fn: (lock: HeldFileLock) => T, options: FileLockOptions = {}): T {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 30_000;
  const { bootId, startTime } = holderIdentity();
  ownerNonce ??= randomBytes(8).toString("hex");
  const owner = `${process.pid} ${startTime} ${bootId} ${ownerNonce} ${++lockCount}`;
  const deadline = Date.now() + timeoutMs;
  let backoff = 1;
  while (!tryAcquire(lockPath, owner)) {
    // Checked first so that a stale lock we cannot remove still ends in a timeout, not a spin.
    if (Date.now() > deadline) {
      throw new AirgrantError("lock-timeout", `timed out waiting for lock ${lockPath}; is another process stuck?`);
    }
    const current = readLockOwner(lockPath);
    if (current !== undefined && isStale(lockPath, current, staleMs)) {
      breakStaleLock(lockPath, current, owner, staleMs);
      continue;
    }
    sleepMs(backoff + Math.random() * backoff);
    backoff = Math.min(backoff * 2, 50);
  }
  try {
    return fn({ stillHeld: () => readLockOwner(lockPath) === owner });
  } finally {
    // Only remove the lock if it is still ours: someone (root, by hand) may
    // have removed it and another process taken it.
    removeIfOwnedBy(lockPath, owner);
  }
}
