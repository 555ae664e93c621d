// Issuer key rotation end to end (docs/signer.md, "Rotating the issuer key";
// docs/trust-bundle.md, "Issuer key rotation"): `init --rotate` makes a new
// issuer key beside the old one on a real SoftHSM2 token, a signed bundle
// lists both (the old one with its retireAt), and the built verifier lets in
// the new key's grants and the old key's grants that started by retireAt,
// while refusing the old key's grant that starts later. A used OTP stays
// used across the rotation. The auditor then reads from the same logs when
// each key was valid and which trust version each host applied. Needs root (CI runs it as root): it fails,
// never skips, without.
import { chmodSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeGrant, decodeGrantText, decodeSignedTrustBundle, toHex, verifyAuditLog } from "@airgrant/core";
import { createSoftHsmToken } from "@airgrant/signer";
import {
  AUDITOR_CLI,
  officerAddArgs,
  type RoleRun,
  runRole,
  SIGNER_BUNDLE,
  softwareYubiKey,
  VERIFIER_CLI,
} from "@airgrant/testkit";
import { cleanUpSuite, removeStaleFixtures, requireRoot } from "@airgrant/testkit/system";
import { TEST_PIN, TEST_SO_PIN } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ISSUER_TOKEN = "ag-rot-issuer";
const ROOT_TOKEN = "ag-rot-root";
const HOST = "db1.example";

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

function verifier(args: string[], input = ""): RoleRun {
  return runRole(VERIFIER_CLI, args, { input });
}

const yubikey = { publicId: "ccccccccbcbd", privateId: "8792ebfe26cd", aesKeyHex: "0123456789abcdef0123456789abcdef" };
const otp = softwareYubiKey(yubikey);

function grantArgs(extra: string[]): string[] {
  return ["grant", "--user", "alice", "--host", HOST, "--ttl", "30m", "--reason", "rotation e2e", "--json", ...extra];
}

/** A grant minted with this OTP: the signer's JSON answer. */
function mint(oneTimePassword: string, extra: string[] = []): { grant: string; grantId: string } {
  const r = signer(grantArgs(extra), `${oneTimePassword}\n`);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function issuerKeyIdOf(grant: string): string {
  return toHex(decodeGrant(decodeGrantText(grant)).issuerKeyId);
}

function check(state: string, grant: string): RoleRun {
  return verifier(["check", "--user", "alice", "--host", HOST, "--state", state], grant);
}

let exports = 0;
/** `bundle --signed`, signed by the one root. */
function signedBundle(extra: string[] = []): string {
  const out = join(work, `signed-${++exports}.json`);
  signerOk(["bundle", "--signed", "--out", out, ...extra]);
  signerOk(["bundle", "sign", out, "--token", ROOT_TOKEN]);
  return out;
}

function logEntries(path: string, type: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((e) => e.type === type)
    .map((e) => e.data);
}

beforeAll(() => {
  requireRoot("issuer-rotation.test.ts");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-issuer-rotation-"));
  chmodSync(work, 0o755);
  for (const tokenLabel of [ISSUER_TOKEN, ROOT_TOKEN]) {
    confPath = createSoftHsmToken({ dir: join(work, "hsm"), tokenLabel, soPin: TEST_SO_PIN, pin: TEST_PIN }).confPath;
  }
  home = join(work, "signer");
  signerOk(["init", "--token", ISSUER_TOKEN]);
  signerOk(officerAddArgs(work, "alice", yubikey));
  signerOk(["root", "init", "--token", ROOT_TOKEN]);
}, 120_000);
afterAll(() => cleanUpSuite([], undefined, work));

describe("issuer key rotation on a SoftHSM2 token", () => {
  it("rotates to a new key on the same token, retires the old one, and keeps every used OTP used", () => {
    const hostBefore = mkdtempSync(join(work, "host-"));
    const first = signedBundle(["--trust-version", "1", "--root-threshold", "1"]);
    expect(verifier(["install-bundle", first, "--state", hostBefore]).status).toBe(0);
    const oldKeyId = signerOk(["status"]).issuer as Record<string, unknown> | undefined;
    const spent = otp();
    const before = mint(spent, ["--max-uses", "2"]);
    const oldKey = issuerKeyIdOf(before.grant);
    expect(oldKeyId).toMatchObject({ keyId: oldKey });
    expect(check(hostBefore, before.grant).status).toBe(0);
    // Minted before the rotation, starting after it: its not-before will be later than retireAt.
    const startsLater = mint(otp(), ["--not-before", new Date(Date.now() + 600_000).toISOString()]);

    const usage = signer(["init", "--rotate"]);
    expect(usage.stderr).toMatch(/^error: usage: init --rotate needs --key-label/);
    const sameLabel = signer(["init", "--rotate", "--key-label", "airgrant-issuer"]);
    expect(sameLabel.stderr).toMatch(
      /^error: bad-input: key label "airgrant-issuer" is issuer key [0-9a-f]{16}, the one/,
    );
    const rotated = signerOk(["init", "--rotate", "--key-label", "airgrant-issuer-2", "--alg", "ed25519"]);
    expect(rotated).toMatchObject({
      alg: "ed25519",
      keyLabel: "airgrant-issuer-2",
      retiredKeyId: oldKey,
      generated: true,
    });
    const newKey = rotated.keyId as string;
    expect(newKey).not.toBe(oldKey);
    const retireAt = rotated.retireAt as number;
    const logged = logEntries(join(home, "audit.log"), "issuer-rotated");
    expect(logged).toEqual([
      {
        keyId: newKey,
        algorithm: "ed25519",
        keyLabel: "airgrant-issuer-2",
        token: ISSUER_TOKEN,
        generated: true,
        retiredKeyId: oldKey,
        retireAt,
      },
    ]);
    expect(verifyAuditLog(join(home, "audit.log")).ok).toBe(true);
    const again = signer(["init", "--rotate", "--key-label", "airgrant-issuer"]);
    expect(again.stderr).toMatch(/^error: bad-input: key label "airgrant-issuer" is issuer key [0-9a-f]{16}, retired/);

    // The OTP spent on the old key's grant is spent for the new key too.
    const replay = signer(grantArgs([]), `${spent}\n`);
    expect(replay.stderr).toMatch(/^error: otp-replayed: /);
    expect(replay.status).toBe(1);
    const after = mint(otp(), ["--max-uses", "2"]);
    expect(issuerKeyIdOf(after.grant)).toBe(newKey);

    // A host that has not applied a bundle listing the new key does not know it.
    expect(check(hostBefore, after.grant).stderr).toMatch(/^error: unknown-issuer: /);

    const both = signedBundle();
    const issuers = decodeSignedTrustBundle(readFileSync(both)).bundle.issuers;
    const maxLifetime = decodeSignedTrustBundle(readFileSync(both)).bundle.maxLifetime;
    expect(issuers.map((i) => [i.keyId, i.retireAt]).sort()).toEqual(
      [
        [newKey, undefined],
        [oldKey, retireAt],
      ].sort(),
    );
    expect(issuers.find((i) => i.keyId === oldKey)?.notAfter).toBe(retireAt + maxLifetime);
    expect(verifier(["update", both, "--state", hostBefore]).status).toBe(0);
    const host = mkdtempSync(join(work, "host-"));
    expect(verifier(["install-bundle", both, "--state", host]).status).toBe(0);

    for (const state of [hostBefore, host]) {
      const r = check(state, after.grant);
      expect(r.status, r.stderr).toBe(0);
    }
    // The old key's grant that started before retireAt runs out as it would have: its second use.
    expect(check(host, before.grant).status).toBe(0);
    // The one that starts after retireAt never starts.
    const refused = check(host, startsLater.grant);
    expect(refused.stderr).toMatch(new RegExp(`^error: issuer-retired: issuer key ${oldKey} was retired at `));
    expect(refused.status).toBe(1);

    // The auditor reads the same story from the logs: the keys' validity, and the trust versions applied.
    const hostLogs = [hostBefore, host].map((h) => join(h, "audit.log"));
    const audit = runRole(AUDITOR_CLI, [
      "reconcile",
      "--signer",
      join(home, "audit.log"),
      "--host",
      ...hostLogs,
      "--json",
    ]);
    expect(audit.status, audit.stdout).toBe(0);
    const reconciled = JSON.parse(audit.stdout);
    expect(reconciled.issuerKeys).toEqual([
      {
        keyId: oldKey,
        since: expect.any(Object),
        retired: { seq: expect.any(Number), time: expect.any(String), retireAt },
      },
      { keyId: newKey, since: expect.any(Object) },
    ]);
    expect(
      reconciled.trustVersions.hosts.map((h: { applied: { trustVersion: number }[] }) =>
        h.applied.map((a) => a.trustVersion),
      ),
    ).toEqual([[1, 2], [2]]);
    expect(reconciled.trustVersions.behind).toEqual([]);
  });

  it("lists no retired key in a version 1 bundle, which has no retireAt", () => {
    const out = join(work, "v1.json");
    signerOk(["bundle", "--out", out]);
    const bundle = JSON.parse(readFileSync(out, "utf8"));
    expect(bundle.issuers).toHaveLength(1);
    expect(bundle.issuers[0].retireAt).toBeUndefined();
  });
});
