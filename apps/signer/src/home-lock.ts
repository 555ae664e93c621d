import { closeSync, constants, fstatSync, lstatSync, openSync } from "node:fs";
import { AirgrantError } from "@airgrant/core";
import { flockSync } from "fs-ext";

export interface HomeLockOptions {
  /** Give up after this long (default 10 s): a lock held that long is a stuck signer, not contention. */
  timeoutMs?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function held(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "EWOULDBLOCK" || code === "EAGAIN";
}

interface LockFile {
  fd: number;
  dev: number;
  ino: number;
  /** This process holds the lock through it now. */
  locked: boolean;
}

/**
 * Lock files kept open between uses, per path: a long-lived signer opens
 * its lock file once, not once a grant. Each use first checks by name that
 * the path still is that file.
 */
const lockFiles = new Map<string, LockFile>();

function openLockFile(lockPath: string): LockFile {
  const kept = lockFiles.get(lockPath);
  if (kept !== undefined) {
    try {
      // lstat: a symbolic link put in its place is another file, refused below.
      const st = lstatSync(lockPath);
      if (st.ino === kept.ino && st.dev === kept.dev) return kept;
    } catch {
      // Gone: made again below.
    }
    lockFiles.delete(lockPath);
    closeSync(kept.fd);
  }
  let fd: number;
  try {
    // O_NOFOLLOW: a symbolic link planted at the lock's name is refused, not followed.
    fd = openSync(lockPath, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
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
  const st = fstatSync(fd);
  const file: LockFile = { fd, dev: st.dev, ino: st.ino, locked: false };
  lockFiles.set(lockPath, file);
  return file;
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
  const file = openLockFile(lockPath);
  // flock is per open file: taken again through the same descriptor it would not wait.
  if (file.locked) throw new AirgrantError("internal", `the lock ${lockPath} is already held by this process`);
  let backoff = 1;
  for (;;) {
    try {
      flockSync(file.fd, "exnb");
      break;
    } catch (err) {
      if (!held(err)) {
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
    Atomics.wait(sleeper, 0, 0, backoff + Math.random() * backoff);
    backoff = Math.min(backoff * 2, 50);
  }
  file.locked = true;
  try {
    return fn();
  } finally {
    file.locked = false;
    flockSync(file.fd, "un");
  }
}
