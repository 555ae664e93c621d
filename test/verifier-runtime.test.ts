// The installed verifier's runtime starts without a JIT compiler and without
// Node's debugger signal (docs/verifier.md, "The runtime"). Seen from outside
// while the runtime waits for a grant on stdin, as it does at every login:
// its memory map, and what a SIGUSR1 does to the check. The pinned Node
// runtime it is built from, started plainly, shows what each test would see
// without those options.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  childRun,
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  testFields,
  VERIFIER_EXECUTABLE,
  verifierRuntimeNode,
} from "@airgrant/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "runtime.example";
const issuer = makeTestIssuer("ed25519");
/** read(2)'s number, as /proc/PID/syscall shows it. */
const READ_SYSCALL: Partial<Record<NodeJS.Architecture, number>> = { x64: 0, arm64: 63 };
let work: string;
let stateDir: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-runtime-"));
  stateDir = join(work, "state");
  const bundle = join(work, "bundle.json");
  writeFileSync(bundle, makeBundleBytes([issuer], { created: Math.floor(Date.now() / 1000) - 100 }));
  const r = spawnSync(VERIFIER_EXECUTABLE, ["install-bundle", "--state", stateDir, bundle], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function grant(): string {
  const now = Math.floor(Date.now() / 1000);
  return makeGrantText(
    testFields(issuer, { notBefore: now - 60, notAfter: now + 600, target: { kind: "host", name: HOST } }),
    [issuer],
  );
}

/** The process, once it is blocked reading its stdin. */
async function waitingOnStdin(child: ChildProcessWithoutNullStreams): Promise<number> {
  const read = READ_SYSCALL[process.arch];
  if (read === undefined) throw new Error(`no read(2) number for ${process.arch}`);
  const pid = child.pid;
  if (pid === undefined) throw new Error("the process did not start");
  for (let waited = 0; waited < 10_000; waited += 10) {
    const [number, fd] = readFileSync(`/proc/${pid}/syscall`, "utf8").split(" ");
    if (number === String(read) && fd === "0x0") return pid;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`process ${pid} never waited on its stdin`);
}

/** Its mappings that are both writable and executable, as /proc/PID/maps lists them. */
function writableAndExecutable(pid: number): string[] {
  return readFileSync(`/proc/${pid}/maps`, "utf8")
    .split("\n")
    .filter((line) => /^\S+ .wx/.test(line));
}

function startCheck(): ChildProcessWithoutNullStreams {
  return spawn(VERIFIER_EXECUTABLE, ["check", "--user", "alice", "--state", stateDir, "--host", HOST]);
}

describe("the installed verifier's runtime", () => {
  it("maps no memory both writable and executable while a check waits for its grant; plain Node does", async () => {
    const plain = spawn(verifierRuntimeNode(), ["-e", "require('node:fs').readFileSync(0)"]);
    const plainExit = childRun(plain);
    expect(writableAndExecutable(await waitingOnStdin(plain))).not.toEqual([]);
    plain.stdin.end();
    expect((await plainExit).status).toBe(0);

    const check = startCheck();
    const result = childRun(check);
    expect(writableAndExecutable(await waitingOnStdin(check))).toEqual([]);
    check.stdin.end(grant());
    const { status, stdout } = await result;
    expect(status).toBe(0);
    expect(stdout).toMatch(/^allowed: /);
  });

  it("lets a SIGUSR1 change nothing: the check that waits for its grant goes on and allows it", async () => {
    const check = startCheck();
    const result = childRun(check);
    const pid = await waitingOnStdin(check);
    process.kill(pid, "SIGUSR1");
    // Still there, still reading, after the signal was delivered.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await waitingOnStdin(check)).toBe(pid);
    check.stdin.end(grant());
    const { status, stdout, stderr } = await result;
    expect(stderr).toBe("");
    expect(status).toBe(0);
    expect(stdout).toMatch(/^allowed: /);
  });
});
