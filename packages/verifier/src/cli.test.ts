import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeGrantText, verifyAuditLog } from "@airgrant/core";
import { makeBundleBytes, makeGrantBytes, makeGrantText, makeTestIssuer, testFields } from "@airgrant/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const issuer = makeTestIssuer("ecdsa-p256-sha256");
const now = Math.floor(Date.now() / 1000);
const fields = (over = {}) => testFields(issuer, { notBefore: now - 60, notAfter: now + 3600, ...over });

let work: string;
let bundleFile: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-verifier-cli-"));
  bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, makeBundleBytes([issuer], { created: now - 100 }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[], input: string | Uint8Array = "") {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, AIRGRANT_STATE: "", AIRGRANT_DEBUG: "" },
    maxBuffer: 1 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function freshState(): string {
  const dir = mkdtempSync(join(work, "state-"));
  expect(run(["install-bundle", bundleFile, "--state", dir]).status).toBe(0);
  return dir;
}

/** What must not change when input is refused: uses and the files in the state directory. */
function snapshot(dir: string) {
  const used = join(dir, "used");
  return {
    files: readdirSync(dir).sort(),
    used: readdirSync(used, { withFileTypes: true }).length,
  };
}

function expectOneLineError(r: { stderr: string }, code?: string) {
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: [a-z][a-z0-9-]*: \S/);
  if (code) expect(lines[0]?.startsWith(`error: ${code}: `)).toBe(true);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("airgrant-verifier", () => {
  it("installs a bundle with owner-only permissions and reports status", () => {
    const dir = freshState();
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "bundle.json")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "audit.log")).mode & 0o777).toBe(0o600);
    const status = run(["status", "--state", dir, "--json"]);
    expect(status.status).toBe(0);
    const parsed = JSON.parse(status.stdout);
    expect(parsed).toMatchObject({ ok: true, consumedUses: 0, issuers: [{ algorithm: "ecdsa-p256-sha256" }] });
    expect(parsed.logHead.seq).toBe(2);
    expect(run(["status", "--state", dir]).stdout).toContain("uses recorded:   0");
  });

  it("allows a grant once, then refuses it as replayed, and logs both", () => {
    const dir = freshState();
    const text = makeGrantText(fields(), [issuer]);
    const first = run(["check", "--user", "alice", "--host", "db1.example", "--state", dir], `${text}\n`);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^allowed: grant [0-9a-f]{32} lets 'alice' in/);
    const again = run(["check", "--user", "alice", "--host", "db1.example", "--state", dir, "--json"], text);
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: false, code: "grant-replayed" });
    expectOneLineError(again, "grant-replayed");
    const report = verifyAuditLog(join(dir, "audit.log"));
    expect(report).toMatchObject({ ok: true, entries: 4 });
  });

  it("lets a grant with three uses in three times", () => {
    const dir = freshState();
    const text = makeGrantText(fields({ maxUses: 3 }), [issuer]);
    const codes = Array.from({ length: 4 }, () =>
      run(["check", "--user", "alice", "--host", "db1.example", "--state", dir], text),
    ).map((r) => r.status);
    expect(codes).toEqual([0, 0, 0, 1]);
  });

  it("lets exactly one of 20 simultaneous processes in with one grant", async () => {
    const dir = freshState();
    const text = makeGrantText(fields(), [issuer]);
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<{ status: number | null; stderr: string }>((resolve) => {
            const child = spawn(process.execPath, [
              CLI,
              "check",
              "--user",
              "alice",
              "--host",
              "db1.example",
              "--state",
              dir,
            ]);
            let stderr = "";
            child.stderr.on("data", (d) => {
              stderr += d;
            });
            child.on("close", (status) => resolve({ status, stderr }));
            child.stdin.end(text);
          }),
      ),
    );
    expect(results.filter((r) => r.status === 0)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 0);
    expect(refused).toHaveLength(19);
    for (const r of refused) expect(r.stderr).toMatch(/^error: grant-replayed: /);
    expect(readdirSync(join(dir, "used")).filter((f) => !f.startsWith("."))).toHaveLength(1);
    expect(verifyAuditLog(join(dir, "audit.log"))).toMatchObject({ ok: true, entries: 22 });
  });

  it("refuses bad input with one line and exit 1 or 2, using nothing and keeping the log intact", () => {
    const dir = freshState();
    const before = snapshot(dir);
    const good = makeGrantBytes(fields(), [issuer]);
    const text = encodeGrantText(good);
    const flipped = Uint8Array.from(good);
    flipped[40] = (flipped[40] as number) ^ 0x10;
    const cases: [string, string | Uint8Array, string][] = [
      ["empty", "", "malformed-grant"],
      ["random bytes", new Uint8Array(Array.from({ length: 300 }, (_, i) => (i * 151 + 7) & 0xff)), "malformed-grant"],
      ["10 MB", new Uint8Array(10 * 1024 * 1024).fill(0x41), "malformed-grant"],
      ["truncated", text.slice(0, 200), "bad-checksum"],
      ["flipped bit", encodeGrantText(flipped), "bad-signature"],
      ["control characters", `${text.slice(0, 50)}\u0007\u001b[2J${text.slice(50)}`, "bad-checksum"],
    ];
    for (const [name, input, code] of cases) {
      const r = run(["check", "--user", "alice", "--host", "db1.example", "--state", dir], input);
      expect(r.status, name).toBe(1);
      expectOneLineError(r, code);
    }
    const longUser = run(["check", "--user", "u".repeat(100_000), "--host", "db1.example", "--state", dir], text);
    expect(longUser.status).toBe(1);
    expectOneLineError(longUser, "invalid-user");
    expect(snapshot(dir)).toEqual(before);
    expect(verifyAuditLog(join(dir, "audit.log"))).toMatchObject({ ok: true, entries: 2 + cases.length + 1 });
  });

  it("refuses the login, exit 3, when the host log cannot be written", () => {
    const dir = freshState();
    const log = join(dir, "audit.log");
    rmSync(log);
    mkdirSync(log);
    const text = makeGrantText(fields(), [issuer]);
    const r = run(["check", "--user", "alice", "--host", "db1.example", "--state", dir], text);
    expect(r.status).toBe(3);
    expectOneLineError(r, "audit-unwritable");
    expect(r.stdout).not.toContain("allowed");
  });

  it("never crashes on arbitrary input", () => {
    const dir = freshState();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (input) => {
        const r = run(["check", "--user", "alice", "--host", "db1.example", "--state", dir], input);
        expect(r.status).toBe(1);
        expectOneLineError(r);
      }),
      { numRuns: 25 },
    );
  });

  it("gives usage errors exit 2 and environment errors exit 3", () => {
    const dir = freshState();
    for (const args of [["check"], ["frobnicate"], [], ["check", "--user", "a", "--bogus"], ["install-bundle"]]) {
      const r = run([...args, "--state", dir]);
      expect(r.status, args.join(" ")).toBe(2);
      expectOneLineError(r, "usage");
    }
    const missing = run(["install-bundle", join(work, "nope.json"), "--state", dir]);
    expect(missing.status).toBe(2);
    expectOneLineError(missing, "file-unreadable");
    const junk = join(work, "junk.json");
    writeFileSync(junk, "{not json");
    const malformed = run(["install-bundle", junk, "--state", dir]);
    expect(malformed.status).toBe(2);
    expectOneLineError(malformed, "malformed-bundle");
    const empty = mkdtempSync(join(work, "empty-"));
    const noBundle = run(["check", "--user", "alice", "--state", empty], "AG1");
    expect(noBundle.status).toBe(3);
    expectOneLineError(noBundle, "no-bundle");
    expect(run(["--version"]).stdout).toMatch(/^airgrant-verifier \d+\.\d+\.\d+\n$/);
    expect(run(["--help"]).stdout).toContain("install-bundle FILE");
  });
});
