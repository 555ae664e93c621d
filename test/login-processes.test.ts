// The kernel's audit session id as the verifier uses it to find a login's
// processes (packages/verifier/src/login-processes.ts): a shell that writes
// its login uid, as pam_loginuid.so does for sshd's monitor, gets a new audit
// session; its children keep it through setsid and nohup and cannot change
// it; endAuditSession ends them all, one that ignores SIGTERM included.
// Needs root (writing /proc/self/loginuid takes CAP_AUDIT_CONTROL): fails,
// never skips, without it.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { requireRoot } from "@airgrant/testkit/system";
import { auditSessionOf, endAuditSession, processesInAuditSession } from "@airgrant/verifier";
import { beforeAll, describe, expect, it } from "vitest";

beforeAll(() => requireRoot("test/login-processes.test.ts"));

function sleepers(marker: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/cmdline`, "utf8") === `sleep\0${marker}\0`;
      } catch {
        return false;
      }
    })
    .map(Number);
}

describe("a login's processes by audit session id", () => {
  it("follows setsid, nohup and a child that tries to leave, and ends them all", async () => {
    // 1000 is any login uid: what matters is that writing it starts a new audit session.
    const login = spawn(
      "sh",
      [
        "-c",
        [
          "echo 1000 > /proc/self/loginuid",
          "setsid nohup sleep 4201 >/dev/null 2>&1 </dev/null &",
          "(trap '' TERM; exec sleep 4202) &",
          // The user cannot move their own processes to another audit session.
          "exec setpriv --reuid 65534 --regid 65534 --clear-groups sh -c 'echo 0 > /proc/self/loginuid 2>/dev/null || echo refused; exec sleep 4203'",
        ].join("\n"),
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    let output = "";
    login.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    const markers = ["4201", "4202", "4203"];
    // The two in the background may start after the last one on a busy machine.
    for (let waited = 0; waited < 5000 && markers.some((m) => sleepers(m).length === 0); waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const pids = markers.map((marker) => sleepers(marker)[0]);
    try {
      expect(pids.every((pid) => pid !== undefined)).toBe(true);
      const session = auditSessionOf(pids[0] as number);
      expect(session).toBeDefined();
      expect(session).not.toBe(auditSessionOf("self"));
      for (const pid of pids) expect(auditSessionOf(pid as number)).toBe(session);
      expect(output).toContain("refused");
      expect(processesInAuditSession(session as number).sort()).toEqual([...(pids as number[])].sort());

      const ended = endAuditSession(session as number);
      expect(ended).toEqual({ ended: 3, remaining: 0 });
      expect(markers.flatMap(sleepers)).toEqual([]);
    } finally {
      // A failed run leaves nothing behind for the next one to find.
      for (const pid of markers.flatMap(sleepers)) process.kill(pid, "SIGKILL");
    }
  });
});
