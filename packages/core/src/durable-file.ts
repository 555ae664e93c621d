import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { AirgrantError } from "./airgrant-error.js";

/** Owner-only modes for everything airgrant keeps on disk (STYLE.md, state on disk). */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Flush a directory so that a create, rename or unlink in it survives a crash. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Create `dir` (and parents) with owner-only permissions if it does not exist. */
export function ensurePrivateDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    throw stateError(`cannot create directory ${dir}`, err);
  }
  if (!statSync(dir).isDirectory()) {
    throw new AirgrantError("state-unwritable", `${dir} exists and is not a directory`);
  }
}

function writeAll(fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.length) {
    offset += writeSync(fd, data, offset, data.length - offset);
  }
}

/**
 * Replace `path` with `data` so that a crash at any point leaves either the
 * old file or the new one, never a mix: write a temporary file beside it,
 * fsync it, rename it over the target, fsync the directory.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, mode = PRIVATE_FILE_MODE): void {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx", mode);
    writeAll(fd, bytes);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
    fsyncDirectory(dirname(path));
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // The temporary file was never created or is already renamed.
    }
    throw stateError(`cannot write ${path}`, err);
  }
}

/**
 * Create `path` holding `data` only if it does not exist yet, durably.
 * Returns false when it already exists. O_EXCL makes this the atomic
 * "first one wins" step that the one-time store relies on across processes.
 */
export function createFileExclusive(path: string, data: Uint8Array | string, mode = PRIVATE_FILE_MODE): boolean {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  let fd: number;
  try {
    fd = openSync(path, "wx", mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw stateError(`cannot create ${path}`, err);
  }
  try {
    writeAll(fd, bytes);
    fsyncSync(fd);
  } catch (err) {
    // The name is taken even if its content is not durable: keeping it fails
    // closed (the use counts) rather than open.
    throw stateError(`cannot write ${path}`, err);
  } finally {
    closeSync(fd);
  }
  fsyncDirectory(dirname(path));
  return true;
}

function stateError(message: string, cause: unknown): AirgrantError {
  if (cause instanceof AirgrantError) return cause;
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new AirgrantError("state-unwritable", errno ? `${message}: ${errno}` : message, { cause });
}
