// The grant typed at a real sshd's password prompt: sshd on 127.0.0.1 with
// the sshd_config and /etc/pam.d/sshd lines of docs/pam.md (read from the
// document), the real ssh client answering the keyboard-interactive prompt,
// grants signed on a SoftHSM2 token. Needs root and openssh-server (CI has
// both): fails, never skips, without them.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditLog } from "@airgrant/core";
import { VERIFIER_BUNDLE } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedPamLines,
  documentedSshdConfig,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  type SshdServer,
  sshWithPromptAnswer,
  startSshd,
  writePamService,
} from "@airgrant/testkit/system";
import { openSoftHsmIssuers, type SoftHsmIssuers, type TokenIssuer, trustBundleFor } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "pam-sshd-e2e.example";

let work: string;
let token: SoftHsmIssuers | undefined;
let issuer: TokenIssuer;
let stateDir: string;
let sshd: SshdServer | undefined;
let service: Removable;
let engineer: Removable;
let breakGlass: Removable;
const fixtures: Removable[] = [];
const breakGlassPassword = randomBytes(12).toString("base64url");

function login(user: string, answer: string, method?: "password", options?: string[]) {
  if (sshd === undefined) throw new Error("sshd is not running");
  const command = "echo in-as-$(id -un)";
  return sshWithPromptAnswer({
    dir: work,
    port: sshd.port,
    user,
    answer,
    command,
    ...(method ? { method } : {}),
    ...(options ? { options } : {}),
  });
}

/** A remote forwarding the client must get or give up on: sshd answers it before the command runs. */
const REMOTE_FORWARD = ["-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:9"];

function grantChecks(): Record<string, unknown>[] {
  return readFileSync(join(stateDir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.type === "grant-check")
    .map((entry) => entry.data);
}

beforeAll(async () => {
  requireRoot("test/pam-sshd.test.ts");
  requireCommand("sshd", "openssh-server");
  requireCommand("ssh", "openssh-client");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-pam-sshd-"));
  token = openSoftHsmIssuers(["ecdsa-p256"]);
  [issuer] = token.issuers as [TokenIssuer];
  stateDir = join(work, "state");
  const bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, trustBundleFor([issuer]));
  const installed = spawnSync(process.execPath, [VERIFIER_BUNDLE, "install-bundle", bundleFile, "--state", stateDir], {
    encoding: "utf8",
  });
  if (installed.status !== 0) throw new Error(`install-bundle failed: ${installed.stderr}`);
  // Both need a shell to run the test's command; the engineer's password stays locked.
  engineer = createThrowawayUser("agssh", "/bin/sh");
  fixtures.push(engineer);
  breakGlass = createThrowawayUser("agbg", "/bin/sh");
  fixtures.push(breakGlass);
  execFileSync("chpasswd", { input: `${breakGlass.name}:${breakGlassPassword}\n` });
  service = writePamService([
    ...documentedPamLines("sshd", {
      stateDir,
      logFile: join(work, "pam.log"),
      breakGlassUser: breakGlass.name,
      host: HOST,
    }),
    "@include common-account",
    "session required pam_permit.so",
  ]);
  fixtures.push(service);
  sshd = await startSshd({
    dir: join(work, "sshd"),
    pamService: service.name,
    // The documented lines last: they end in a Match block.
    config: ["PasswordAuthentication yes", "PubkeyAuthentication no", ...documentedSshdConfig(breakGlass.name)],
  });
});

afterAll(async () => {
  try {
    await sshd?.stop();
  } finally {
    cleanUpSuite(fixtures, token, work);
  }
});

describe("PAM under a real sshd, configured as docs/pam.md says", () => {
  let grant: string;

  it("logs the engineer in with a grant typed at the password prompt and runs the command", () => {
    grant = issuer.mint({ principal: engineer.name, target: { kind: "host", name: HOST } }).text;
    const r = login(engineer.name, grant);
    expect(r.stderr).not.toMatch(/Permission denied/);
    expect(r.stdout.trim()).toBe(`in-as-${engineer.name}`);
    expect(r.status).toBe(0);
  });

  it("refuses the same grant again", () => {
    const r = login(engineer.name, grant);
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/Permission denied/);
    expect(r.stdout).toBe("");
  });

  it("refuses the engineer's grant typed in as the break-glass account, and a password as the engineer", () => {
    const other = issuer.mint({ principal: engineer.name, target: { kind: "host", name: HOST } }).text;
    expect(login(breakGlass.name, other).status).toBe(255);
    expect(login(engineer.name, breakGlassPassword).status).toBe(255);
  });

  it("takes the grant by password authentication too", () => {
    const byPassword = issuer.mint({ principal: engineer.name, target: { kind: "host", name: HOST } }).text;
    const r = login(engineer.name, byPassword, "password");
    expect(r.stdout.trim()).toBe(`in-as-${engineer.name}`);
    expect(r.status).toBe(0);
  });

  it("gives a grant's login no forwarding, as its certificate would get none", () => {
    const grantLogin = login(
      engineer.name,
      issuer.mint({ principal: engineer.name, target: { kind: "host", name: HOST } }).text,
      undefined,
      REMOTE_FORWARD,
    );
    expect(grantLogin.stderr).toMatch(/remote port forwarding failed/);
    expect(grantLogin.stdout).toBe("");
    expect(grantLogin.status).toBe(255);
    // The break-glass account is outside the Match block: the forwarding is sshd's, not the grant's, to refuse.
    const breakGlassLogin = login(breakGlass.name, breakGlassPassword, undefined, REMOTE_FORWARD);
    expect(breakGlassLogin.stdout.trim()).toBe(`in-as-${breakGlass.name}`);
  });

  it("refuses a grant with a forced command at the password prompt: nothing there can force it", () => {
    const forced = issuer.mint({
      principal: engineer.name,
      target: { kind: "host", name: HOST },
      forceCommand: "/usr/bin/true",
    }).text;
    const r = login(engineer.name, forced);
    expect(r.status).toBe(255);
    expect(r.stdout).toBe("");
    expect(grantChecks().at(-1)).toMatchObject({ verdict: "constraint-unenforceable", user: engineer.name });
  });

  it("lets the break-glass account in with its password", () => {
    const r = login(breakGlass.name, breakGlassPassword);
    expect(r.stdout.trim()).toBe(`in-as-${breakGlass.name}`);
    expect(r.status).toBe(0);
  });

  it("records the engineer's attempts, and none of the break-glass account's, with sshd's PAM items", () => {
    expect(verifyAuditLog(join(stateDir, "audit.log"))).toMatchObject({ ok: true });
    const checks = grantChecks();
    expect(checks.map((d) => d.verdict)).toEqual([
      "allowed",
      "grant-replayed",
      "malformed-grant",
      "allowed",
      "allowed",
      "constraint-unenforceable",
    ]);
    for (const data of checks) {
      expect(data).toMatchObject({
        user: engineer.name,
        pamService: service.name,
        pamRhost: "127.0.0.1",
        pamTty: "ssh",
        remoteAddress: "127.0.0.1",
      });
    }
  });
});
