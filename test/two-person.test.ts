// The two-person rule end to end (docs/two-person.md): officers' approval
// keys on tokens of their own, in two PKCS#11 implementations (SoftHSM2 for
// bob and dave, libtpm2-pkcs11 over a software TPM for carol), a pending
// grant that travels between them as a file, and the built verifier
// counting the approvals through `check` on a host whose signed bundle needs
// two for group:prod, and through PAM (pamtester) on a host whose own entry
// needs one, whose two-signature grants fit a password prompt. Ends with the
// attacks of a signer workstation that does not keep the rule: grants it
// assembles with two signatures of one officer, of an officer not allowed
// for the target, or of the account's own, which the host does not count.
// A grant approved at two workstations, each with its own home and log, is
// reconciled by the auditor across both logs.
// Last, a real sshd with the lines of docs/openssh.md takes a certificate
// from `certify` that carries the grant's two approvals, once, and its
// session line refuses one that carries one.
// Needs root, pamtester, swtpm, sshd and ssh (CI has them, see .ci/run): it
// fails, never skips, without.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeGrant, encodeGrantText, fromHex, verifyAuditLog } from "@airgrant/core";
import { createSoftHsmToken, openToken } from "@airgrant/signer";
import {
  AUDITOR_CLI,
  officerAddArgs,
  type RoleRun,
  runRole,
  SIGNER_BUNDLE,
  softwareYubiKey,
  VERIFIER_CLI,
  VERIFIER_EXECUTABLE,
} from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedOpenSshConfig,
  documentedOpenSshSessionLine,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  SSH_KEY_LOGIN_OPTIONS,
  type SshdServer,
  startSshd,
  writePamService,
} from "@airgrant/testkit/system";
import { makeTpmToken, TEST_PIN, TEST_SO_PIN, type TpmToken } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const PROD_HOST = "db1.example";
/** A host whose own policy entry needs one approval: its two-signature grants fit a password prompt. */
const PAM_HOST = "pam.example";
const ACCOUNT = "alice";
/** SoftHSM2 tokens; carol's is on the TPM. */
const TOKENS = { issuer: "ag-issuer", root: "ag-root", bob: "ag-bob", dave: "ag-dave" };
const CAROL_TOKEN = "ag-carol-tpm";

const fixtures: Removable[] = [];
let work: string;
let confPath: string;
let home: string;
let host: string;
let tpm: TpmToken;
let pamUser: Removable;
let pamService: Removable;

function signer(args: string[], input = "", signerHome = home): RoleRun {
  const env = { SOFTHSM2_CONF: confPath, AIRGRANT_PIN: TEST_PIN, AIRGRANT_HOME: signerHome, ...tpm.env };
  return runRole(SIGNER_BUNDLE, args, { input, env });
}

function signerOk(args: string[], input = "", signerHome = home): Record<string, unknown> {
  const r = signer([...args, "--json"], input, signerHome);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

function check(grant: string, user = ACCOUNT, state = host): RoleRun {
  return runRole(VERIFIER_CLI, ["check", "--user", user, "--host", PROD_HOST, "--state", state], { input: grant });
}

const yubikey = { publicId: "ccccccccbcbc", privateId: "8792ebfe26cc", aesKeyHex: "00112233445566778899aabbccddeeff" };
const touch = softwareYubiKey(yubikey);

let pendingFiles = 0;
/** A pending grant for `user` on `target` needing `approvals`, made by officer olga with her YubiKey OTP. */
function pendingGrant(approvals = 2, user = ACCOUNT, target = "group:prod"): string {
  const otp = touch();
  const out = join(work, `pending-${++pendingFiles}.json`);
  const args = ["--user", user, "--host", target, "--ttl", "30m", "--reason", "two-person e2e"];
  const r = signer(["grant", ...args, "--approvals", String(approvals), "--out", out], `${otp}\n`);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`needs ${approvals} approval\\(s\\)`));
  return out;
}

/** `approve` with the officer's first approval key (bob has two). */
function approve(file: string, officer: string): RoleRun {
  return signer(["approve", file, "--name", officer, "--key-id", approvalKeys[officer] as string]);
}

interface PendingFile {
  body: string;
  issuer: { keyId: string; algorithm: string; signature: string };
  approvals: { keyId: string; algorithm: string; officer: string; signature: string }[];
}

/** The grant text of a body, its issuer's signature and the approvals given, in that order: what any workstation can assemble. */
function assemble(file: PendingFile, approvals = file.approvals): string {
  const signatures = [file.issuer, ...approvals].map((s) => ({
    keyId: fromHex(s.keyId, 8, "internal", "key id"),
    algorithm: s.algorithm as "ecdsa-p256-sha256",
    signature: new Uint8Array(Buffer.from(s.signature, "base64")),
  }));
  return encodeGrantText(encodeGrant(new Uint8Array(Buffer.from(file.body, "base64")), signatures));
}

function readPending(path: string): PendingFile {
  return JSON.parse(readFileSync(path, "utf8"));
}

/** A signature by an approval key made straight on its token, as a signer that ignores the rules would. */
function signOnToken(tokenLabel: string, keyLabel: string, body: Uint8Array): string {
  process.env.SOFTHSM2_CONF = confPath;
  const path = tokenLabel === CAROL_TOKEN ? tpm.modulePath : modulePath();
  const session = openToken({ modulePath: path, tokenLabel, pin: TEST_PIN });
  try {
    return Buffer.from(session.sign(keyLabel, body)).toString("base64");
  } finally {
    session.close();
  }
}

function modulePath(): string {
  const status = signerOk(["status"]);
  return (status.issuer as { token: { modulePath: string } }).token.modulePath;
}

function entriesOf(log: string, ...types: string[]): Record<string, unknown>[] {
  return readFileSync(log, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((e) => types.includes(e.type))
    .map((e) => e.data);
}

const approvalKeys: Record<string, string> = {};

beforeAll(async () => {
  requireRoot("two-person.test.ts");
  requireCommand("pamtester", "pamtester");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-two-person-"));
  chmodSync(work, 0o755);
  for (const tokenLabel of Object.values(TOKENS)) {
    confPath = createSoftHsmToken({ dir: join(work, "hsm"), tokenLabel, soPin: TEST_SO_PIN, pin: TEST_PIN }).confPath;
  }
  tpm = await makeTpmToken(CAROL_TOKEN, TEST_SO_PIN, TEST_PIN);
  fixtures.push({ name: CAROL_TOKEN, remove: () => tpm.remove() });
  home = join(work, "signer");
  signerOk(["init", "--token", TOKENS.issuer]);
  signerOk(officerAddArgs(work, "olga", yubikey));
  const enrol = (
    officer: string,
    token: string,
    targets: string,
    keyLabel = "airgrant-approval",
    module: string[] = [],
  ) =>
    signerOk([
      "approver",
      "enrol",
      "--name",
      officer,
      "--token",
      token,
      "--targets",
      targets,
      "--key-label",
      keyLabel,
      ...module,
    ]).keyId as string;
  approvalKeys.bob = enrol("bob", TOKENS.bob, "group:prod");
  approvalKeys.bobSpare = enrol("bob", TOKENS.bob, "group:prod", "bob-spare");
  approvalKeys.carol = enrol("carol", CAROL_TOKEN, "*", "airgrant-approval", ["--module", tpm.modulePath]);
  approvalKeys.dave = enrol("dave", TOKENS.dave, "db9.example");
  approvalKeys.alice = enrol(ACCOUNT, TOKENS.dave, "*", "alice-approval");
  signerOk(["root", "init", "--token", TOKENS.root]);
  const bundle = join(work, "bundle.json");
  signerOk([
    "bundle",
    "--signed",
    "--out",
    bundle,
    "--trust-version",
    "1",
    "--root-threshold",
    "1",
    "--group",
    `prod=${PROD_HOST}`,
    "--approvals-for",
    "group:prod=2",
    "--approvals-for",
    `${PAM_HOST}=1`,
    "--approvals-for",
    "*=0",
  ]);
  signerOk(["bundle", "sign", bundle, "--token", TOKENS.root]);
  host = mkdtempSync(join(work, "host-"));
  const installed = runRole(VERIFIER_CLI, ["install-bundle", bundle, "--state", host]);
  expect(installed.status, installed.stderr).toBe(0);
  pamUser = createThrowawayUser("agtp");
  fixtures.push(pamUser);
  const pamExec = `auth required pam_exec.so expose_authtok quiet log=${join(work, "pam.log")} ${VERIFIER_EXECUTABLE} pam --state ${host} --host ${PAM_HOST}`;
  pamService = writePamService([pamExec, "account required pam_permit.so"]);
  fixtures.push(pamService);
}, 180_000);
afterAll(() => cleanUpSuite(fixtures, undefined, work));

describe("approvals by officers' own keys, counted by the host", () => {
  it("keeps approval keys off the issuer's token", () => {
    const r = signer(["approver", "enrol", "--name", "eve", "--token", TOKENS.issuer]);
    expect(r.stderr).toMatch(/^error: bad-input: token "ag-issuer" holds this home's issuer key/);
    expect(r.status).toBe(2);
  });

  it("exports the approvers and the policy in the signed bundle", () => {
    const bundle = JSON.parse(readFileSync(join(host, "bundle.json"), "utf8"));
    expect(bundle.signed.approvalPolicy).toEqual([
      { approvals: 1, target: PAM_HOST },
      { approvals: 2, target: "group:prod" },
      { approvals: 0, target: "*" },
    ]);
    const officers = bundle.signed.approvers.map((a: { officer: string }) => a.officer).sort();
    expect(officers).toEqual(["alice", "bob", "bob", "carol", "dave"]);
  });

  it("lets a grant with one approval, typed at a PAM password prompt, in once where the host needs one, and refuses it without", () => {
    const file = pendingGrant(1, pamUser.name, PAM_HOST);
    const unapproved = assemble(readPending(file));
    const approved = approve(file, "carol");
    expect(approved.status, approved.stderr).toBe(0);
    expect(approved.stderr).toMatch(/the grant is \d{3} characters: it fits a password prompt/);
    const grant = approved.stdout.trim();
    expect(grant.length).toBeLessThanOrEqual(511);
    const pam = (password: string) =>
      spawnSync("pamtester", [pamService.name, pamUser.name, "authenticate"], {
        input: `${password}\n`,
        encoding: "utf8",
        timeout: 20_000,
      }).status;
    expect(pam(unapproved)).not.toBe(0);
    expect(pam(grant)).toBe(0);
    expect(pam(grant)).not.toBe(0);
    const verdicts = entriesOf(join(host, "audit.log"), "grant-check")
      .filter((e) => e.user === pamUser.name)
      .map((e) => e.verdict);
    expect(verdicts).toEqual(["not-enough-approvals", "allowed", "grant-replayed"]);
  });

  it("records carol's key in the TPM's module and bob's in SoftHSM2's", () => {
    const { approvers } = signerOk(["approver", "list"]) as { approvers: { officer: string; modulePath: string }[] };
    const moduleOf = (officer: string) => approvers.find((a) => a.officer === officer)?.modulePath;
    expect(moduleOf("carol")).toBe(tpm.modulePath);
    expect(moduleOf("bob")).toMatch(/softhsm2\.so$/);
  });

  it("refuses a grant with one approval, and lets it in with two officers' on two modules once", () => {
    const file = pendingGrant();
    const first = approve(file, "bob");
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain("account:     alice");
    expect(first.stderr).toContain("approvals:   0 of 2: nobody yet");
    expect(first.stdout).toMatch(/1 of 2 approvals; pass .* to the next officer/);
    const one = check(assemble(readPending(file)));
    expect(one.stderr).toMatch(
      /^error: not-enough-approvals: grant has 1 approval\(s\) that count; host 'db1\.example' needs 2 \(approvalPolicy 'group:prod'\)/,
    );
    expect(one.status).toBe(1);
    const second = approve(file, "carol");
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain("approvals:   1 of 2: bob");
    expect(second.stderr).toMatch(
      /it has all 2 approvals; the grant is \d+ characters, more than the 511 a password prompt takes/,
    );
    const grant = second.stdout.trim();
    expect(grant).toMatch(/^AG1-/);
    expect(check(grant).status).toBe(0);
    expect(check(grant).stderr).toMatch(/^error: grant-replayed: /);
    const checks = entriesOf(join(host, "audit.log"), "grant-check").filter((e) => e.verdict === "allowed");
    expect(checks.at(-1)).toMatchObject({ approvers: [approvalKeys.bob, approvalKeys.carol], approvalsNeeded: 2 });
  });

  it("refuses a second approval by the same officer, the account's own, and one not allowed for the target, before signing", () => {
    const file = pendingGrant();
    expect(approve(file, "bob").status).toBe(0);
    const before = readFileSync(file);
    const again = signer(["approve", file, "--name", "bob", "--key-id", approvalKeys.bobSpare as string]);
    expect(again.stderr).toMatch(/^error: already-approved: officer bob already approved this grant/m);
    expect(again.status).toBe(1);
    const own = approve(file, ACCOUNT);
    expect(own.stderr).toMatch(/^error: self-approval: the grant is for account alice/m);
    const other = approve(file, "dave");
    expect(other.stderr).toMatch(
      /^error: officer-not-allowed: officer dave may approve grants for db9\.example, not group:prod/m,
    );
    expect(readFileSync(file)).toEqual(before);
  });

  it("ends a pending grant an officer denies", () => {
    const file = pendingGrant();
    const denied = signer(["deny", file, "--name", "carol", "--reason", "no change window today"]);
    expect(denied.stderr).toContain("approvals:   0 of 2: nobody yet");
    expect(denied.status, denied.stderr).toBe(0);
    const after = approve(file, "bob");
    expect(after.stderr).toMatch(
      /^error: pending-grant-closed: .* was denied by officer carol \(no change window today\)/m,
    );
    expect(after.status).toBe(1);
  });

  it("does not count two signatures of one officer's two keys, an officer not allowed for the target, or the account's own", () => {
    const file = readPending(pendingGrant());
    const body = new Uint8Array(Buffer.from(file.body, "base64"));
    const by = (officer: string, tokenLabel: string, keyLabel: string, keyId: string) => ({
      keyId,
      algorithm: "ecdsa-p256-sha256",
      officer,
      signature: signOnToken(tokenLabel, keyLabel, body),
    });
    const bob = by("bob", TOKENS.bob, "airgrant-approval", approvalKeys.bob as string);
    const bobSpare = by("bob", TOKENS.bob, "bob-spare", approvalKeys.bobSpare as string);
    const dave = by("dave", TOKENS.dave, "airgrant-approval", approvalKeys.dave as string);
    const alice = by(ACCOUNT, TOKENS.dave, "alice-approval", approvalKeys.alice as string);
    const carol = by("carol", CAROL_TOKEN, "airgrant-approval", approvalKeys.carol as string);
    const twice = check(assemble(file, [bob, bobSpare]));
    expect(twice.stderr).toMatch(
      /^error: not-enough-approvals: .*officer bob \(key [0-9a-f]{16}\) approved it already/,
    );
    const notAllowed = check(assemble(file, [bob, dave]));
    expect(notAllowed.stderr).toMatch(
      /^error: not-enough-approvals: .*officer dave \(key [0-9a-f]{16}\) may not approve group:prod/,
    );
    const ownAccess = check(assemble(file, [bob, alice]));
    expect(ownAccess.stderr).toMatch(
      /^error: not-enough-approvals: .*officer alice \(key [0-9a-f]{16}\) is the account it grants/,
    );
    expect(check(assemble(file, [dave, bob, carol])).status).toBe(0);
  });

  it("logs every step in the signer's log, which still verifies", () => {
    const log = join(home, "audit.log");
    expect(verifyAuditLog(log).ok).toBe(true);
    expect(entriesOf(log, "approver-enrolled").map((e) => e.officer)).toEqual(["bob", "bob", "carol", "dave", ACCOUNT]);
    const approved = entriesOf(log, "grant-approved");
    expect(approved.length).toBeGreaterThanOrEqual(3);
    expect(entriesOf(log, "grant-completed").map((e) => e.officers)).toEqual([["carol"], ["bob", "carol"]]);
    expect(entriesOf(log, "grant-denied")).toEqual([expect.objectContaining({ officer: "carol", approvals: 0 })]);
    const issued = entriesOf(log, "grant-issued");
    expect(issued.map((e) => e.approvalsNeeded ?? "none").sort()).toEqual([1, 2, 2, 2, 2]);
  });

  it("refuses a pending grant file changed by a byte", () => {
    const file = pendingGrant();
    const changed = join(work, "changed.json");
    copyFileSync(file, changed);
    const text = readFileSync(changed, "utf8");
    writeFileSync(changed, text.replace('"approvalsNeeded":2', '"approvalsNeeded": 2'));
    const r = approve(changed, "bob");
    expect(r.stderr).toMatch(/^error: malformed-pending-grant: /);
    expect(r.status).toBe(2);
  });

  it("reconciles a grant approved at two workstations, each logging its own step", () => {
    // Carol's workstation: a home of its own, where she enrols the key her TPM token already holds.
    const desk = join(work, "carol-desk");
    const module = ["--module", tpm.modulePath];
    const enrolled = signerOk(
      ["approver", "enrol", "--name", "carol", "--token", CAROL_TOKEN, "--targets", "*", ...module],
      "",
      desk,
    );
    expect(enrolled).toMatchObject({ keyId: approvalKeys.carol, generated: false });
    const file = pendingGrant();
    expect(approve(file, "bob").status).toBe(0);
    const second = signerOk(["approve", file, "--name", "carol"], "", desk) as { grantId: string; grant: string };
    const state = mkdtempSync(join(work, "host-"));
    const install = runRole(VERIFIER_CLI, ["install-bundle", join(host, "bundle.json"), "--state", state]);
    expect(install.status, install.stderr).toBe(0);
    expect(check(second.grant, ACCOUNT, state).status).toBe(0);

    const { grantId } = second;
    const reconcile = (...approverLogs: string[]) => {
      const args = ["reconcile", "--signer", join(home, "audit.log"), "--host", join(state, "audit.log"), "--json"];
      const r = runRole(AUDITOR_CLI, [...args, ...approverLogs.flatMap((l) => ["--approver-log", l])]);
      return { status: r.status, stderr: r.stderr, json: JSON.parse(r.stdout) };
    };
    const alone = reconcile();
    expect(alone.status).toBe(1);
    expect(alone.json.findings).toEqual([
      expect.objectContaining({
        code: "approval-unlogged",
        grantId,
        message: expect.stringContaining(`${approvalKeys.carol} (carol)`),
      }),
    ]);
    const both = reconcile(join(desk, "audit.log"));
    expect(both.stderr).toBe("");
    expect(both.status).toBe(0);
    const approved = both.json.approvedGrants.find((g: { grantId: string }) => g.grantId === grantId);
    expect(approved.approvals.map((a: { officer: string; log: string }) => [a.officer, a.log])).toEqual([
      ["bob", join(home, "audit.log")],
      ["carol", join(desk, "audit.log")],
    ]);
    expect(entriesOf(join(desk, "audit.log"), "grant-approved", "grant-completed").map((e) => e.grantId)).toEqual([
      grantId,
      grantId,
    ]);
  });
});

describe("an OpenSSH certificate that carries its grant's approvals, with a real sshd", () => {
  let sshd: SshdServer | undefined;
  let sshUser: Removable;
  let clientKey: string;
  let sessionLog: string;

  beforeAll(async () => {
    requireCommand("ssh", "openssh-client");
    requireCommand("ssh-keygen", "openssh-client");
    const caKeys = runRole(VERIFIER_CLI, ["ssh-ca-keys", "--state", host]);
    expect(caKeys.status, caKeys.stderr).toBe(0);
    const caKeysFile = join(work, "airgrant_ca_keys");
    writeFileSync(caKeysFile, caKeys.stdout);
    clientKey = join(work, "id_ed25519");
    const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey], { encoding: "utf8" });
    expect(keygen.status, keygen.stderr).toBe(0);
    sshUser = createThrowawayUser("agtc", "/bin/sh");
    fixtures.push(sshUser);
    sessionLog = join(work, "airgrant-ssh.log");
    const documented = { stateDir: host, caKeysFile, logFile: sessionLog, host: PROD_HOST };
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
      config: ["PasswordAuthentication no", "KbdInteractiveAuthentication no", ...documentedOpenSshConfig(documented)],
    });
  }, 60_000);
  afterAll(() => sshd?.stop(), 30_000);

  /** `certify` the pending grant for the client key, then log in with the certificate. */
  function certify(file: string): RoleRun {
    return signer(["certify", file, "--ssh-pubkey", `${clientKey}.pub`, "--cert-out", `${file}-cert.pub`]);
  }
  function ssh(certFile: string): RoleRun {
    const r = spawnSync(
      "ssh",
      [
        "-F",
        "/dev/null",
        "-p",
        String(sshd?.port),
        "-i",
        clientKey,
        "-o",
        `CertificateFile=${certFile}`,
        ...SSH_KEY_LOGIN_OPTIONS,
        `${sshUser.name}@127.0.0.1`,
        "echo hello",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }
  const sessionVerdicts = () =>
    entriesOf(join(host, "audit.log"), "grant-check")
      .filter((e) => e.user === sshUser.name)
      .map((e) => e.verdict);

  it("logs in once with the approvals of bob (SoftHSM2) and carol (TPM) where group:prod needs two", () => {
    const file = pendingGrant(2, sshUser.name);
    expect(approve(file, "bob").status).toBe(0);
    expect(certify(file).stderr).toMatch(/^error: pending-grant-incomplete: .* has 1 of the 2 approvals it needs/m);
    expect(approve(file, "carol").status).toBe(0);
    const certified = certify(file);
    expect(certified.status, certified.stderr).toBe(0);
    const cert = readFileSync(`${file}-cert.pub`, "utf8");
    const shown = spawnSync("ssh-keygen", ["-L", "-f", "-"], { input: cert, encoding: "utf8" });
    expect(shown.stdout).toMatch(/Extensions: [\s\S]*approvals@airgrant/);
    const first = ssh(`${file}-cert.pub`);
    expect(first.stdout, first.stderr).toBe("hello\n");
    expect(first.status).toBe(0);
    expect(ssh(`${file}-cert.pub`).status).not.toBe(0);
    expect(sessionVerdicts()).toEqual(["allowed", "grant-replayed"]);
    const log = join(home, "audit.log");
    const certifiedEntry = entriesOf(log, "grant-certified").at(-1) as { sshCertificate: { keyId: string } };
    expect(certifiedEntry.sshCertificate.keyId).toMatch(/^[0-9a-f]{32}@group:prod$/);
    expect(verifyAuditLog(log).ok).toBe(true);
  });

  it("refuses in ssh-session a certificate with one approval, from a workstation that lowered the count", () => {
    const file = pendingGrant(2, sshUser.name);
    // A signer that does not keep the rule: the pending file says one approval is enough.
    writeFileSync(file, readFileSync(file, "utf8").replace('"approvalsNeeded":2', '"approvalsNeeded":1'));
    expect(approve(file, "bob").status).toBe(0);
    expect(certify(file).status).toBe(0);
    const refused = ssh(`${file}-cert.pub`);
    expect(refused.stdout).toBe("");
    expect(refused.status).not.toBe(0);
    expect(sessionVerdicts().at(-1)).toBe("not-enough-approvals");
    expect(readFileSync(sessionLog, "utf8")).toMatch(
      /not-enough-approvals: .* has 1 approval\(s\) that count; host 'db1\.example' needs 2/,
    );
  });
});
