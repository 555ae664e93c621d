import { closeSync, constants, lstatSync, openSync, readFileSync, realpathSync, type Stats } from "node:fs";
import { dirname, resolve } from "node:path";
import { AirgrantError } from "@airgrant/core";
import { type HostState, inDir } from "./state-paths.js";

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

/**
 * One thing wrong with the state's ownership or modes. `refused`: the
 * verifier acts on no state with it (`state-insecure`); otherwise only
 * `airgrant-verifier doctor` reports it, as the state is not as installed
 * (0700, files 0600) but nobody else can change it.
 */
export interface PermissionFinding {
  path: string;
  /** What is wrong, as a phrase after the path: "is writable by others (mode 0777)". */
  problem: string;
  fix: string;
  refused: boolean;
}

function trustedOwner(uid: number): boolean {
  return uid === 0 || uid === process.geteuid?.();
}

function modeText(st: Stats): string {
  return `0${(st.mode & 0o7777).toString(8)}`;
}

function ownerFinding(path: string, st: Stats): PermissionFinding[] {
  if (trustedOwner(st.uid)) return [];
  return [{ path, problem: `is owned by uid ${st.uid}`, fix: `chown root:root ${path}`, refused: true }];
}

/**
 * `realDir` and every directory above it up to /: owned by root (or us), and
 * writable by nobody else, unless sticky like /tmp, where others may add
 * names but not rename or remove ours (the next component down is checked to
 * be ours, so it cannot have been put there by them).
 */
export function directoryFindingsUpFrom(realDir: string): PermissionFinding[] {
  const findings: PermissionFinding[] = [];
  for (let dir = realDir; ; dir = dirname(dir)) {
    const st = lstatOrUnreadable(dir);
    findings.push(...ownerFinding(dir, st));
    if ((st.mode & GROUP_OR_OTHER_WRITE) !== 0 && (st.mode & STICKY) === 0) {
      findings.push({
        path: dir,
        problem: `is writable by others (mode ${modeText(st)})`,
        fix: `chmod go-w ${dir}`,
        refused: true,
      });
    }
    if (dirname(dir) === dir) return findings;
  }
}

/** What the verifier reads in the state directory, and whether others may not even read it. */
const STATE_ENTRIES: ReadonlyArray<{ name: string; kind: "file" | "directory"; privateToOwner: boolean }> = [
  { name: "bundle.json", kind: "file", privateToOwner: false },
  { name: "audit.log", kind: "file", privateToOwner: false },
  { name: "seal.key", kind: "file", privateToOwner: true },
  { name: "used", kind: "directory", privateToOwner: false },
  { name: "used/.watermark", kind: "file", privateToOwner: false },
  { name: "sessions", kind: "directory", privateToOwner: false },
  { name: "requests", kind: "directory", privateToOwner: true },
  { name: "time-floor", kind: "file", privateToOwner: false },
];

/**
 * A file or directory that only root (or we) may change: not a symbolic
 * link, owned so, not writable by others, and when `privateToOwner` not
 * readable by them either. Access by others short of that is reported as
 * not refused.
 */
export function entryFindings(
  path: string,
  st: Stats,
  kind: "file" | "directory",
  privateToOwner: boolean,
): PermissionFinding[] {
  if (st.isSymbolicLink()) {
    return [{ path, problem: "is a symbolic link", fix: `replace it with the ${kind} itself`, refused: true }];
  }
  const findings = ownerFinding(path, st);
  const forbidden = privateToOwner ? GROUP_OR_OTHER_ACCESS : GROUP_OR_OTHER_WRITE;
  if ((st.mode & forbidden) !== 0) {
    const what = privateToOwner ? "readable or writable by others" : "writable by others";
    findings.push({
      path,
      problem: `is ${what} (mode ${modeText(st)})`,
      fix: `chmod go-${privateToOwner ? "rwx" : "w"} ${path}`,
      refused: true,
    });
  } else if ((st.mode & GROUP_OR_OTHER_ACCESS) !== 0) {
    findings.push({
      path,
      problem: `is readable by others (mode ${modeText(st)}), not ${kind === "file" ? "0600" : "0700"} as installed`,
      fix: `chmod go-rwx ${path}`,
      refused: false,
    });
  }
  return findings;
}

/** lstat, or undefined when nothing has that name (without an exception: most checks meet a few). */
export function lstatIfPresent(path: string): Stats | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false });
  } catch (err) {
    throw new AirgrantError("state-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}

function lstatOrUnreadable(path: string): Stats {
  const st = lstatIfPresent(path);
  if (st === undefined) throw new AirgrantError("state-unreadable", `cannot read ${path}: ENOENT`);
  return st;
}

/**
 * Everything wrong with the ownership and modes of the state directory, its
 * parents up to / and every file in it that the verifier reads (docs/verifier.md,
 * "Who may change the state"). A name that does not exist is left to the
 * code that reads it (`no-bundle`, a missing store). When the directory does
 * not exist yet (the first install creates it), only the directories it
 * will be made in are looked at.
 */
export function statePermissionFindings(state: HostState): PermissionFinding[] {
  let realDir: string;
  try {
    realDir = realpathSync.native(state.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new AirgrantError("state-unreadable", `cannot read ${state.dir}: ${(err as NodeJS.ErrnoException).code}`);
    }
    let existing = dirname(resolve(state.dir));
    while (lstatIfPresent(existing) === undefined) existing = dirname(existing);
    return directoryFindingsUpFrom(realpathSync.native(existing));
  }
  const findings = directoryFindingsUpFrom(dirname(realDir));
  findings.push(...entryFindings(state.dir, lstatSync(realDir), "directory", false));
  for (const { name, kind, privateToOwner } of STATE_ENTRIES) {
    const st = lstatIfPresent(inDir(realDir, name));
    if (st !== undefined) findings.push(...entryFindings(inDir(state.dir, name), st, kind, privateToOwner));
  }
  return findings;
}

/**
 * Refuse (`state-insecure`, naming the path) unless the state directory, its
 * parents up to / and every file in it that the verifier reads are owned by
 * root (or the effective uid), are not symbolic links, and are not writable
 * by group or others; `seal.key` must not even be readable by them.
 */
export function checkStatePermissions(state: HostState): void {
  const first = statePermissionFindings(state).find((finding) => finding.refused);
  if (first !== undefined) {
    throw new AirgrantError(
      "state-insecure",
      `${first.path} ${first.problem}: the verifier acts only on state that nobody but root can change; ${first.fix}`,
    );
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
