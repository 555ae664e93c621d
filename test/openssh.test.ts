// End to end with a real sshd and the real ssh client: OpenSSH user
// certificates for grants, signed on a real SoftHSM2 token, checked by sshd
// against TrustedUserCAKeys and then, in one verifier start, by
// `airgrant-verifier ssh-session` (pam_exec in sshd's session stack), which
// applies every airgrant rule and takes the use, with the sshd_config and PAM
// lines of docs/openssh.md.
// Needs root, sshd and ssh (CI has them, see .ci/run): it fails, never
// skips, without them.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MIN_TRUST_VERSION_EXTENSION, sshIssuerKeyLine, verifyAuditLog } from "@airgrant/core";
import { VERIFIER_CLI as CLI, childRun, type RoleRun } from "@airgrant/testkit";
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
import {
  type MintedSshCertificate,
  mintSshCertificate,
  openSoftHsmIssuers,
  type SoftHsmIssuers,
  type SshCertificateRequest,
  type TokenIssuer,
  trustBundleFor,
} from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "ssh-e2e.example";
const WORK_PREFIX = "airgrant-e2e-ssh-";
/** The bundle's groups: this host is in `edge`, not in `dbs`. */
const GROUPS = { dbs: ["db1.example", "db2.example"], edge: [HOST] };

let work: string;
let token: SoftHsmIssuers | undefined;
let issuer: TokenIssuer;
let edIssuer: TokenIssuer;
/** Its key is in TrustedUserCAKeys (a stale line) but not in the bundle. */
let staleIssuer: TokenIssuer;
/** Trusted by nobody. */
let strangerIssuer: TokenIssuer;
let stateDir: string;
let sessionLog: string;
let sshd: SshdServer | undefined;
let user: Removable;
let publicKeyLine: string;
let clientKey: string;
/** In the test's authorized_keys: a login that is not made with an airgrant certificate. */
let plainKey: string;
const fixtures: Removable[] = [];
const timings: number[] = [];
/** How the losers of the simultaneous logins were stopped: ssh exit status → count. */
const raceStatuses = new Map<string, number>();

interface SshResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** With a certificate for the airgrant key, or (certFile undefined) with the plain key alone. */
function sshArgs(certFile: string | undefined, login: string, command: string, options: string[] = []): string[] {
  return [
    ...options,
    "-F",
    "/dev/null",
    "-p",
    String(sshd?.port),
    "-i",
    certFile === undefined ? plainKey : clientKey,
    ...(certFile === undefined ? [] : ["-o", `CertificateFile=${certFile}`]),
    ...SSH_KEY_LOGIN_OPTIONS,
    `${login}@127.0.0.1`,
    command,
  ];
}

let certCount = 0;
function writeCert(cert: MintedSshCertificate): string {
  const file = join(work, `cert-${++certCount}.pub`);
  writeFileSync(file, `${cert.line}\n`);
  return file;
}

function ssh(cert: MintedSshCertificate, login = user.name, command = "echo hello", options: string[] = []): SshResult {
  const started = performance.now();
  const r = spawnSync("ssh", sshArgs(writeCert(cert), login, command, options), {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 30_000,
  });
  const ms = performance.now() - started;
  timings.push(ms);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms };
}

function sshAsync(certFile: string): Promise<RoleRun> {
  return childRun(
    spawn("ssh", sshArgs(certFile, user.name, "echo hello"), { stdio: ["ignore", "pipe", "ignore"], timeout: 30_000 }),
  );
}

function mint(request: Partial<SshCertificateRequest> = {}, by: TokenIssuer = issuer): MintedSshCertificate {
  return mintSshCertificate(by, { publicKeyLine, principals: [user.name], target: HOST, ...request });
}

interface Entry {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

function auditEntries(): Entry[] {
  return readFileSync(join(stateDir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Entry);
}

function entriesFor(grantId: string, type?: string): Entry[] {
  return auditEntries().filter((e) => e.data.grantId === grantId && (type === undefined || e.type === type));
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
}

/** Work directories of crashed earlier runs (named with their pid). */
function removeStaleWorkDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const match = new RegExp(`^${WORK_PREFIX}(\\d+)-`).exec(name);
    if (match === null) continue;
    let alive = true;
    try {
      process.kill(Number(match[1]), 0);
    } catch (err) {
      alive = (err as NodeJS.ErrnoException).code === "EPERM";
    }
    if (!alive) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

beforeAll(async () => {
  requireRoot("test/openssh.test.ts");
  if (!existsSync("/usr/sbin/sshd")) {
    throw new Error("/usr/sbin/sshd is not installed: apt-get install -y openssh-server (.ci/run does)");
  }
  requireCommand("ssh", "openssh-client");
  requireCommand("ssh-keygen", "openssh-client");
  removeStaleFixtures();
  removeStaleWorkDirs();
  work = mkdtempSync(join(tmpdir(), `${WORK_PREFIX}${process.pid}-`));
  token = openSoftHsmIssuers(["ecdsa-p256", "ed25519", "ecdsa-p256", "ed25519"]);
  [issuer, edIssuer, staleIssuer, strangerIssuer] = token.issuers as [
    TokenIssuer,
    TokenIssuer,
    TokenIssuer,
    TokenIssuer,
  ];
  stateDir = join(work, "state");
  sessionLog = join(work, "airgrant-ssh.log");
  const bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, trustBundleFor([issuer, edIssuer], undefined, { groups: GROUPS }));
  const installed = cli(["install-bundle", bundleFile, "--state", stateDir]);
  if (installed.status !== 0) throw new Error(`install-bundle failed: ${installed.stderr}`);

  const caKeys = cli(["ssh-ca-keys", "--state", stateDir]);
  if (caKeys.status !== 0) throw new Error(`ssh-ca-keys failed: ${caKeys.stderr}`);
  // What `airgrant-verifier ssh-ca-keys` printed, plus one key the bundle no
  // longer trusts, as a TrustedUserCAKeys file not updated after a bundle
  // change would hold: sshd accepts its certificates, the session line must refuse them.
  writeFileSync(
    join(work, "airgrant_ca_keys"),
    `${caKeys.stdout}${sshIssuerKeyLine(staleIssuer.algorithm, staleIssuer.spki, "stale-issuer")}\n`,
  );

  clientKey = join(work, "id_ed25519");
  const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey], { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  publicKeyLine = readFileSync(`${clientKey}.pub`, "utf8");
  plainKey = join(work, "id_plain");
  const plainKeygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", plainKey], { encoding: "utf8" });
  if (plainKeygen.status !== 0) throw new Error(`ssh-keygen failed: ${plainKeygen.stderr}`);
  writeFileSync(join(work, "authorized_keys"), readFileSync(`${plainKey}.pub`));
  // sshd reads authorized_keys as the user: let it through the scratch directory (not list it).
  chmodSync(work, 0o711);

  user = createThrowawayUser("agssh", "/bin/sh");
  fixtures.push(user);
  const documented = { stateDir, caKeysFile: join(work, "airgrant_ca_keys"), logFile: sessionLog, host: HOST };
  const service = writePamService([
    "auth required pam_deny.so",
    "account required pam_permit.so",
    // First in the session section, before anything that may change the PAM environment.
    documentedOpenSshSessionLine(documented),
    "session required pam_permit.so",
  ]);
  fixtures.push(service);
  sshd = await startSshd({
    dir: join(work, "sshd"),
    pamService: service.name,
    // The documented lines last: they end in a Match block.
    config: [
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      // A plain key for the login that is not airgrant's business; StrictModes
      // no only because that file lives under /tmp, which is not root-only.
      `AuthorizedKeysFile ${join(work, "authorized_keys")}`,
      "StrictModes no",
      "LogLevel VERBOSE",
      "MaxStartups 40:30:100",
      ...documentedOpenSshConfig(documented),
    ],
  });
}, 60_000);

afterAll(async () => {
  if (timings.length > 0) {
    const sorted = [...timings].sort((a, b) => a - b);
    console.info(
      `ssh logins: ${timings.length}, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`,
    );
  }
  if (raceStatuses.size > 0)
    console.info(`simultaneous logins by ssh exit status: ${JSON.stringify(Object.fromEntries(raceStatuses))}`);
  try {
    await sshd?.stop();
  } finally {
    cleanUpSuite(fixtures, token, work);
  }
}, 30_000);

describe("OpenSSH certificates: sshd checks the CA, ssh-session every airgrant rule and the use", () => {
  it("prints one TrustedUserCAKeys line per bundle issuer, naming its key id", () => {
    const r = cli(["ssh-ca-keys", "--state", stateDir]);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    // In the bundle's order of issuers (sorted by key id).
    for (const by of [issuer, edIssuer]) {
      const [type, base64] = sshIssuerKeyLine(by.algorithm, by.spki).split(" ");
      expect(lines).toContain(`${type} ${base64} airgrant-issuer-${Buffer.from(by.keyId).toString("hex")}`);
    }
  });

  let first: MintedSshCertificate;

  it("lets the user in once: the first login runs its command", () => {
    first = mint();
    const r = ssh(first);
    expect(r.stderr).not.toContain("Permission denied");
    expect(r.stdout).toBe("hello\n");
    expect(r.status).toBe(0);
    // One verifier start for the login: one entry, the use.
    const uses = entriesFor(first.grantId);
    expect(uses).toHaveLength(1);
    expect(uses[0]?.data).toMatchObject({
      verdict: "allowed",
      via: "ssh-certificate",
      use: 1,
      user: user.name,
      host: HOST,
      sshSerial: first.serial.toString(),
      pamRhost: "127.0.0.1",
    });
    expect(readFileSync(sessionLog, "utf8")).toMatch(new RegExp(`allowed: certificate for grant ${first.grantId}`));
  });

  /** A login sshd authenticated whose session the verifier refused: sshd runs nothing, ssh exits 254. */
  function refusedAtSession(r: SshResult): void {
    expect(r.stdout).toBe("");
    expect(r.status, r.stderr).toBe(254);
  }

  it("refuses a second login with the same certificate: the session does not open", () => {
    refusedAtSession(ssh(first));
    expect(entriesFor(first.grantId).map((e) => e.data.verdict)).toEqual(["allowed", "grant-replayed"]);
  });

  it("lets exactly one of several simultaneous logins with one certificate in, every time", async () => {
    for (let round = 0; round < 4; round++) {
      const cert = mint({}, round % 2 === 0 ? issuer : edIssuer);
      const file = writeCert(cert);
      const results = await Promise.all(Array.from({ length: 6 }, () => sshAsync(file)));
      for (const r of results) raceStatuses.set(String(r.status), (raceStatuses.get(String(r.status)) ?? 0) + 1);
      const inside = results.filter((r) => r.status === 0 && r.stdout === "hello\n");
      expect(inside, `round ${round}: ${JSON.stringify(results)}`).toHaveLength(1);
      // Nobody else ran the command: their sessions would not open (254: sshd runs nothing).
      expect(results.filter((r) => r.stdout !== "")).toHaveLength(1);
      expect(results.filter((r) => r.status !== 0).every((r) => r.status === 254)).toBe(true);
      const uses = entriesFor(cert.grantId, "grant-check");
      expect(uses.filter((e) => e.data.verdict === "allowed")).toHaveLength(1);
      expect(uses.filter((e) => e.data.verdict !== "allowed").every((e) => e.data.verdict === "grant-replayed")).toBe(
        true,
      );
    }
  }, 120_000);

  it("lets a grant for two uses in twice, and not a third time", () => {
    const cert = mint({ maxUses: 2 });
    expect(ssh(cert).stdout).toBe("hello\n");
    expect(ssh(cert).stdout).toBe("hello\n");
    refusedAtSession(ssh(cert));
    expect(entriesFor(cert.grantId).map((e) => e.data.use)).toEqual([1, 2, undefined]);
  });

  it("lets sshd enforce the certificate's force-command and source-address; a refused address takes no use", () => {
    const forced = mint({ criticalOptions: { "force-command": "echo forced" } });
    expect(ssh(forced, user.name, "echo asked").stdout).toBe("forced\n");
    const elsewhere = mint({ criticalOptions: { "source-address": "192.0.2.0/24" } });
    const r = ssh(elsewhere);
    expect(r.status).toBe(255);
    expect(r.stderr).toContain("Permission denied");
    // sshd refused it at authentication: the verifier never ran.
    expect(entriesFor(elsewhere.grantId)).toHaveLength(0);
  });

  it("holds a certificate to its grant's target: another host or a group without this host is refused", () => {
    for (const target of ["db1.example", "group:dbs"]) {
      const cert = mint({ target });
      refusedAtSession(ssh(cert));
      const entries = entriesFor(cert.grantId);
      expect(entries).toHaveLength(1);
      expect(entries[0]?.data).toMatchObject({ verdict: "wrong-host", target });
      expect(entries[0]?.data.use).toBeUndefined();
    }
    const group = mint({ target: "group:edge" });
    expect(ssh(group).stdout).toBe("hello\n");
    expect(entriesFor(group.grantId, "grant-check").at(-1)?.data).toMatchObject({
      verdict: "allowed",
      target: "group:edge",
      via: "ssh-certificate",
    });
  });

  it("refuses a certificate whose key id names no target, and one that gives a right no grant gives", () => {
    const untargeted = mint();
    const bare = mint({ grantId: untargeted.grantId, keyId: untargeted.grantId });
    const forwarding = mint({ extensions: { "permit-port-forwarding": "", "permit-pty": "" } });
    for (const cert of [bare, forwarding]) {
      refusedAtSession(ssh(cert));
      expect(auditEntries().at(-1)?.data.verdict).toBe("malformed-certificate");
    }
  });

  it("lets sshd take a certificate needing a trust version, and refuses its session on a host that lacks it", () => {
    const needs = mint({ extensions: { [MIN_TRUST_VERSION_EXTENSION]: "1", "permit-pty": "" } });
    refusedAtSession(ssh(needs));
    // sshd accepted it (the extension is one it ignores): the verifier read the extension and refused.
    expect(entriesFor(needs.grantId).map((e) => e.data.verdict)).toEqual(["trust-version-required"]);
  });

  it("gives a certificate's login no forwarding", () => {
    const r = ssh(mint(), user.name, "echo hello", ["-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:9"]);
    expect(r.stderr).toMatch(/remote port forwarding failed/);
    expect(r.stdout).toBe("");
  });

  // sshd checks the window and the principal itself: these never reach the verifier.
  it("refuses an expired certificate and one for another user at authentication", () => {
    const now = Math.floor(Date.now() / 1000);
    for (const cert of [
      mint({ validAfter: now - 7200, validBefore: now - 3600 }),
      mint({ principals: ["someone-else"] }),
    ]) {
      const r = ssh(cert);
      expect(r.status).toBe(255);
      expect(r.stderr).toContain("Permission denied");
      expect(entriesFor(cert.grantId)).toHaveLength(0);
    }
  });

  it("refuses a certificate with the user among other principals, which sshd would take", () => {
    const cert = mint({ principals: [user.name, "root"] });
    refusedAtSession(ssh(cert));
    expect(entriesFor(cert.grantId).at(-1)?.data.verdict).toBe("wrong-user");
  });

  it("refuses a certificate from a CA nobody trusts (sshd refuses it before asking)", () => {
    const cert = mint({}, strangerIssuer);
    const r = ssh(cert);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Permission denied");
  });

  it("refuses a certificate from a CA left in TrustedUserCAKeys but not in the bundle", () => {
    const cert = mint({}, staleIssuer);
    refusedAtSession(ssh(cert));
    expect(auditEntries().at(-1)?.data).toMatchObject({ verdict: "unknown-issuer", user: user.name });
  });

  it("refuses a revoked grant after the new bundle is installed", () => {
    const cert = mint();
    const bundleFile = join(work, "bundle-revoking.json");
    writeFileSync(bundleFile, trustBundleFor([issuer, edIssuer], undefined, { revokedGrants: [cert.grantId] }));
    expect(cli(["install-bundle", bundleFile, "--state", stateDir]).status).toBe(0);
    refusedAtSession(ssh(cert));
    expect(entriesFor(cert.grantId).at(-1)?.data.verdict).toBe("grant-revoked");
  });

  it("leaves a login with a plain authorized key to the rest of the stack, and logs nothing for it", () => {
    const before = auditEntries().length;
    const r = spawnSync("ssh", sshArgs(undefined, user.name, "echo plain"), {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
    expect(r.stdout, r.stderr).toBe("plain\n");
    expect(r.status).toBe(0);
    expect(auditEntries()).toHaveLength(before);
    expect(readFileSync(sessionLog, "utf8")).toMatch(/not-airgrant: not a login with a certificate/);
  });

  it("logs every attempt, never the certificate, and the host log verifies", () => {
    const text = readFileSync(join(stateDir, "audit.log"), "utf8");
    expect(text).not.toContain(Buffer.from(first.blob).toString("base64").slice(0, 60));
    expect(verifyAuditLog(join(stateDir, "audit.log"))).toMatchObject({ ok: true });
    const types = new Set(auditEntries().map((e) => e.type));
    expect(types).toEqual(new Set(["log-opened", "bundle-installed", "grant-check"]));
    expect(readFileSync(sshd?.logFile ?? "", "utf8")).toContain("Accepted publickey");
  });
});
