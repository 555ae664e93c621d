// Signed trust end to end (docs/trust-bundle.md, "Version 2: signed trust"):
// the signer's root keys on two real SoftHSM2 tokens of their own, apart from
// the issuer's, sign versioned bundles with `bundle sign`, and the built
// verifier pins them, applies updates, walks a host forward through a chain
// and refuses every replay, forgery and short signature, leaving its bundle
// as it was. Ends with an attack: an unprivileged user trying to apply an
// older or an unsigned bundle. Needs root (CI runs it as root): it fails,
// never skips, without.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assembleSignedTrustBundle,
  decodeSignedTrustBundle,
  encodeSignedTrustContent,
  verifyAuditLog,
} from "@airgrant/core";
import { createSoftHsmToken } from "@airgrant/signer";
import { officerAddArgs, type RoleRun, runRole, SIGNER_BUNDLE, softwareYubiKey, VERIFIER_CLI } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  type Removable,
  removeStaleFixtures,
  requireRoot,
} from "@airgrant/testkit/system";
import { TEST_PIN, TEST_SO_PIN } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ISSUER_TOKEN = "ag-issuer";
const ROOT_TOKEN_A = "ag-root-a";
const ROOT_TOKEN_B = "ag-root-b";
const HOST = "db1.example";

const fixtures: Removable[] = [];
let work: string;
let confPath: string;
let home: string;

function signer(args: string[], input = ""): RoleRun {
  return runRole(SIGNER_BUNDLE, args, {
    input,
    env: { SOFTHSM2_CONF: confPath, AIRGRANT_PIN: TEST_PIN, AIRGRANT_HOME: home },
  });
}

function signerOk(args: string[], input = ""): Record<string, unknown> {
  const r = signer([...args, "--json"], input);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function verifier(args: string[], input = "", uid?: number): RoleRun {
  return runRole(VERIFIER_CLI, args, { input, ...(uid === undefined ? {} : { uid }) });
}

const yubikey = { publicId: "ccccccccbcbc", privateId: "8792ebfe26cc", aesKeyHex: "00112233445566778899aabbccddeeff" };
const touch = softwareYubiKey(yubikey);

/** A grant for alice on HOST: its text, or with --json the signer's JSON line. */
function mintGrant(extra: string[] = []): string {
  const otp = touch();
  const r = signer(
    ["grant", "--user", "alice", "--host", HOST, "--ttl", "30m", "--reason", "signed trust e2e", ...extra],
    `${otp}\n`,
  );
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim();
}

function check(state: string, grant: string): RoleRun {
  return verifier(["check", "--user", "alice", "--host", HOST, "--state", state], grant);
}

let exports = 0;
/** `bundle --signed`: an unsigned version 2 bundle of the home's current roots. */
function exportSigned(extra: string[] = []): string {
  const out = join(work, `signed-${++exports}.json`);
  signerOk(["bundle", "--signed", "--out", out, ...extra]);
  return out;
}

function sign(file: string, token: string, keyLabel = "airgrant-root"): Record<string, unknown> {
  return signerOk(["bundle", "sign", file, "--token", token, "--key-label", keyLabel]);
}

function rootInit(token: string, keyLabel: string, alg = "ecdsa-p256"): string {
  return signerOk(["root", "init", "--token", token, "--key-label", keyLabel, "--alg", alg]).keyId as string;
}

/** Signed by the two roots the rotation below leaves. */
function signedByRoots(file: string): string {
  sign(file, ROOT_TOKEN_B, "new-1");
  sign(file, ROOT_TOKEN_A, "new-2");
  return file;
}

function newHost(): string {
  return mkdtempSync(join(work, "host-"));
}

function installed(state: string): Buffer {
  return readFileSync(join(state, "bundle.json"));
}

function expectRefused(state: string, args: string[], code: string, status: number): void {
  const before = installed(state);
  const log = readFileSync(join(state, "audit.log"));
  const r = verifier([...args, "--state", state]);
  expect(r.stderr).toMatch(new RegExp(`^error: ${code}: `));
  expect(r.status).toBe(status);
  expect(installed(state)).toEqual(before);
  // Nothing logged for a refused update but the seal key's moves, which append nothing.
  expect(readFileSync(join(state, "audit.log"))).toEqual(log);
}

function entriesOf(log: string, ...types: string[]): Record<string, unknown>[] {
  return readFileSync(log, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((e) => types.includes(e.type))
    .map((e) => e.data);
}

function trustVersionOf(state: string): number {
  const status = JSON.parse(verifier(["status", "--state", state, "--json"]).stdout);
  return status.trustVersion;
}

/** The files of the story, by trust version. */
const files: Record<number, string> = {};
function fileOf(version: number): string {
  const file = files[version];
  if (file === undefined) throw new Error(`no file of trust version ${version} yet`);
  return file;
}
let hostA: string;
let roots: Record<string, string>;

beforeAll(() => {
  requireRoot("signed-trust.test.ts");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-signed-trust-"));
  chmodSync(work, 0o755);
  for (const tokenLabel of [ISSUER_TOKEN, ROOT_TOKEN_A, ROOT_TOKEN_B]) {
    confPath = createSoftHsmToken({ dir: join(work, "hsm"), tokenLabel, soPin: TEST_SO_PIN, pin: TEST_PIN }).confPath;
  }
  home = join(work, "signer");
  signerOk(["init", "--token", ISSUER_TOKEN]);
  signerOk(officerAddArgs(work, "alice", yubikey));
  roots = {
    r1: rootInit(ROOT_TOKEN_A, "airgrant-root"),
    r2: rootInit(ROOT_TOKEN_A, "root-2", "ed25519"),
    r3: rootInit(ROOT_TOKEN_B, "airgrant-root"),
  };
  hostA = newHost();
}, 120_000);
afterAll(() => cleanUpSuite(fixtures, undefined, work));

describe("signed trust with root keys on SoftHSM2 tokens", () => {
  it("keeps root keys off the issuer's token", () => {
    const r = signer(["root", "init", "--token", ISSUER_TOKEN]);
    expect(r.stderr).toMatch(/^error: bad-input: token "ag-issuer" holds this home's issuer key/);
    expect(r.status).toBe(2);
  });

  it("refuses signed-bundle options without --signed, and a first signed bundle without a root threshold", () => {
    const out = join(work, "refused.json");
    const stray = signer(["bundle", "--out", out, "--trust-version", "5"]);
    expect(stray.stderr).toMatch(/^error: usage: --trust-version goes with --signed/);
    expect(stray.status).toBe(2);
    const first = signer(["bundle", "--signed", "--out", out]);
    expect(first.stderr).toMatch(/^error: usage: the first signed bundle needs --root-threshold K/);
    expect(first.status).toBe(2);
    const tooMany = signer(["bundle", "--signed", "--out", out, "--root-threshold", "4"]);
    expect(tooMany.stderr).toMatch(/^error: bad-input: --root-threshold 4 is more than the 3 root key\(s\)/);
  });

  it("installs a version 1 bundle, then a first signed bundle (trust version 2) that pins 2 of 3 roots", () => {
    const v1 = join(work, "v1.json");
    signerOk(["bundle", "--out", v1]);
    expect(verifier(["install-bundle", v1, "--state", hostA]).status).toBe(0);
    expect(check(hostA, mintGrant()).status).toBe(0);
    files[2] = exportSigned(["--trust-version", "2", "--root-threshold", "2"]);
    // Signed by one root only: not the threshold of its own roots.
    sign(fileOf(2), ROOT_TOKEN_A);
    expectRefused(hostA, ["install-bundle", fileOf(2)], "not-enough-root-signatures", 1);
    expect(sign(fileOf(2), ROOT_TOKEN_B)).toMatchObject({ ownRoot: true, ownRootsSigned: 2, rootThreshold: 2 });
    const r = verifier(["install-bundle", fileOf(2), "--state", hostA]);
    expect(r.status, r.stderr).toBe(0);
    expect(trustVersionOf(hostA)).toBe(2);
    expect(check(hostA, mintGrant()).status).toBe(0);
  });

  it("applies trust version 3 signed by 2 of the 3 roots on two tokens, and refuses it, and 2, again", () => {
    files[3] = exportSigned();
    sign(fileOf(3), ROOT_TOKEN_A, "root-2");
    sign(fileOf(3), ROOT_TOKEN_B);
    const r = verifier(["update", fileOf(3), "--state", hostA, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: "trust-updated", trustVersion: 3, replacedTrustVersion: 2 });
    // The host logs the hash of what the roots signed, as the signer logged it at export and at each signature.
    const hostEntry = entriesOf(join(hostA, "audit.log"), "bundle-installed").at(-1);
    const signerEntries = entriesOf(join(home, "audit.log"), "bundle-exported", "bundle-signed").filter(
      (e) => e.bundleId === hostEntry?.bundleId,
    );
    expect(signerEntries.map((e) => e.signedSha256)).toEqual([
      hostEntry?.signedSha256,
      hostEntry?.signedSha256,
      hostEntry?.signedSha256,
    ]);
    expectRefused(hostA, ["update", fileOf(3)], "bundle-rollback", 1);
    expectRefused(hostA, ["update", fileOf(2)], "bundle-rollback", 1);
    expectRefused(hostA, ["install-bundle", join(work, "v1.json")], "signed-trust-installed", 2);
    expectRefused(hostA, ["update", join(work, "v1.json")], "bundle-unsigned", 1);
  });

  it("refuses an unsigned file, one signed by a key that is not a root, and a signed one with a byte changed", () => {
    const stray = rootInit(ROOT_TOKEN_B, "stray");
    signerOk(["root", "remove", "--key-id", stray]);
    const unsigned = exportSigned();
    expectRefused(hostA, ["update", unsigned], "not-enough-root-signatures", 1);
    expect(sign(unsigned, ROOT_TOKEN_B, "stray")).toMatchObject({ ownRoot: false, ownRootsSigned: 0 });
    expectRefused(hostA, ["update", unsigned], "not-enough-root-signatures", 1);
    const good = exportSigned();
    sign(good, ROOT_TOKEN_A);
    sign(good, ROOT_TOKEN_B);
    const changed = join(work, "changed.json");
    const text = readFileSync(good, "utf8");
    writeFileSync(changed, text.replace('"clockSkew":300', '"clockSkew":301'));
    expect(readFileSync(changed, "utf8")).not.toBe(text);
    expectRefused(hostA, ["update", changed], "not-enough-root-signatures", 1);
    expect(trustVersionOf(hostA)).toBe(3);
  });

  it("rotates the roots, signed by a threshold of the old roots and of the new", () => {
    roots.n1 = rootInit(ROOT_TOKEN_B, "new-1");
    roots.n2 = rootInit(ROOT_TOKEN_A, "new-2", "ed25519");
    for (const old of ["r1", "r2", "r3"]) signerOk(["root", "remove", "--key-id", roots[old] as string]);
    const rotation = exportSigned();
    const version = decodeSignedTrustBundle(readFileSync(rotation)).bundle.signedTrust.trustVersion;
    files[version] = rotation;
    expect(sign(rotation, ROOT_TOKEN_A)).toMatchObject({ ownRoot: false });
    sign(rotation, ROOT_TOKEN_B);
    const oldOnly = join(work, "rotation-old-only.json");
    copyFileSync(rotation, oldOnly);
    expectRefused(hostA, ["update", oldOnly], "root-rotation-unsigned", 1);
    sign(rotation, ROOT_TOKEN_B, "new-1");
    expect(sign(rotation, ROOT_TOKEN_A, "new-2")).toMatchObject({ ownRoot: true, ownRootsSigned: 2 });
    const r = verifier(["update", rotation, "--state", hostA]);
    expect(r.status, r.stderr).toBe(0);
    expect(trustVersionOf(hostA)).toBe(version);
    // From now on the old roots are not enough.
    const afterRotation = exportSigned();
    const byOldRoots = join(work, "after-rotation-old-roots.json");
    copyFileSync(afterRotation, byOldRoots);
    sign(byOldRoots, ROOT_TOKEN_A);
    sign(byOldRoots, ROOT_TOKEN_B);
    expectRefused(hostA, ["update", byOldRoots], "not-enough-root-signatures", 1);
    sign(afterRotation, ROOT_TOKEN_B, "new-1");
    sign(afterRotation, ROOT_TOKEN_A, "new-2");
    files[version + 1] = afterRotation;
    expect(verifier(["update", afterRotation, "--state", hostA]).status).toBe(0);
  });

  it("walks a host three versions behind forward through the rotation from files carried together", () => {
    const hostB = newHost();
    expect(verifier(["install-bundle", fileOf(2), "--state", hostB]).status).toBe(0);
    const versions = Object.keys(files)
      .map(Number)
      .sort((a, b) => a - b);
    const latest = versions.at(-1) as number;
    expectRefused(hostB, ["update", fileOf(latest)], "not-enough-root-signatures", 1);
    const chain = versions
      .filter((v) => v > 2)
      .map((v) => fileOf(v))
      .reverse();
    expect(chain).toHaveLength(3);
    const r = verifier(["update", ...chain, fileOf(2), "--state", hostB, "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      trustVersion: latest,
      replacedTrustVersion: 2,
      chain: versions.filter((v) => v > 2),
      passedOver: [2],
    });
    expect(installed(hostB)).toEqual(installed(hostA));
    expect(check(hostB, mintGrant()).status).toBe(0);
    const log = verifyAuditLog(join(hostB, "audit.log"));
    expect(log.ok).toBe(true);
  });

  it("refuses a grant from the issuer key after the retireAt a signed update gave it", () => {
    const latest = decodeSignedTrustBundle(installed(hostA));
    const [issuer] = latest.bundle.issuers;
    if (issuer === undefined) throw new Error("no issuer in the bundle");
    const retiring = {
      ...latest.bundle,
      bundleId: "ab".repeat(16),
      issuers: [{ ...issuer, retireAt: issuer.notBefore }],
      signedTrust: { ...latest.bundle.signedTrust, trustVersion: latest.bundle.signedTrust.trustVersion + 1 },
    };
    const file = join(work, "retiring.json");
    writeFileSync(file, assembleSignedTrustBundle(encodeSignedTrustContent(retiring), []));
    sign(file, ROOT_TOKEN_B, "new-1");
    sign(file, ROOT_TOKEN_A, "new-2");
    const grant = mintGrant();
    expect(check(hostA, grant).status).toBe(0);
    expect(verifier(["update", file, "--state", hostA]).status).toBe(0);
    while (Math.floor(Date.now() / 1000) <= issuer.notBefore) spawnSync("sleep", ["0.2"]);
    const r = check(hostA, mintGrant());
    expect(r.stderr).toMatch(/^error: issuer-retired: issuer key [0-9a-f]{16} was retired at /);
    expect(r.status).toBe(1);
  });

  it("refuses a signed export hosts would take as a rollback, a sign with no root key on the token, and an exposed roots.json", () => {
    const out = join(work, "refused.json");
    const rollback = signer(["bundle", "--signed", "--out", out, "--trust-version", "3"]);
    expect(rollback.stderr).toMatch(/^error: bad-input: --trust-version 3 is not above \d+, the last exported/);
    const noRoot = signer(["bundle", "sign", fileOf(3), "--token", ISSUER_TOKEN]);
    expect(noRoot.stderr).toMatch(/^error: key-missing: no root key "airgrant-root" on token "ag-issuer"/);
    expect(noRoot.status).toBe(3);
    const rootsFile = join(home, "roots.json");
    chmodSync(rootsFile, 0o644);
    const exposed = signer(["root", "list"]);
    expect(exposed.stderr).toMatch(/^error: state-insecure: \S+roots\.json is accessible by others/);
    chmodSync(rootsFile, 0o600);
    const listed = signerOk(["root", "list"]);
    expect(listed).toMatchObject({ threshold: 2 });
    expect((listed.keys as { removed: string | null }[]).filter((k) => k.removed === null)).toHaveLength(2);
  });

  it("refuses an unprivileged user who applies an older or an unsigned bundle, leaving the bundle and log as they were", () => {
    const attacker = createThrowawayUser("agt");
    fixtures.push(attacker);
    const uid = Number(spawnSync("id", ["-u", attacker.name], { encoding: "utf8" }).stdout.trim());
    const older = join(work, "older.json");
    const unsigned = join(work, "attacker-unsigned.json");
    copyFileSync(fileOf(3), older);
    copyFileSync(exportSigned(["--trust-version", "100"]), unsigned);
    for (const file of [older, unsigned]) chmodSync(file, 0o644);
    const before = installed(hostA);
    const log = readFileSync(join(hostA, "audit.log"));
    for (const file of [older, unsigned]) {
      const r = verifier(["update", file, "--state", hostA], "", uid);
      expect(r.stderr).toMatch(/^error: state-unreadable: /);
      expect(r.status).toBe(3);
    }
    expect(installed(hostA)).toEqual(before);
    expect(readFileSync(join(hostA, "audit.log"))).toEqual(log);
    // And as root the same files are refused by their signatures and trust versions.
    expectRefused(hostA, ["update", older], "bundle-rollback", 1);
    expectRefused(hostA, ["update", unsigned], "not-enough-root-signatures", 1);
  });

  it("stops a grant that worked a minute before with the signed update that follows its revocation", () => {
    const hostC = newHost();
    expect(verifier(["install-bundle", signedByRoots(exportSigned()), "--state", hostC]).status).toBe(0);
    const minted = JSON.parse(mintGrant(["--max-uses", "2", "--json"]));
    expect(check(hostC, minted.grant).status).toBe(0);
    signerOk(["revoke", minted.grantId, "--reason", "revocation update e2e"]);
    const revocation = signedByRoots(exportSigned());
    expect(decodeSignedTrustBundle(readFileSync(revocation)).bundle.revokedGrants).toContain(minted.grantId);
    const r = verifier(["update", revocation, "--state", hostC]);
    expect(r.status, r.stderr).toBe(0);
    const refused = check(hostC, minted.grant);
    expect(refused.stderr).toMatch(/^error: grant-revoked: /);
    expect(refused.status).toBe(1);
  });

  it("refuses a grant that needs a newer trust version until the host applies it, then allows it", () => {
    const hostD = newHost();
    const current = signedByRoots(exportSigned());
    const installedVersion = decodeSignedTrustBundle(readFileSync(current)).bundle.signedTrust.trustVersion;
    expect(verifier(["install-bundle", current, "--state", hostD]).status).toBe(0);
    const next = signedByRoots(exportSigned());
    const needed = installedVersion + 1;
    expect(decodeSignedTrustBundle(readFileSync(next)).bundle.signedTrust.trustVersion).toBe(needed);
    // Before any OTP is read: a version no bundle has reached, and one that is no version.
    for (const [value, message] of [
      [String(needed + 1), `--min-trust-version ${needed + 1} is above ${needed}, the last signed bundle`],
      ["0", "--min-trust-version must be a whole number from 1 to 4294967295"],
    ] as const) {
      const r = signer([
        "grant",
        "--user",
        "alice",
        "--host",
        HOST,
        "--ttl",
        "30m",
        "--reason",
        "x",
        "--min-trust-version",
        value,
      ]);
      expect(r.stderr).toContain(`error: bad-input: ${message}`);
      expect(r.status).toBe(2);
    }
    const minted = JSON.parse(mintGrant(["--min-trust-version", String(needed), "--json"]));
    const issued = entriesOf(join(home, "audit.log"), "grant-issued").find((e) => e.grantId === minted.grantId);
    expect(issued?.minTrustVersion).toBe(needed);
    const refused = check(hostD, minted.grant);
    expect(refused.stderr).toBe(
      `error: trust-version-required: grant needs trust version ${needed} or later; this host has trust version ${installedVersion}: apply version ${needed} with airgrant-verifier update\n`,
    );
    expect(refused.status).toBe(1);
    const unsignedHost = newHost();
    expect(verifier(["install-bundle", join(work, "v1.json"), "--state", unsignedHost]).status).toBe(0);
    expect(check(unsignedHost, minted.grant).stderr).toMatch(
      /^error: trust-version-required: .*this host has an unsigned \(version 1\) bundle/,
    );
    // The refusal took no use: the same grant is let in once the version is applied.
    const r = verifier(["update", next, "--state", hostD]);
    expect(r.status, r.stderr).toBe(0);
    expect(trustVersionOf(hostD)).toBe(needed);
    const allowed = check(hostD, minted.grant);
    expect(allowed.status, allowed.stderr).toBe(0);
    expect(entriesOf(join(hostD, "audit.log"), "grant-check").map((e) => e.verdict)).toEqual([
      "trust-version-required",
      "allowed",
    ]);
  });

  it("requires request-bound grants on the hosts a signed request policy names, and lets one in per request", () => {
    const hostE = newHost();
    const policy = exportSigned([
      "--require-requests",
      HOST,
      "--request-lifetime",
      "30m",
      "--max-pending-requests",
      "8",
    ]);
    expect(verifier(["install-bundle", signedByRoots(policy), "--state", hostE]).status).toBe(0);
    const requestPolicy = { required: [HOST], lifetime: 1800, maxPendingPerHost: 8 };
    expect(entriesOf(join(home, "audit.log"), "bundle-exported").at(-1)).toMatchObject({ requestPolicy });
    expect(entriesOf(join(hostE, "audit.log"), "bundle-installed").at(-1)).toMatchObject({ requestPolicy });
    const unbound = check(hostE, mintGrant());
    expect(unbound.stderr).toMatch(/^error: request-required: /);
    const shown = JSON.parse(
      verifier(["request", "--user", "alice", "--host", HOST, "--state", hostE, "--json"]).stdout,
    );
    expect(shown.expires - shown.created).toBe(1800);
    const bound = mintGrant(["--request", shown.request]);
    expect(check(hostE, bound).status).toBe(0);
    expect(check(hostE, bound).stderr).toMatch(/^error: request-redeemed: /);
    const created = entriesOf(join(hostE, "audit.log"), "request-created");
    expect(created).toMatchObject([{ request: shown.request.replaceAll("-", ""), user: "alice", lifetime: 1800 }]);
  });
});
