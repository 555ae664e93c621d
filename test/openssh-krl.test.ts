// End to end: certificates minted and revoked by the built airgrant-signer on
// a SoftHSM2 token, the KRL `airgrant-signer krl` writes, and a real sshd on
// 127.0.0.1 with docs/openssh.md's sshd_config, PAM session line and
// `RevokedKeys` line, the real ssh client logging in.
// Needs root, sshd, ssh and ssh-keygen (CI has them, see .ci/run): it fails,
// never skips, without them.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSoftHsmToken } from "@airgrant/signer";
import { officerAddArgs, type RoleRun, runRole, SIGNER_BUNDLE, softwareYubiKey, VERIFIER_CLI } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedOpenSshConfig,
  documentedOpenSshSessionLine,
  documentedRevokedKeysLine,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  SSH_KEY_LOGIN_OPTIONS,
  type SshdServer,
  startSshd,
  writePamService,
} from "@airgrant/testkit/system";
import { TEST_PIN, TEST_SO_PIN } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "krl-e2e.example";
const TOKEN_LABEL = "airgrant-krl-e2e";
const yubikey = { publicId: "cccccccccccb", privateId: "8792ebfe26cc", aesKeyHex: "00112233445566778899aabbccddeeff" };
/** The next OTP of the officer's demo YubiKey. */
const touch = softwareYubiKey(yubikey);

let work: string;
let home: string;
let stateDir: string;
let krlFile: string;
let clientKey: string;
let signerEnv: NodeJS.ProcessEnv;
let sshd: SshdServer | undefined;
let user: Removable;
const fixtures: Removable[] = [];

function run(command: string, args: string[]): RoleRun {
  const r = spawnSync(command, args, { input: "", encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectOk(r: RoleRun): RoleRun {
  expect(r.status, r.stderr).toBe(0);
  return r;
}

function signer(args: string[], input = ""): RoleRun {
  return runRole(SIGNER_BUNDLE, args, { input, env: signerEnv, timeout: 30_000 });
}

function verifier(args: string[]): RoleRun {
  return runRole(VERIFIER_CLI, args, { timeout: 30_000 });
}

interface Certified {
  grantId: string;
  certFile: string;
}

/** A grant for the test user on HOST with a certificate for the client key, minted by the signer. */
function certified(name: string, maxUses: number): Certified {
  const certFile = join(work, `${name}-cert.pub`);
  const r = expectOk(
    signer(
      [
        "grant",
        "--user",
        user.name,
        "--host",
        HOST,
        "--ttl",
        "1h",
        "--reason",
        `krl test ${name}`,
        "--max-uses",
        String(maxUses),
        "--ssh-pubkey",
        `${clientKey}.pub`,
        "--cert-out",
        certFile,
        "--json",
      ],
      `${touch()}\n`,
    ),
  );
  return { grantId: JSON.parse(r.stdout).grantId, certFile };
}

function revoke(grant: Certified): void {
  expectOk(signer(["revoke", grant.grantId, "--reason", "engagement cancelled"]));
  expectOk(signer(["krl", "--out", krlFile]));
}

function ssh(grant: Certified): RoleRun {
  return run("ssh", [
    "-F",
    "/dev/null",
    "-p",
    String(sshd?.port),
    "-i",
    clientKey,
    "-o",
    `CertificateFile=${grant.certFile}`,
    ...SSH_KEY_LOGIN_OPTIONS,
    `${user.name}@127.0.0.1`,
    "echo hello",
  ]);
}

/** ssh-keygen -Q's word for a certificate: REVOKED (exit 1) or ok (exit 0). */
function queried(grant: Certified): string {
  const r = run("ssh-keygen", ["-Q", "-f", krlFile, grant.certFile]);
  const said = r.stdout.trim().split(": ").at(-1) ?? "";
  expect(r.status, r.stderr).toBe(said === "REVOKED" ? 1 : 0);
  return said;
}

/** The host's grant-check entries for a grant. */
function hostChecks(grant: Certified): { verdict: string }[] {
  return readFileSync(join(stateDir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((e) => e.type === "grant-check" && e.data.grantId === grant.grantId)
    .map((e) => e.data);
}

function refusedAtAuthentication(r: RoleRun): void {
  expect(r.stdout).toBe("");
  expect(r.status).toBe(255);
  expect(r.stderr).toContain("Permission denied");
}

let revoked: Certified;
let kept: Certified;
let later: Certified;

beforeAll(async () => {
  requireRoot("test/openssh-krl.test.ts");
  if (!existsSync("/usr/sbin/sshd")) {
    throw new Error("/usr/sbin/sshd is not installed: apt-get install -y openssh-server (.ci/run does)");
  }
  requireCommand("ssh", "openssh-client");
  requireCommand("ssh-keygen", "openssh-client");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-krl-"));
  home = join(work, "signer-home");
  stateDir = join(work, "state");
  krlFile = join(work, "airgrant_revoked.krl");
  const token = createSoftHsmToken({
    dir: join(work, "hsm"),
    tokenLabel: TOKEN_LABEL,
    soPin: TEST_SO_PIN,
    pin: TEST_PIN,
  });
  signerEnv = {
    SOFTHSM2_CONF: token.confPath,
    AIRGRANT_PIN: TEST_PIN,
    AIRGRANT_HOME: home,
    AIRGRANT_TOKEN: TOKEN_LABEL,
  };
  expectOk(signer(["init", "--alg", "ed25519"]));
  expectOk(signer(officerAddArgs(work, "alice", yubikey)));
  clientKey = join(work, "id_ed25519");
  expectOk(run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]));
  user = createThrowawayUser("agkrl", "/bin/sh");
  fixtures.push(user);

  revoked = certified("revoked", 1);
  kept = certified("kept", 2);
  later = certified("later", 2);
  // The host's bundle is exported before any revocation: what stops a
  // revoked certificate below is sshd's KRL, not the session check.
  const bundle = join(work, "bundle.json");
  expectOk(signer(["bundle", "--out", bundle]));
  expectOk(verifier(["install-bundle", bundle, "--state", stateDir]));
  const caKeys = expectOk(verifier(["ssh-ca-keys", "--state", stateDir]));
  const caKeysFile = join(work, "airgrant_ca_keys");
  writeFileSync(caKeysFile, caKeys.stdout);
  revoke(revoked);

  const documented = { stateDir, caKeysFile, logFile: join(work, "airgrant-ssh.log"), host: HOST };
  const service = writePamService([
    "auth required pam_deny.so",
    "account required pam_permit.so",
    documentedOpenSshSessionLine(documented),
    "session required pam_permit.so",
  ]);
  fixtures.push(service);
  sshd = await startSshd({
    dir: join(work, "sshd"),
    pamService: service.name,
    // Before the documented lines: they end in a Match block.
    config: [
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "LogLevel VERBOSE",
      documentedRevokedKeysLine(krlFile),
      ...documentedOpenSshConfig(documented),
    ],
  });
}, 90_000);

afterAll(async () => {
  try {
    await sshd?.stop();
  } finally {
    cleanUpSuite(fixtures, undefined, work);
  }
}, 30_000);

describe("airgrant-signer krl and sshd's RevokedKeys", () => {
  it("writes a KRL in which ssh-keygen -Q finds the revoked certificate revoked and the others fine", () => {
    expect(queried(revoked)).toBe("REVOKED");
    expect(queried(kept)).toBe("ok");
    expect(queried(later)).toBe("ok");
  });

  it("has sshd refuse the revoked certificate at authentication, though the host's bundle does not revoke it, and let another in", () => {
    const r = ssh(kept);
    expect(r.stdout, r.stderr).toBe("hello\n");
    expect(r.status).toBe(0);
    refusedAtAuthentication(ssh(revoked));
    // sshd stopped it: the session line never saw it, no use was taken.
    expect(hostChecks(revoked)).toEqual([]);
    expect(readFileSync(sshd?.logFile ?? "", "utf8")).toContain(`revoked by file ${krlFile}`);
  });

  it("refuses a certificate revoked between two logins at the second, with no reload of sshd", () => {
    expect(ssh(later).stdout).toBe("hello\n");
    revoke(later);
    refusedAtAuthentication(ssh(later));
    expect(hostChecks(later).map((c) => c.verdict)).toEqual(["allowed"]);
  });

  it("refuses every certificate login while the KRL file is missing, as docs/openssh.md warns", () => {
    renameSync(krlFile, `${krlFile}.away`);
    try {
      refusedAtAuthentication(ssh(kept));
    } finally {
      renameSync(`${krlFile}.away`, krlFile);
    }
    // Its second use was not taken by the refused login.
    expect(ssh(kept).stdout).toBe("hello\n");
    expect(hostChecks(kept).map((c) => c.verdict)).toEqual(["allowed", "allowed"]);
  });
});
