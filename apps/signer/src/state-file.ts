import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { AirgrantError } from "@airgrant/core";

/**
 * A state file's text, or undefined when it does not exist; `state-unreadable`
 * otherwise. With `ownerOnly`, a file whose content decides what the signer
 * loads (issuer.json names a PKCS#11 library) is refused (`state-insecure`)
 * unless it is a regular file, not a symbolic link, owned by this user or
 * root, that group and others cannot access: as the signer writes it.
 */
export function readStateFile(path: string, options: { ownerOnly?: boolean } = {}): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (options.ownerOnly === true ? constants.O_NOFOLLOW : 0));
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === "ENOENT") return undefined;
    if (errno === "ELOOP") throw stateInsecure(path, "is a symbolic link; put the file itself there");
    throw new AirgrantError("state-unreadable", `cannot read ${path}: ${errno ?? "error"}`, { cause: err });
  }
  try {
    if (options.ownerOnly === true) checkOwnerOnly(path, fd);
    return readFileSync(fd, "utf8");
  } catch (err) {
    if (err instanceof AirgrantError) throw err;
    const errno = (err as NodeJS.ErrnoException).code;
    throw new AirgrantError("state-unreadable", `cannot read ${path}: ${errno ?? "error"}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}

function checkOwnerOnly(path: string, fd: number): void {
  const st = fstatSync(fd);
  const uid = process.getuid?.();
  if (!st.isFile()) throw stateInsecure(path, "is not a regular file");
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, "0");
    throw stateInsecure(path, `is accessible by others (mode ${mode}); chmod 600 it`);
  }
  if (uid !== undefined && st.uid !== uid && st.uid !== 0) {
    throw stateInsecure(path, `is owned by another user (uid ${st.uid}); chown it to yourself`);
  }
}

function stateInsecure(path: string, why: string): AirgrantError {
  return new AirgrantError(
    "state-insecure",
    `${path} ${why} (it names the PKCS#11 library the signer loads, so nobody else may change it)`,
  );
}

/** The parsed JSON object of a state file, or `state-corrupt` naming the file. */
export function parseStateObject(path: string, text: string, keys: readonly string[]): Record<string, unknown> {
  return checkStateObject(path, parseStateJson(path, text), keys, "the file");
}

/** A state file's JSON value, or `state-corrupt` naming the file. */
export function parseStateJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw stateCorrupt(path, "not JSON");
  }
}

/** `value` as an object with exactly the members `keys`, or `state-corrupt` naming `what`. */
export function checkStateObject(
  path: string,
  value: unknown,
  keys: readonly string[],
  what: string,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw stateCorrupt(path, `${what} is not an object`);
  }
  const own = Object.keys(value);
  if (own.length !== keys.length || !keys.every((k) => Object.hasOwn(value, k))) {
    throw stateCorrupt(path, `${what} must have exactly the members ${keys.join(", ")}`);
  }
  return value as Record<string, unknown>;
}

/** A member that must be a string of something, or `state-corrupt` naming it. */
export function stateText(path: string, member: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw stateCorrupt(path, member);
  return value;
}

/** A member that must be a time Date can read (ISO 8601), or `state-corrupt` naming it. */
export function stateTime(path: string, member: string, value: unknown): string {
  if (typeof value !== "string" || Number.isNaN(Date.parse(value))) throw stateCorrupt(path, member);
  return value;
}

export function stateCorrupt(path: string, why: string): AirgrantError {
  return new AirgrantError(
    "state-corrupt",
    `${path} is damaged (${why}); restore it from a backup (docs/signer.md describes its format)`,
  );
}
