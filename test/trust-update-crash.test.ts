// Crash safety of signed updates (docs/verifier.md, "Signed updates"):
// `airgrant-verifier update` killed (SIGKILL) or stopped and continued at
// random moments of its life, 30 rounds, each with the next trust version.
// After every round the installed bundle is the one before or the one
// given, whole; once an update has run to its end, every bundle that was
// ever installed is named by a `bundle-installed` entry, and the log verifies.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256, toHex, verifyAuditLog } from "@airgrant/core";
import { makeSignedBundleBytes, makeTestIssuer, runRole, VERIFIER_CLI } from "@airgrant/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const issuer = makeTestIssuer();
const roots = { roots: [makeTestIssuer(), makeTestIssuer("ed25519")], threshold: 2 };
const now = Math.floor(Date.now() / 1000);
const ROUNDS = 30;

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-update-crash-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function bundleFile(trustVersion: number): string {
  const path = join(work, `trust-${trustVersion}.json`);
  writeFileSync(path, makeSignedBundleBytes([issuer], { trustVersion, ...roots, overrides: { created: now - 100 } }));
  return path;
}

const random = (max: number) => Math.floor(Math.random() * max);

/** One update, killed or stopped and continued at a moment from before it reads the state to after it logs. */
function updateWithFault(file: string, state: string, fault: "none" | "kill" | "stop"): Promise<number | null> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [VERIFIER_CLI, "update", file, "--state", state], {
      stdio: "ignore",
    });
    const at = 10 + random(140);
    const timers: NodeJS.Timeout[] = [];
    if (fault === "kill") timers.push(setTimeout(() => child.kill("SIGKILL"), at));
    if (fault === "stop") {
      timers.push(setTimeout(() => child.kill("SIGSTOP"), at));
      timers.push(setTimeout(() => child.kill("SIGCONT"), at + 20 + random(300)));
    }
    child.on("close", (status) => {
      for (const timer of timers) clearTimeout(timer);
      resolve(status);
    });
  });
}

function loggedInstalls(state: string): string[] {
  return readFileSync(join(state, "audit.log"), "utf8")
    .split("\n")
    .flatMap((line) => {
      try {
        const entry = JSON.parse(line);
        return entry.type === "bundle-installed" ? [entry.data.sha256 as string] : [];
      } catch {
        return [];
      }
    });
}

describe("airgrant-verifier update under kill -9", () => {
  it(`leaves the old or the new bundle whole, and the log names every one installed, over ${ROUNDS} rounds`, async () => {
    const state = join(work, "state");
    const first = runRole(VERIFIER_CLI, ["install-bundle", bundleFile(1), "--state", state]);
    expect(first.status, first.stderr).toBe(0);
    const everInstalled = new Set([toHex(sha256(readFileSync(join(state, "bundle.json"))))]);
    let killed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const before = readFileSync(join(state, "bundle.json"));
      const file = bundleFile(round + 2);
      const fault = (["none", "kill", "kill", "stop"] as const)[random(4)] ?? "kill";
      const status = await updateWithFault(file, state, fault);
      if (status === null) killed++;
      const after = readFileSync(join(state, "bundle.json"));
      expect(after.equals(before) || after.equals(readFileSync(file))).toBe(true);
      if (status === 0) expect(after.equals(readFileSync(file))).toBe(true);
      everInstalled.add(toHex(sha256(after)));
    }
    const last = runRole(VERIFIER_CLI, ["update", bundleFile(ROUNDS + 2), "--state", state]);
    expect(last.status, last.stderr).toBe(0);
    const logged = new Set(loggedInstalls(state));
    for (const digest of everInstalled) expect(logged.has(digest), digest).toBe(true);
    expect(verifyAuditLog(join(state, "audit.log"))).toMatchObject({ ok: true });
    expect(killed).toBeGreaterThan(5);
    console.info(`update: ${ROUNDS} rounds, ${killed} killed, the bundle whole and logged after every one`);
  }, 240_000);
});
