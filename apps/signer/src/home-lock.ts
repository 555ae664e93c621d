import { closeSync, constants, openSync } from "node:fs";
import { AirgrantError, sleepMs } from "@airgrant/core";
import { flockSync } from "fs-ext";

export interface HomeLockOptions {
  /** Give up after this long (default 10 s): a lock held that long is a stuck signer, not contention. */
  timeoutMs?: number;
}

function heldByOther(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "EWOULDBLOCK" || code === "EAGAIN";
}

/** The lock paths this process holds now: flock through a second open file would wait for itself. */
const held = new Set<string>();

function openLockFile(lockPath: string): number {
  try {
    // O_NOFOLLOW: a symbolic link planted at the lock's name is refused, not followed.
    return openSync(lockPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AirgrantError(
      "state-unwritable",
      code === "ELOOP"
        ? `the lock ${lockPath} is a symbolic link; remove it once no airgrant-signer is running`
        : `cannot open lock ${lockPath}: ${code}`,
      { cause: err },
    );
  }
}

/**
 * Run `fn` holding the signer home's lock (docs/signer.md, "Home"): an
 * exclusive flock(2) on `lockPath`, a file that stays in the home. The
 * kernel drops the lock when its holder unlocks it or dies, however it
 * dies, so a lock is never stale; and taking it writes nothing, so the
 * fsync that ends a mint commits no lock file with it. (Hosts use core's
 * symlink lock instead: their verifier is one JavaScript file, with no
 * native addon.) Taking it again inside `fn` is a mistake, refused at once.
 */
export function withHomeLock<T>(lockPath: string, fn: () => T, options: HomeLockOptions = {}): T {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  if (held.has(lockPath)) throw new AirgrantError("internal", `the lock ${lockPath} is already held by this process`);
  const fd = openLockFile(lockPath);
  try {
    lockWithin(fd, lockPath, deadline);
    held.add(lockPath);
    try {
      return fn();
    } finally {
      held.delete(lockPath);
      flockSync(fd, "un");
    }
  } finally {
    closeSync(fd);
  }
}

function lockWithin(fd: number, lockPath: string, deadline: number): void {
  let backoff = 1;
  for (;;) {
    try {
      flockSync(fd, "exnb");
      return;
    } catch (err) {
      if (!heldByOther(err)) {
        throw new AirgrantError("state-unwritable", `cannot lock ${lockPath}: ${(err as NodeJS.ErrnoException).code}`, {
          cause: err,
        });
      }
    }
    if (Date.now() > deadline) {
      throw new AirgrantError(
        "lock-timeout",
        `timed out waiting for lock ${lockPath}: another airgrant-signer has held it for long; is it stuck?`,
      );
    }
    sleepMs(backoff + Math.random() * backoff);
    backoff = Math.min(backoff * 2, 50);
  }
}
