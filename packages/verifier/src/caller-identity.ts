import { readFileSync } from "node:fs";
import { AirgrantError } from "@airgrant/core";

/**
 * The four user ids of this process (proc(5), the `Uid:` line of
 * /proc/self/status: real, effective, saved, filesystem), or undefined
 * where there is no /proc.
 */
export function processUids(status = "/proc/self/status"): number[] | undefined {
  let text: string;
  try {
    text = readFileSync(status, "utf8");
  } catch {
    return undefined;
  }
  const line = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/m.exec(text);
  return line === null ? undefined : line.slice(1).map(Number);
}

/**
 * Make sure the user a login check judges cannot signal or trace it.
 * pam_exec under sudo runs the verifier with the caller's real uid and
 * effective uid 0 (`Uid: 1001 0 0 0`): kill(2) lets a user signal any
 * process whose real or saved uid is theirs, so the caller could SIGSTOP the
 * verifier while it holds the log's lock and stall every login. With
 * effective uid 0, set real, effective and saved uid (and gid) to 0 before
 * anything else: the process is then root's alone, and the kernel also
 * marks it not dumpable, which keeps ptrace and /proc/PID/mem away from the
 * caller. Throws `identity-unsafe` when that cannot be done. A verifier not
 * running as root (a test, a host that runs it unprivileged) is left alone:
 * it acts only on state its own user owns (checkStatePermissions).
 */
export function requireUnsignallableIdentity(): void {
  if (process.geteuid === undefined || process.geteuid() !== 0) return;
  // execve(2) copies the effective uid into the saved one: with real and
  // effective uid 0 (and gid 0) every uid is root already, which sshd's and
  // login's pam_exec give; only a caller's real uid needs changing.
  if (process.getuid?.() === 0 && process.getgid?.() === 0) return;
  const before = processUids();
  try {
    process.setgid?.(0);
    process.setuid?.(0);
  } catch (err) {
    throw unsafe(before, err);
  }
  const after = processUids();
  if (after === undefined ? process.getuid?.() !== 0 : !after.every((uid) => uid === 0)) throw unsafe(after);
}

function unsafe(uids: number[] | undefined, cause?: unknown): AirgrantError {
  return new AirgrantError(
    "identity-unsafe",
    `the verifier runs with user ids ${uids?.join(" ") ?? "unknown"} (real, effective, saved, filesystem) and cannot make them all root, so the user it checks could stop or trace it; run it as root (pam_exec's seteuid option, docs/pam.md)`,
    { cause },
  );
}
