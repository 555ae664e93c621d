// End to end through the real PAM stack: a service file in /etc/pam.d that
// runs `airgrant-verifier pam` through pam_exec.so expose_authtok, pamtester
// as the application, a throwaway account, and grants signed on a real
// SoftHSM2 token. Needs root and pamtester (CI has both, see .ci/run): it
// fails, never skips, without them.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditLog } from "@airgrant/core";
import { VERIFIER_CLI as CLI, VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedPamLines,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  writePamService,
} from "@airgrant/testkit/system";
import { openSoftHsmIssuers, type SoftHsmIssuers, type TokenIssuer, trustBundleFor } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "pam-e2e.example";
const RHOST = "192.0.2.44";
const TTY = "pts/7";

/** The pam_exec line of docs/pam.md, running this checkout's installed command on a scratch state directory. */
function pamExecLine(control: string, stateDir: string, logFile: string): string {
  return `auth ${control} pam_exec.so expose_authtok quiet log=${logFile} ${VERIFIER_EXECUTABLE} pam --state ${stateDir} --host ${HOST}`;
}

interface PamResult {
  status: number | null;
  output: string;
  ms: number;
}

const timings: number[] = [];

/** pamtester reads the password with one read() from a non-terminal stdin and drops a final newline. */
function pamtester(service: string, user: string, password: string): PamResult {
  const started = performance.now();
  const r = spawnSync("pamtester", ["-I", `rhost=${RHOST}`, "-I", `tty=${TTY}`, service, user, "authenticate"], {
    input: `${password}\n`,
    encoding: "utf8",
    timeout: 20_000,
  });
  const ms = performance.now() - started;
  timings.push(ms);
  return { status: r.status, output: `${r.stdout}${r.stderr}`, ms };
}

/** The same, without waiting: for logins at the same moment. */
function pamtesterAsync(service: string, user: string, password: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn("pamtester", ["-I", `rhost=${RHOST}`, "-I", `tty=${TTY}`, service, user, "authenticate"], {
      stdio: ["pipe", "ignore", "ignore"],
      timeout: 20_000,
    });
    child.on("error", reject);
    child.on("close", resolve);
    child.stdin.end(`${password}\n`);
  });
}

let work: string;
let token: SoftHsmIssuers | undefined;
let issuer: TokenIssuer;
let coSigner: TokenIssuer;
let stateDir: string;
let pamLog: string;
const fixtures: Removable[] = [];
let service: Removable;
let user: Removable;

function lastLogLine(): string {
  return readFileSync(pamLog, "utf8").trimEnd().split("\n").at(-1) ?? "";
}

function installBundle(dir: string): void {
  const bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, trustBundleFor([issuer, coSigner]));
  const r = spawnSync(process.execPath, [CLI, "install-bundle", bundleFile, "--state", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`install-bundle failed: ${r.stderr}`);
}

beforeAll(() => {
  requireRoot("test/pam.test.ts");
  requireCommand("pamtester", "pamtester");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-pam-"));
  token = openSoftHsmIssuers(["ecdsa-p256", "ed25519"]);
  [issuer, coSigner] = token.issuers as [TokenIssuer, TokenIssuer];
  stateDir = join(work, "state");
  pamLog = join(work, "pam.log");
  installBundle(stateDir);
  user = createThrowawayUser("agpam");
  fixtures.push(user);
  service = writePamService([pamExecLine("required", stateDir, pamLog), "account required pam_permit.so"]);
  fixtures.push(service);
});

afterAll(() => {
  if (timings.length > 0) {
    const sorted = [...timings].sort((a, b) => a - b);
    console.info(
      `pamtester logins: ${timings.length}, median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms`,
    );
  }
  cleanUpSuite(fixtures, token, work);
});

describe("PAM: pam_exec.so expose_authtok running airgrant-verifier pam", () => {
  let firstGrant: string;

  it("lets the user in once with a grant", () => {
    firstGrant = issuer.mint({ principal: user.name, target: { kind: "host", name: HOST } }).text;
    const r = pamtester(service.name, user.name, firstGrant);
    expect(r.output).toContain("successfully authenticated");
    expect(r.status).toBe(0);
    expect(lastLogLine()).toMatch(new RegExp(`^allowed: grant [0-9a-f]{32} lets '${user.name}' in on '${HOST}'`));
  });

  it("refuses the same grant again", () => {
    const r = pamtester(service.name, user.name, firstGrant);
    expect(r.status).not.toBe(0);
    expect(r.output).not.toContain("successfully authenticated");
    expect(lastLogLine()).toMatch(/^error: grant-replayed: /);
  });

  it("refuses another user's grant", () => {
    const other = issuer.mint({ principal: "someone-else", target: { kind: "host", name: HOST } }).text;
    const r = pamtester(service.name, user.name, other);
    expect(r.status).not.toBe(0);
    expect(lastLogLine()).toMatch(/^error: wrong-user: /);
  });

  it("refuses an expired grant", () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = issuer.mint(
      { principal: user.name, target: { kind: "host", name: HOST }, notBefore: now - 7200, notAfter: now - 3600 },
      now,
    ).text;
    const r = pamtester(service.name, user.name, expired);
    expect(r.status).not.toBe(0);
    expect(lastLogLine()).toMatch(/^error: grant-expired: /);
  });

  it("refuses garbage", () => {
    const r = pamtester(service.name, user.name, "correct horse battery staple");
    expect(r.status).not.toBe(0);
    expect(lastLogLine()).toMatch(/^error: malformed-grant: /);
  });

  it("lets a grant typed in lower case, with its dashes or others, in", () => {
    const grant = coSigner.mint({ principal: user.name, target: { kind: "host", name: HOST } }).text;
    expect(grant).toMatch(/^AG1-[0-9A-Z]+(-[0-9A-Z]+)+$/);
    const r = pamtester(service.name, user.name, grant.toLowerCase());
    expect(r.status).toBe(0);
    expect(r.output).toContain("successfully authenticated");
    // Dashes where a person put them, not where the signer did.
    const regrouped = issuer
      .mint({ principal: user.name, target: { kind: "host", name: HOST } })
      .text.replaceAll("-", "")
      .toLowerCase()
      .replace(/(.{5})/g, "$1-");
    expect(pamtester(service.name, user.name, regrouped).status).toBe(0);
  });

  it("refuses a grant longer than PAM lets a password be, and says so", () => {
    // Two officers' signatures and a long force-command: over PAM's 511 bytes.
    const long = issuer.mintCoSigned(
      { principal: user.name, target: { kind: "host", name: HOST }, forceCommand: "/usr/bin/true ".repeat(9) },
      [coSigner],
    ).text;
    expect(long.length).toBeGreaterThan(511);
    const r = pamtester(service.name, user.name, long);
    expect(r.status).not.toBe(0);
    expect(lastLogLine()).toContain("PAM passed 511 bytes, its limit for a password");
  });

  it("records every attempt in the host audit log with the PAM service, remote host and tty", () => {
    const log = join(stateDir, "audit.log");
    expect(verifyAuditLog(log)).toMatchObject({ ok: true });
    const checks = readFileSync(log, "utf8")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line))
      .filter((entry) => entry.type === "grant-check")
      .map((entry) => entry.data);
    const verdicts = checks.map((d) => d.verdict);
    expect(verdicts.slice(0, 7)).toEqual([
      "allowed",
      "grant-replayed",
      "wrong-user",
      "grant-expired",
      "malformed-grant",
      "allowed",
      "allowed",
    ]);
    // Where the cut falls decides which: mid-group is a checksum error, between groups a bad length.
    expect(["bad-checksum", "malformed-grant"]).toContain(verdicts[7]);
    expect(verdicts).toHaveLength(8);
    for (const data of checks) {
      expect(data).toMatchObject({
        user: user.name,
        host: HOST,
        pamService: service.name,
        pamRhost: RHOST,
        pamTty: TTY,
        remoteAddress: RHOST,
      });
    }
  });

  it("lets exactly one of eight simultaneous logins with one grant in", async () => {
    const grant = issuer.mint({ principal: user.name, target: { kind: "host", name: HOST } }).text;
    const statuses = await Promise.all(Array.from({ length: 8 }, () => pamtesterAsync(service.name, user.name, grant)));
    expect(statuses.filter((s) => s === 0)).toHaveLength(1);
    const tail = readFileSync(join(stateDir, "audit.log"), "utf8").trimEnd().split("\n").slice(-8);
    const verdicts = tail.map((line) => JSON.parse(line).data.verdict).sort();
    expect(verdicts).toEqual(["allowed", ...Array(7).fill("grant-replayed")]);
  });

  it("fails closed with one clear line when the audit log cannot be written", () => {
    const dir = join(work, "unwritable-state");
    installBundle(dir);
    // Root writes through permissions: a directory where the log should be makes every append fail.
    rmSync(join(dir, "audit.log"));
    mkdirSync(join(dir, "audit.log"));
    const log = join(work, "unwritable.log");
    const broken = writePamService([pamExecLine("required", dir, log), "account required pam_permit.so"]);
    fixtures.push(broken);
    const grant = issuer.mint({ principal: user.name, target: { kind: "host", name: HOST } }).text;
    const r = pamtester(broken.name, user.name, grant);
    expect(r.status).not.toBe(0);
    const lines = readFileSync(log, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^error: audit-unwritable: /);
  });

  it("fails closed with one clear line when the state directory is missing", () => {
    const missing = join(work, "no-state");
    const log = join(work, "missing.log");
    const broken = writePamService([pamExecLine("required", missing, log), "account required pam_permit.so"]);
    fixtures.push(broken);
    const r = pamtester(
      broken.name,
      user.name,
      issuer.mint({ principal: user.name, target: { kind: "host", name: HOST } }).text,
    );
    expect(r.status).not.toBe(0);
    const lines = readFileSync(log, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(2); // pam_exec's "*** <date>" and ours
    expect(lines[1]).toMatch(/^error: no-bundle: no trust bundle installed in \S*no-state/);
  });
});

describe.each(["sshd", "login", "sudo"] as const)(
  "PAM: the /etc/pam.d/%s lines of docs/pam.md, with a break-glass account",
  (file) => {
    let docState: string;
    let docService: Removable;
    let breakGlass: Removable;
    const breakGlassPassword = randomBytes(12).toString("base64url");

    function grantChecks(): number {
      return readFileSync(join(docState, "audit.log"), "utf8")
        .split("\n")
        .filter((l) => l.includes('"grant-check"')).length;
    }

    beforeAll(() => {
      docState = join(work, `doc-state-${file}`);
      installBundle(docState);
      breakGlass = createThrowawayUser("agbg");
      fixtures.push(breakGlass);
      execFileSync("chpasswd", { input: `${breakGlass.name}:${breakGlassPassword}\n` });
      docService = writePamService([
        ...documentedPamLines(file, {
          stateDir: docState,
          logFile: join(work, `doc-${file}.log`),
          breakGlassUser: breakGlass.name,
          host: HOST,
        }),
        "account required pam_permit.so",
      ]);
      fixtures.push(docService);
    });

    it("lets the break-glass account in with its password, which never reaches airgrant", () => {
      const r = pamtester(docService.name, breakGlass.name, breakGlassPassword);
      expect(r.output).toContain("successfully authenticated");
      expect(r.status).toBe(0);
      expect(grantChecks()).toBe(0);
    });

    it("lets a grant in and refuses a password for an account outside the break-glass list", () => {
      const grant = issuer.mint({ principal: user.name, target: { kind: "host", name: HOST } }).text;
      expect(pamtester(docService.name, user.name, grant).status).toBe(0);
      execFileSync("chpasswd", { input: `${user.name}:${breakGlassPassword}\n` });
      const r = pamtester(docService.name, user.name, breakGlassPassword);
      expect(r.status).not.toBe(0);
      expect(r.output).not.toContain("successfully authenticated");
      expect(grantChecks()).toBe(2);
    });
  },
);
