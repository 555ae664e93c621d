import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256, toHex } from "@airgrant/core";
import {
  makeBundleBytes,
  makeGrantText,
  makeSignedBundleBytes,
  makeTestIssuer,
  type SignedBundleSpec,
  testFields,
  trustedIssuer,
} from "@airgrant/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const issuer = makeTestIssuer("ecdsa-p256-sha256");
const [r1, r2, r3] = [makeTestIssuer(), makeTestIssuer("ed25519"), makeTestIssuer()];
const roots = { roots: [r1, r2, r3], threshold: 2 };
const now = Math.floor(Date.now() / 1000);
const created = { created: now - 1000 };

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-verifier-update-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[], input = "") {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, AIRGRANT_STATE: "", AIRGRANT_DEBUG: "" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let files = 0;
function fileOf(bytes: Uint8Array): string {
  const path = join(work, `bundle-${++files}.json`);
  writeFileSync(path, bytes);
  return path;
}

function signed(spec: Partial<SignedBundleSpec> & { trustVersion: number }): string {
  return fileOf(makeSignedBundleBytes([issuer], { ...roots, ...spec, overrides: { ...created, ...spec.overrides } }));
}

/** A state directory with version 1 installed, then trust version 1 signed by all three roots. */
function signedHost(): string {
  const dir = mkdtempSync(join(work, "state-"));
  expect(run(["install-bundle", fileOf(makeBundleBytes([issuer], created)), "--state", dir]).status).toBe(0);
  expect(run(["install-bundle", signed({ trustVersion: 1 }), "--state", dir]).status).toBe(0);
  return dir;
}

function logEntries(dir: string, type: string): Record<string, unknown>[] {
  return readFileSync(join(dir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((e) => e.type === type)
    .map((e) => e.data);
}

function expectRefused(dir: string, args: string[], code: string, status: number) {
  const before = readFileSync(join(dir, "bundle.json"));
  const r = run([...args, "--state", dir]);
  expect(r.stderr).toMatch(new RegExp(`^error: ${code}: `));
  expect(r.status).toBe(status);
  expect(readFileSync(join(dir, "bundle.json"))).toEqual(before);
}

describe("airgrant-verifier update", () => {
  it("pins the roots of a first signed bundle installed over version 1, and logs its trust", () => {
    const dir = signedHost();
    const [v1Entry, v2Entry] = logEntries(dir, "bundle-installed");
    expect(v1Entry?.trustVersion).toBeUndefined();
    expect(v2Entry).toMatchObject({ trustVersion: 1, roots: expect.any(Array) });
    const status = JSON.parse(run(["status", "--state", dir, "--json"]).stdout);
    expect(status).toMatchObject({ trustVersion: 1, rootThreshold: 2, onExpiry: "warn" });
  });

  it("refuses a first signed install its own roots did not sign", () => {
    const dir = mkdtempSync(join(work, "state-"));
    const r = run(["install-bundle", signed({ trustVersion: 1, signers: [r1] }), "--state", dir]);
    expect(r.stderr).toMatch(/^error: not-enough-root-signatures: /);
    expect(r.status).toBe(1);
  });

  it("refuses every install-bundle once signed trust is installed, saying to run update", () => {
    const dir = signedHost();
    expectRefused(dir, ["install-bundle", fileOf(makeBundleBytes([issuer], created))], "signed-trust-installed", 2);
    expectRefused(dir, ["install-bundle", signed({ trustVersion: 9 })], "signed-trust-installed", 2);
    expect(run(["install-bundle", signed({ trustVersion: 9 }), "--state", dir]).stderr).toContain(
      "airgrant-verifier update",
    );
  });

  it("applies a greater trust version signed by 2 of 3 roots, and logs the version it replaced", () => {
    const dir = signedHost();
    const r = run(["update", signed({ trustVersion: 2, signers: [r1, r3] }), "--state", dir, "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: "trust-updated", trustVersion: 2, replacedTrustVersion: 1 });
    expect(logEntries(dir, "bundle-installed").at(-1)).toMatchObject({ trustVersion: 2, replacedTrustVersion: 1 });
  });

  it("refuses a replay, an older version, one root short, a version 1 file and an unsigned file, leaving the bundle as it was", () => {
    const dir = signedHost();
    const v3 = signed({ trustVersion: 3 });
    expect(run(["update", v3, "--state", dir]).status).toBe(0);
    expectRefused(dir, ["update", v3], "bundle-rollback", 1);
    expectRefused(dir, ["update", signed({ trustVersion: 2 })], "bundle-rollback", 1);
    expectRefused(dir, ["update", signed({ trustVersion: 4, signers: [r2] })], "not-enough-root-signatures", 1);
    expectRefused(dir, ["update", signed({ trustVersion: 4, signers: [] })], "not-enough-root-signatures", 1);
    expectRefused(dir, ["update", fileOf(makeBundleBytes([issuer], created))], "bundle-unsigned", 1);
    expectRefused(dir, ["update", join(work, "no-such-file")], "file-unreadable", 2);
    expect(logEntries(dir, "bundle-installed")).toHaveLength(3);
  });

  it("logs an installed bundle the log does not name (a crash after the rename) before the next update changes it", () => {
    const dir = signedHost();
    const crashed = makeSignedBundleBytes([issuer], { ...roots, trustVersion: 2, overrides: created });
    // What a kill between the rename and the log entry leaves: the new file in place, the log silent.
    writeFileSync(join(dir, "bundle.json"), crashed, { mode: 0o600 });
    expect(run(["update", signed({ trustVersion: 3 }), "--state", dir]).status).toBe(0);
    const [, , recovered, applied] = logEntries(dir, "bundle-installed");
    expect(recovered).toMatchObject({ trustVersion: 2, recovered: true, sha256: toHex(sha256(crashed)) });
    expect(applied).toMatchObject({ trustVersion: 3, replacedTrustVersion: 2 });
    expect(applied?.recovered).toBeUndefined();
  });

  it("refuses an update on a host with no signed trust, and with no bundle at all", () => {
    const dir = mkdtempSync(join(work, "state-"));
    expect(run(["install-bundle", fileOf(makeBundleBytes([issuer], created)), "--state", dir]).status).toBe(0);
    expectRefused(dir, ["update", signed({ trustVersion: 2 })], "no-signed-trust", 3);
    const none = run(["update", signed({ trustVersion: 2 }), "--state", join(work, "nothing-here")]);
    expect(none.stderr).toMatch(/^error: no-bundle: /);
  });

  it("walks a chain through a root rotation, and refuses the step after it alone", () => {
    const [n1, n2] = [makeTestIssuer(), makeTestIssuer()];
    const newRoots = { roots: [n1, n2], threshold: 2 };
    const dir = signedHost();
    const rotation = signed({ trustVersion: 2, ...newRoots, signers: [r1, r2, n1, n2] });
    const v3 = signed({ trustVersion: 3, ...newRoots });
    const v4 = signed({ trustVersion: 4, ...newRoots });
    expectRefused(dir, ["update", v4], "not-enough-root-signatures", 1);
    expectRefused(
      dir,
      ["update", signed({ trustVersion: 2, ...newRoots, signers: [r1, r2] })],
      "root-rotation-unsigned",
      1,
    );
    const r = run(["update", v4, rotation, v3, "--state", dir, "--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ trustVersion: 4, chain: [2, 3, 4], replacedTrustVersion: 1 });
    expect(logEntries(dir, "bundle-installed").at(-1)).toMatchObject({ trustVersion: 4, chain: [2, 3, 4] });
  });

  it("refuses every grant under an expired bundle that says refuse, warns under one that says warn, and logs both", () => {
    const grant = makeGrantText(testFields(issuer, { notBefore: now - 60, notAfter: now + 3600 }), [issuer]);
    const check = (dir: string) => run(["check", "--user", "alice", "--host", "db1.example", "--state", dir], grant);
    const refusing = signedHost();
    expect(
      run(["update", signed({ trustVersion: 2, expires: now - 10, onExpiry: "refuse" }), "--state", refusing]).stdout,
    ).toContain("refuses every grant");
    const refused = check(refusing);
    expect(refused.stderr).toMatch(/^error: trust-expired: /);
    expect(refused.status).toBe(1);
    expect(logEntries(refusing, "grant-check").at(-1)).toMatchObject({
      verdict: "trust-expired",
      bundleExpired: true,
    });
    const warning = signedHost();
    expect(run(["update", signed({ trustVersion: 2, expires: now - 10 }), "--state", warning]).status).toBe(0);
    expect(check(warning).status).toBe(0);
    expect(logEntries(warning, "grant-check").at(-1)).toMatchObject({ verdict: "allowed", bundleExpired: true });
    expect(run(["status", "--state", warning]).stdout).toContain("EXPIRED");
  });

  it("refuses a grant of a retired issuer key that starts after its retireAt, and lets one that started before it run out", () => {
    const retireAt = now - 120;
    const retiring = { ...trustedIssuer(issuer), retireAt };
    const dir = signedHost();
    expect(
      run(["update", signed({ trustVersion: 2, overrides: { issuers: [retiring] } }), "--state", dir]).status,
    ).toBe(0);
    const check = (notBefore: number) =>
      run(
        ["check", "--user", "alice", "--host", "db1.example", "--state", dir],
        makeGrantText(testFields(issuer, { notBefore, notAfter: now + 3600 }), [issuer]),
      );
    const late = check(now - 60);
    expect(late.stderr).toMatch(/^error: issuer-retired: /);
    expect(late.status).toBe(1);
    expect(check(retireAt).status).toBe(0);
  });
});
