// The host's clock moved with faketime under the real verifier process
// (docs/requests.md, "Freshness and the two clocks", "Time floor"): ahead,
// behind, and stepped back between two checks. The verifier runs as node and
// its built cli.js: the installed launcher starts its executable with a clean
// environment, which drops faketime's LD_PRELOAD. Needs faketime (CI installs
// it, see .ci/run): fails, never skips, without it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRequestCode, requestChallenge } from "@airgrant/core";
import { makeBundleBytes, makeGrantText, makeTestIssuer, testFields, VERIFIER_CLI } from "@airgrant/testkit";
import { requireCommand } from "@airgrant/testkit/system";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "db1.example";
const issuer = makeTestIssuer();
let work: string;
let bundleFile: string;

beforeAll(() => {
  requireCommand("faketime", "faketime");
  work = mkdtempSync(join(tmpdir(), "airgrant-request-clock-"));
  bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, makeBundleBytes([issuer], { created: Math.floor(Date.now() / 1000) - 86_400 }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The verifier with the host's clock `offset` from the real one (faketime's `-f`, such as `+3h`). */
function verifier(offset: string, args: string[], input = "") {
  const r = spawnSync("faketime", ["-f", offset, process.execPath, VERIFIER_CLI, ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, AIRGRANT_STATE: "", AIRGRANT_DEBUG: "" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function freshState(offset: string): string {
  const dir = mkdtempSync(join(work, "state-"));
  const r = verifier(offset, ["install-bundle", bundleFile, "--state", dir]);
  expect(r.status, r.stderr).toBe(0);
  return dir;
}

function request(offset: string, dir: string, user = "alice") {
  const r = verifier(offset, ["request", "--user", user, "--host", HOST, "--state", dir, "--json"]);
  return { ...r, code: r.status === 0 ? parseRequestCode(JSON.parse(r.stdout).request) : undefined };
}

/** A grant signed now on the signer's (the real) clock, bound to `code` when given. */
function grant(code?: ReturnType<typeof parseRequestCode>, user = "alice") {
  const now = Math.floor(Date.now() / 1000);
  return makeGrantText(
    testFields(issuer, {
      principal: user,
      notBefore: now,
      notAfter: now + 900,
      ...(code === undefined ? {} : { challenge: requestChallenge(code) }),
    }),
    [issuer],
  );
}

function check(offset: string, dir: string, text: string, user = "alice") {
  return verifier(offset, ["check", "--user", user, "--host", HOST, "--state", dir, "--json"], text);
}

function lastCheck(dir: string): Record<string, unknown> {
  const entries = readFileSync(join(dir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((e) => e.type === "grant-check");
  return entries.at(-1)?.data;
}

describe("request-bound grants on a host clock that is wrong", () => {
  it("lets a fresh bound grant in on a host three hours ahead, and logs by how much the clocks disagree", () => {
    const dir = freshState("+3h");
    const { code } = request("+3h", dir);
    const r = check("+3h", dir, grant(code));
    expect(r.status, r.stderr).toBe(0);
    const ahead = lastCheck(dir).signerAhead as { least: number; most: number };
    expect(ahead.least).toBeGreaterThan(-10_800 - 30);
    expect(ahead.least).toBeLessThanOrEqual(-10_800 + 5);
    expect(ahead.most).toBeGreaterThanOrEqual(ahead.least);
    // The same grant bound to no request is refused there, saying by how much.
    const unbound = check("+3h", dir, grant());
    expect(unbound.status).toBe(1);
    expect(JSON.parse(unbound.stdout).code).toBe("grant-expired");
    expect(unbound.stderr).toMatch(/, 99\d\d s after \(300 s skew allowed\)/);
  });

  it("lets a fresh bound grant in on a host three hours behind, and refuses an unbound one saying by how much", () => {
    const dir = freshState("-3h");
    const { code } = request("-3h", dir);
    expect(check("-3h", dir, grant(code)).status).toBe(0);
    const unbound = check("-3h", dir, grant());
    expect(JSON.parse(unbound.stdout).code).toBe("grant-not-yet-valid");
    expect(unbound.stderr).toMatch(/, 10[78]\d\d s before \(300 s skew allowed\)/);
  });

  it("refuses a bound grant once its request is older than the lifetime on the host's clock", () => {
    const dir = freshState("+0");
    const { code } = request("+0", dir);
    const late = check("+61m", dir, grant(code));
    expect(late.status).toBe(1);
    expect(JSON.parse(late.stdout).code).toBe("request-expired");
    expect(late.stderr).toMatch(/made 36\d\d s ago on this host's clock/);
  });

  it("reports a clock stepped back between two checks as clock-behind, and lets nothing in by it", () => {
    const dir = freshState("+0");
    const { code } = request("+0", dir);
    const ahead = check("+2h", dir, grant(undefined, "bob"));
    expect(JSON.parse(ahead.stdout).code).toBe("grant-expired");
    const back = check("+0", dir, grant(code));
    expect(back.status).toBe(1);
    expect(JSON.parse(back.stdout).code).toBe("clock-behind");
    expect(back.stderr).toMatch(/clock is 7[12]\d\d s behind/);
    expect(request("+0", dir, "carol").stderr).toMatch(/^error: clock-behind: /);
    expect(check("+0", dir, grant()).status).toBe(1);
    // With the clock right again the request is two hours old: nothing was reopened, a new one works.
    expect(JSON.parse(check("+2h", dir, grant(code)).stdout).code).toBe("request-expired");
    const fresh = request("+2h", dir);
    expect(fresh.code).not.toEqual(code);
    expect(check("+2h", dir, grant(fresh.code)).status).toBe(0);
  });
});
