// End-to-end test support: stop the sshd listeners a crashed earlier run left
// behind. startSshd runs sshd through a link named like the PAM service
// (writePamService: `airgrant-e2e-<pid>-<random>`), and sshd keeps that
// name in its process title, so a listener whose creating pid is gone is a
// leftover.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const LISTENER = /\/airgrant-e2e-(\d+)-[0-9a-f]+ .*\[listener\]/;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** SIGTERM every leftover listener; returns the pids signalled. */
export function stopStaleSshd(): number[] {
  const stopped: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let title: string;
    try {
      title = readFileSync(join("/proc", entry, "cmdline"), "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    const match = LISTENER.exec(title);
    if (match === null || alive(Number(match[1]))) continue;
    try {
      process.kill(Number(entry), "SIGTERM");
      stopped.push(Number(entry));
    } catch {
      // Gone in the meantime.
    }
  }
  return stopped;
}
