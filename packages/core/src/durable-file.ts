import { randomBytes } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readlinkSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { AirgrantError } from "./airgrant-error.js";

/** Owner-only modes for everything airgrant keeps on disk: nobody else reads a use record, key or log. */
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

/** All of `data`, however many writes it takes: at `position`, or where the file's offset is when null. */
export function writeFully(fd: number, data: Uint8Array, position: number | null = null): void {
  let offset = 0;
  while (offset < data.length) {
    offset += writeSync(fd, data, offset, data.length - offset, position === null ? null : position + offset);
  }
}

/**
 * Replace `path` with `data` so that a crash at any point leaves either the
 * old file or the new one, never a mix: write a temporary file beside it,
 * fsync it, rename it over the target, fsync the directory. Without
 * `durable` (default true) nothing is flushed: the rename still shows the
 * old file or the new one whole, but a crash may lose the new one, for a
 * record that means nothing after a crash anyway.
 */
export function writeFileAtomic(
  path: string,
  data: Uint8Array | string,
  { mode = PRIVATE_FILE_MODE, durable = true }: { mode?: number; durable?: boolean } = {},
): void {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  let fd: number | undefined;
  try {
    fd = openSync(temp, "wx", mode);
    writeFully(fd, bytes);
    if (durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
    if (durable) fsyncDirectory(dirname(path));
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
 * Create `path` as a small record holding `text`, only if nothing has that
 * name yet; returns false when it exists. The record is a symbolic link
 * whose target is the text: symlink() sets name and content in one atomic
 * step that fails if the name exists (the "first one wins" step the one-time
 * store relies on across processes), a crash can never leave the name
 * without its content, and no data block is written. Read it back with
 * readExclusiveRecord. With `durable` (default) the directory is flushed
 * before returning; a caller that flushes it later itself passes false.
 */
export function createExclusiveRecord(path: string, text: string, options: { durable?: boolean } = {}): boolean {
  if (text.length === 0 || text.length > 255) {
    throw new AirgrantError("internal", "an exclusive record holds 1-255 characters");
  }
  try {
    symlinkSync(text, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw stateError(`cannot create ${path}`, err);
  }
  if (options.durable !== false) {
    try {
      fsyncDirectory(dirname(path));
    } catch (err) {
      throw stateError(`cannot flush the directory of ${path}`, err);
    }
  }
  return true;
}

/** The text of a record made by createExclusiveRecord. */
export function readExclusiveRecord(path: string): string {
  return readlinkSync(path, "utf8");
}

function stateError(message: string, cause: unknown): AirgrantError {
  if (cause instanceof AirgrantError) return cause;
  const errno = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new AirgrantError("state-unwritable", errno ? `${message}: ${errno}` : message, { cause });
}
