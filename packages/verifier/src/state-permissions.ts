import { closeSync, constants, lstatSync, openSync, readFileSync, realpathSync, type Stats } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { AirgrantError } from "@airgrant/core";
import type { HostState } from "./state-paths.js";

/**
 * The state directory's StrictModes (docs/verifier.md, "Who may change the
 * state"): whoever can change the bundle, the one-time store, the log or
 * the sealing key decides who logs in, so the verifier acts only on state
 * that nobody but its owner can change. Its owner is root, or the user the
 * verifier runs as (a test, a host that runs it unprivileged).
 */

const GROUP_OR_OTHER_WRITE = 0o022;
const GROUP_OR_OTHER_ACCESS = 0o077;
const STICKY = 0o1000;

function insecure(path: string, why: string, fix: string): AirgrantError {
  return new AirgrantError(
    "state-insecure",
    `${path} ${why}: the verifier acts only on state that nobody but root can change; ${fix}`,
  );
}

function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

function checkOwner(path: string, st: Stats): void {
  if (!trustedOwner(st.uid)) throw insecure(path, `is owned by uid ${st.uid}`, `chown root:root ${path}`);
}

function modeText(st: Stats): string {
  return `0${(st.mode & 0o7777).toString(8)}`;
}

/**
 * `realDir` and every directory above it up to /: owned by root (or us), and
 * writable by nobody else, unless sticky like /tmp, where others may add
 * names but not rename or remove ours (the next component down is checked to
 * be ours, so it cannot have been put there by them).
 */
function checkDirectoriesUpFrom(realDir: string): void {
  for (let dir = realDir; ; dir = dirname(dir)) {
    const st = lstatSync(dir);
    checkOwner(dir, st);
    if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0 && (st.mode & STICKY) === 0) {
      throw insecure(dir, `is writable by others (mode ${modeText(st)})`, `chmod go-w ${dir}`);
    }
    if (dirname(dir) === dir) return;
  }
}

/** What the verifier reads in the state directory, and whether others may not even read it. */
const STATE_ENTRIES: ReadonlyArray<{ name: string; kind: "file" | "directory"; privateToOwner: boolean }> = [
  { name: "bundle.json", kind: "file", privateToOwner: false },
  { name: "audit.log", kind: "file", privateToOwner: false },
  { name: "seal.key", kind: "file", privateToOwner: true },
  { name: "used", kind: "directory", privateToOwner: false },
  { name: "used/.watermark", kind: "file", privateToOwner: false },
];

function checkEntry(path: string, st: Stats, kind: "file" | "directory", privateToOwner: boolean): void {
  if (st.isSymbolicLink()) throw insecure(path, "is a symbolic link", `replace it with the ${kind} itself`);
  checkOwner(path, st);
  const forbidden = privateToOwner ? GROUP_OR_OTHER_ACCESS : GROUP_OR_OTHER_WRITE;
  if ((st.mode & forbidden) !== 0) {
    const what = privateToOwner ? "readable or writable by others" : "writable by others";
    throw insecure(path, `is ${what} (mode ${modeText(st)})`, `chmod go-${privateToOwner ? "rwx" : "w"} ${path}`);
  }
}

/** lstat, or undefined when nothing has that name. */
export function lstatIfPresent(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new AirgrantError("state-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

/**
 * Refuse (`state-insecure`, naming the path) unless the state directory, its
 * parents up to / and every file in it that the verifier reads are owned by
 * root (or the effective uid), are not symbolic links, and are not writable
 * by group or others; `seal.key` must not even be readable by them. A name
 * that does not exist is left to the code that reads it (`no-bundle`, a
 * missing store). Returns without a look at the files when the directory
 * does not exist yet (the first install creates it).
 */
export function checkStatePermissions(state: HostState): void {
  let realDir: string;
  try {
    realDir = realpathSync.native(state.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new AirgrantError("state-unreadable", `cannot read ${state.dir}: ${(err as NodeJS.ErrnoException).code}`);
    }
    // Not there yet: the directories it will be made in must be safe already.
    let existing = dirname(resolve(state.dir));
    while (lstatIfPresent(existing) === undefined) existing = dirname(existing);
    checkDirectoriesUpFrom(realpathSync.native(existing));
    return;
  }
  checkDirectoriesUpFrom(dirname(realDir));
  checkEntry(state.dir, lstatSync(realDir), "directory", false);
  for (const { name, kind, privateToOwner } of STATE_ENTRIES) {
    const st = lstatIfPresent(join(realDir, name));
    if (st !== undefined) checkEntry(join(state.dir, name), st, kind, privateToOwner);
  }
}

/**
 * A state file's bytes, not through a symbolic link: checkStatePermissions
 * refuses one, and a link put there after that check is not followed either.
 */
export function readStateFile(path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}
