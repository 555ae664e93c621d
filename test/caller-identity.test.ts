// The verifier under sudo: pam_exec runs it with the caller's real uid and
// effective uid 0 (`Uid: 1001 0 0 0`), which let the caller SIGSTOP it while
// it held the log's lock. Run here exactly so (setpriv --ruid USER --euid 0,
// a throwaway account), it makes every uid root before it reads its input,
// and the caller's kill(2) fails with EPERM. Needs root (CI runs it as
// root): it fails, never skips, without.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  testFields,
  VERIFIER_CLI as VERIFIER,
} from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  type Removable,
  removeStaleFixtures,
  requireRoot,
} from "@airgrant/testkit/system";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "sudo-e2e.example";

const fixtures: Removable[] = [];
let work: string | undefined;
let caller: Removable;
let state: string;
const issuer = makeTestIssuer();
const now = Math.floor(Date.now() / 1000);

/** The Uid line of the process once it runs the verifier (setpriv has exec'd node in its place), else undefined. */
function verifierUids(pid: number): string | undefined {
  try {
    // setpriv's own command line names the verifier too, and setpriv starts with every uid root.
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith(`${process.execPath}\0${VERIFIER}\0`))
      return undefined;
    return /^Uid:\s+(.*)$/m
      .exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
      ?.split(/\s+/)
      .join(" ");
  } catch {
    return undefined;
  }
}

beforeAll(() => {
  requireRoot("caller-identity.test.ts");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-caller-"));
  chmodSync(work, 0o755);
  caller = createThrowawayUser("ags");
  fixtures.push(caller);
  state = join(work, "state");
  writeFileSync(join(work, "bundle.json"), makeBundleBytes([issuer]));
  execFileSync(process.execPath, [
    VERIFIER,
    "install-bundle",
    join(work, "bundle.json"),
    "--state",
    state,
    "--receipt",
    join(work, "receipt.json"),
  ]);
});
afterAll(() => cleanUpSuite(fixtures, undefined, work));

describe("the verifier run with the caller's real uid, as pam_exec under sudo runs it", () => {
  it("makes every uid root before reading the grant, so the caller cannot stop it; the grant is then checked", async () => {
    const name = caller.name;
    const uid = execFileSync("id", ["-u", name], { encoding: "utf8" }).trim();
    const env = { PAM_TYPE: "auth", PAM_USER: "alice", PAM_SERVICE: "sudo", PAM_TTY: "pts/3" };
    const child = spawn(
      "setpriv",
      ["--ruid", name, "--euid", "0", "--", process.execPath, VERIFIER, "pam", "--state", state, "--host", HOST],
      { env, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
    const pid = child.pid as number;
    try {
      // setpriv execs node in place: same pid. It starts as the caller would have it...
      let seen = verifierUids(pid);
      const deadline = Date.now() + 5_000;
      while (seen !== "0 0 0 0" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        seen = verifierUids(pid);
      }
      // ...and, waiting for its grant on stdin, it is root's alone.
      expect(seen, `real uid ${uid} should be gone; stderr: ${stderr}`).toBe("0 0 0 0");
      const kill = spawnSync(
        "setpriv",
        ["--reuid", name, "--regid", "nogroup", "--clear-groups", "--", "kill", "-STOP", String(pid)],
        { encoding: "utf8" },
      );
      expect(kill.status).not.toBe(0);
      expect(kill.stderr).toMatch(/Operation not permitted/);
      expect(readFileSync(`/proc/${pid}/status`, "utf8")).not.toMatch(/^State:\s+T/m);
    } finally {
      // Should a stop have got through, the test still ends and its account can be removed.
      process.kill(pid, "SIGCONT");
      const grant = makeGrantText(
        testFields(issuer, {
          principal: "alice",
          target: { kind: "host", name: HOST },
          notBefore: now - 60,
          notAfter: now + 600,
        }),
        [issuer],
      );
      child.stdin.end(`${grant}\0`);
    }
    expect(await exited, stderr).toBe(0);
  });

  it("refuses with identity-unsafe, exit 3, when it cannot make its real uid root", () => {
    // Without CAP_SETUID in the bounding set, root's effective uid cannot set the real one.
    const r = spawnSync(
      "setpriv",
      [
        "--ruid",
        caller.name,
        "--euid",
        "0",
        "--bounding-set",
        "-setuid,-setgid",
        "--",
        process.execPath,
        VERIFIER,
        "pam",
        "--state",
        state,
      ],
      { env: { PAM_TYPE: "auth", PAM_USER: "alice" }, input: "junk\0", encoding: "utf8" },
    );
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/^error: identity-unsafe: the verifier runs with user ids \d+ 0 0 0 /);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
