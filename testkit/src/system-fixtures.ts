// End-to-end test support: the parts of the host a login test changes (a
// throwaway account, a PAM service file) and their removal. Everything made
// here is named with the creating process's pid, so a later run can tell a
// leftover of a crashed run (pid gone) from a fixture of a run still going.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sleepMs } from "@airgrant/core";

const PAM_DIR = "/etc/pam.d";
const PAM_PREFIX = "airgrant-e2e-";
/** GECOS of every throwaway account; the pid follows. */
const USER_MARK = "airgrant e2e test pid ";

/** Fail (never skip) when the test cannot run here: CI runs it as root. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root (it writes ${PAM_DIR} and adds users); CI runs it as root`);
  }
}

/** Fail with what to install when a command is missing. */
export function requireCommand(command: string, debianPackage: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  if (found.status !== 0) {
    throw new Error(`${command} is not installed: apt-get install -y ${debianPackage} (.ci/run does)`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface Removable {
  name: string;
  remove(): void;
}

/**
 * A local account with no home and a locked password, for PAM_USER or an ssh
 * principal; its shell is nologin unless a test needs it to run a command.
 */
export function createThrowawayUser(prefix = "ag", shell = "/usr/sbin/nologin"): Removable {
  const name = `${prefix}${randomBytes(4).toString("hex")}`;
  execFileSync(
    "useradd",
    ["--no-create-home", "--no-user-group", "--shell", shell, "--comment", `${USER_MARK}${process.pid}`, name],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  return { name, remove: () => removeUser(name) };
}

function removeUser(name: string): void {
  // 8: a process of the user still runs. sshd's per-connection process of a
  // login that just ended can take a moment to exit on a loaded machine.
  const until = Date.now() + 10_000;
  for (;;) {
    const r = spawnSync("userdel", [name], { encoding: "utf8" });
    // 6: no such user, already gone.
    if (r.status === 0 || r.status === 6) return;
    if (r.status !== 8 || Date.now() > until) throw new Error(`userdel ${name} failed: ${r.stderr.trim()}`);
    sleepMs(100);
  }
}

/** A PAM service file `/etc/pam.d/airgrant-e2e-<pid>-<random>` with these lines. */
export function writePamService(lines: string[]): Removable {
  const name = `${PAM_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`;
  const path = join(PAM_DIR, name);
  writeFileSync(path, `# written by an airgrant end-to-end test; safe to delete\n${lines.join("\n")}\n`, {
    mode: 0o644,
    flag: "wx",
  });
  return { name, remove: () => rmSync(path, { force: true }) };
}

/**
 * Remove the PAM files, accounts and sshd listeners (started through a link
 * named like the PAM file, see sshd-server.ts) of earlier runs whose process
 * is gone; returns what was removed.
 */
export function removeStaleFixtures(): string[] {
  const removed: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let exe: string;
    let title: string;
    try {
      exe = readlinkSync(`/proc/${entry}/exe`);
      // sshd rewrites its command line into a title: "<name>: <path> -D … [listener] …".
      title = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    if (exe !== "/usr/sbin/sshd") continue;
    const match = new RegExp(`(?:^|/)${PAM_PREFIX}(\\d+)-[0-9a-f]+[: ]`).exec(title);
    if (match && !alive(Number(match[1]))) {
      try {
        process.kill(Number(entry), "SIGTERM");
        removed.push(`sshd ${entry}`);
      } catch {
        // gone meanwhile
      }
    }
  }
  for (const file of readdirSync(PAM_DIR)) {
    const match = new RegExp(`^${PAM_PREFIX}(\\d+)-[0-9a-f]+$`).exec(file);
    if (match && !alive(Number(match[1]))) {
      rmSync(join(PAM_DIR, file), { force: true });
      removed.push(join(PAM_DIR, file));
    }
  }
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const [name, , , , gecos] = line.split(":");
    if (name === undefined || gecos === undefined || !gecos.startsWith(USER_MARK)) continue;
    if (!alive(Number(gecos.slice(USER_MARK.length)))) {
      removeUser(name);
      removed.push(`user ${name}`);
    }
  }
  return removed;
}

/** Run every cleanup, even when one throws; rethrow the first failure afterwards. */
export function cleanUp(steps: Array<(() => void) | undefined>): void {
  let first: unknown;
  for (const step of steps) {
    try {
      step?.();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

/**
 * What an end-to-end suite leaves behind, removed in its afterAll: its system
 * fixtures (newest first), its token session and its scratch directory.
 */
export function cleanUpSuite(
  fixtures: Removable[],
  token: { close(): void } | undefined,
  work: string | undefined,
): void {
  cleanUp([
    ...[...fixtures].reverse().map((f) => f.remove),
    () => token?.close(),
    () => work && rmSync(work, { recursive: true, force: true }),
  ]);
}
