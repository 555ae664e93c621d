import { randomBytes } from "node:crypto";
import { lstatSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { AirgrantError } from "./airgrant-error.js";

export interface FileLockOptions {
  /** Give up after this long (default 10 s): a lock held that long is a stuck process, not contention. */
  timeoutMs?: number;
  /** A lock file older than this is taken as left by a crashed or hung holder (default 30 s). */
  staleMs?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Tells this process's locks apart from a dead process's that had the same pid; drawn once. */
const ownerPrefix = randomBytes(8).toString("hex");
let lockCount = 0;

function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLockOwner(lockPath: string): string | undefined {
  try {
    return readlinkSync(lockPath, "utf8");
  } catch {
    return undefined;
  }
}

function isStale(lockPath: string, owner: string, staleMs: number): boolean {
  const pid = Number.parseInt(owner, 10);
  if (Number.isSafeInteger(pid) && pid > 0 && !isProcessAlive(pid)) return true;
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
 * (Moving the lock aside and linking it back, as before, left a moment with
 * no lock file in which a third process could take the lock while the
 * second's fresh lock was being restored: two holders at once.)
 */
function breakStaleLock(lockPath: string, staleOwner: string, breaker: string, staleMs: number): void {
  const breakPath = `${lockPath}.break`;
  if (!tryAcquire(breakPath, breaker)) {
    // Another waiter is breaking it right now (a few system calls). If that
    // waiter died in between, its own pid or age shows it and we clear it.
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
 * holder's pid, so a holder that crashed is detected and its lock broken. Node has no flock();
 * this is the portable equivalent without a native addon.
 */
export function withFileLock<T>(lockPath: string, fn: () => T, options: FileLockOptions = {}): T {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const staleMs = options.staleMs ?? 30_000;
  const owner = `${process.pid} ${ownerPrefix} ${++lockCount}`;
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
    return fn();
  } finally {
    // Only remove the lock if it is still ours: a holder that overran staleMs
    // may have had it broken and taken by someone else.
    removeIfOwnedBy(lockPath, owner);
  }
}
