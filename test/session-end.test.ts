// The session of a grant's login ends when the grant does: a real sshd with
// the PAM lines of docs/pam.md and docs/openssh.md (read from the documents),
// the real ssh client holding an interactive session open on a terminal,
// with a `setsid nohup sleep` and a detached tmux started to outlive it; grants and certificates
// of about 25 s signed on a SoftHSM2 token; the host's one watcher killed
// with -9 and started again by the next login. Needs root and openssh-server
// (CI has both): fails, never skips, without them.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditLog } from "@airgrant/core";
import { VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedOpenSshSessionLine,
  documentedPamLines,
  documentedSessionLines,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  SSH_KEY_LOGIN_OPTIONS,
  type SshdServer,
  spawnSshWithPromptAnswer,
  startSshd,
  writePamService,
} from "@airgrant/testkit/system";
import {
  mintSshCertificate,
  openSoftHsmIssuers,
  type SoftHsmIssuers,
  type TokenIssuer,
  trustBundleFor,
} from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "session-end-e2e.example";
/** The grants' access: long enough to log in and look around, short enough for a test. */
const ACCESS_SECONDS = 25;
/** The session line's --warn-before in this test (300 s on a host). */
const WARN_BEFORE = 8;
/** How late after its access end a session may still be running: the watcher looks every second, SIGTERM gets a second. */
const END_TOLERANCE_SECONDS = 6;

let work: string;
let token: SoftHsmIssuers | undefined;
let issuer: TokenIssuer;
let stateDir: string;
let sshd: SshdServer | undefined;
let engineer: Removable;
let clientKey: string;
let publicKeyLine: string;
const fixtures: Removable[] = [];
const running: ChildProcess[] = [];

interface Entry {
  seq: number;
  time: string;
  type: string;
  data: Record<string, unknown>;
}

function entries(): Entry[] {
  return readFileSync(join(stateDir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Entry);
}

function verifier(args: string[]) {
  return spawnSync(VERIFIER_EXECUTABLE, [...args, "--state", stateDir], { encoding: "utf8" });
}

/** The processes whose command line is exactly `argv`, with their audit session id. */
function processesRunning(argv: string[]): Array<{ pid: number; session: string }> {
  const wanted = `${argv.join("\0")}\0`;
  const found: Array<{ pid: number; session: string }> = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8") !== wanted) continue;
      const state = readFileSync(`/proc/${name}/stat`, "utf8").split(") ")[1]?.[0];
      if (state === "Z") continue;
      found.push({ pid: Number(name), session: readFileSync(`/proc/${name}/sessionid`, "utf8").trim() });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/**
 * What the held-open session runs on its terminal: a child that leaves the
 * session's process group and terminal (setsid nohup), a detached tmux
 * session running `sleep marker+10` (a server of this login's own: one
 * started by another login would be that login's), then a shell that waits. `marker` tells
 * this login's escapees apart.
 */
function heldSession(marker: number): string {
  return `setsid nohup sleep ${marker} >/dev/null 2>&1 </dev/null & tmux -L login-${marker} new-session -d 'exec sleep ${marker + 10}'; echo ready; exec sleep 600`;
}

interface HeldLogin {
  child: ChildProcess;
  output: () => string;
  ready: Promise<void>;
  exited: Promise<{ status: number | null; at: number }>;
}

function hold(child: ChildProcess): HeldLogin {
  running.push(child);
  let output = "";
  let readyResolve: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    readyResolve = resolve;
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    if (output.includes("ready")) readyResolve();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ status: number | null; at: number }>((resolve) =>
    child.on("close", (status) => resolve({ status, at: Date.now() / 1000 })),
  );
  return { child, output: () => output, ready, exited };
}

function holdCertificateLogin(marker: number, accessEndsAt: number): HeldLogin {
  const cert = mintSshCertificate(issuer, {
    publicKeyLine,
    principals: [engineer.name],
    target: HOST,
    validBefore: accessEndsAt,
  });
  const certFile = join(work, `cert-${marker}.pub`);
  writeFileSync(certFile, `${cert.line}\n`);
  return hold(
    spawn(
      "ssh",
      [
        "-tt",
        "-F",
        "/dev/null",
        "-p",
        String(sshd?.port),
        "-i",
        clientKey,
        "-o",
        `CertificateFile=${certFile}`,
        ...SSH_KEY_LOGIN_OPTIONS,
        `${engineer.name}@127.0.0.1`,
        heldSession(marker),
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    ),
  );
}

function holdPasswordLogin(marker: number, accessEndsAt: number): HeldLogin {
  const grant = issuer.mint({
    principal: engineer.name,
    target: { kind: "host", name: HOST },
    notAfter: accessEndsAt,
  }).text;
  return hold(
    spawnSshWithPromptAnswer({
      dir: work,
      port: sshd?.port ?? 0,
      user: engineer.name,
      answer: grant,
      command: heldSession(marker),
      options: ["-tt"],
    }),
  );
}

beforeAll(async () => {
  requireRoot("test/session-end.test.ts");
  requireCommand("sshd", "openssh-server");
  requireCommand("ssh", "openssh-client");
  requireCommand("tmux", "tmux");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-session-end-"));
  token = openSoftHsmIssuers(["ecdsa-p256"]);
  [issuer] = token.issuers as [TokenIssuer];
  stateDir = join(work, "state");
  const bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, trustBundleFor([issuer]));
  const installed = verifier(["install-bundle", bundleFile]);
  if (installed.status !== 0) throw new Error(`install-bundle failed: ${installed.stderr}`);
  const caKeys = verifier(["ssh-ca-keys"]);
  if (caKeys.status !== 0) throw new Error(`ssh-ca-keys failed: ${caKeys.stderr}`);
  writeFileSync(join(work, "airgrant_ca_keys"), caKeys.stdout);
  clientKey = join(work, "id_ed25519");
  const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey], { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  publicKeyLine = readFileSync(`${clientKey}.pub`, "utf8");
  chmodSync(work, 0o711);
  engineer = createThrowawayUser("agend", "/bin/sh");
  fixtures.push(engineer);
  const paths = { stateDir, logFile: join(work, "pam.log"), host: HOST };
  const service = writePamService([
    ...documentedPamLines("sshd", { ...paths, breakGlassUser: "root" }),
    "account required pam_permit.so",
    documentedOpenSshSessionLine({
      ...paths,
      logFile: join(work, "ssh.log"),
      caKeysFile: join(work, "airgrant_ca_keys"),
    }),
    ...documentedSessionLines(paths).map((line) =>
      line.includes(" session --state ") ? `${line} --warn-before ${WARN_BEFORE}` : line,
    ),
  ]);
  fixtures.push(service);
  sshd = await startSshd({
    dir: join(work, "sshd"),
    pamService: service.name,
    config: [
      "UsePAM yes",
      "KbdInteractiveAuthentication yes",
      "PasswordAuthentication no",
      `TrustedUserCAKeys ${join(work, "airgrant_ca_keys")}`,
    ],
  });
});

afterAll(async () => {
  for (const child of running) child.kill("SIGKILL");
  try {
    await sshd?.stop();
  } finally {
    cleanUpSuite(fixtures, token, work);
  }
});

interface SessionRecord {
  auditSession: number;
  checkSeq: number;
  watcher: { pid: number; start: string };
}

function openSessions(): SessionRecord[] {
  const dir = join(stateDir, "sessions");
  return readdirSync(dir)
    .filter((name) => name.startsWith("open-"))
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as SessionRecord);
}

async function until(condition: () => boolean, ms: number): Promise<void> {
  for (let waited = 0; waited < ms && !condition(); waited += 100) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the session of a grant's login ends when the grant does", () => {
  it("warns, then ends a certificate login and a password login on time, with the processes that tried to stay", async () => {
    const accessEndsAt = Math.floor(Date.now() / 1000) + ACCESS_SECONDS;
    // A first login, whose watcher is killed: the next verifier start (the
    // next login's session line) starts another, which ends it on time.
    const laterEnd = accessEndsAt + 5;
    const unwatched = holdCertificateLogin(4103, laterEnd);
    await unwatched.ready;
    const [first] = openSessions();
    expect(first).toBeDefined();
    process.kill(first?.watcher.pid ?? 0, "SIGKILL");
    await until(() => !existsSync(`/proc/${first?.watcher.pid}`), 5000);

    const byCertificate = holdCertificateLogin(4101, accessEndsAt);
    const byPassword = holdPasswordLogin(4102, accessEndsAt);
    await Promise.all([byCertificate.ready, byPassword.ready]);
    // setsid and nohup exec in turn after the shell forked them.
    const markers = [4101, 4102, 4103, 4111, 4112, 4113];
    await until(() => markers.every((n) => processesRunning(["sleep", String(n)]).length === 1), 5000);
    for (const marker of markers) {
      const found = processesRunning(["sleep", String(marker)]);
      expect(found).toHaveLength(1);
      expect(found[0]?.session).not.toBe("4294967295");
    }
    // One watcher for the host, another than the one killed, watches all three.
    const watchers = new Set(openSessions().map((r) => `${r.watcher.pid}/${r.watcher.start}`));
    expect(openSessions()).toHaveLength(3);
    expect([...watchers]).toHaveLength(1);
    expect(watchers.has(`${first?.watcher.pid}/${first?.watcher.start}`)).toBe(false);

    const [certificateEnd, passwordEnd] = await Promise.all([byCertificate.exited, byPassword.exited]);
    for (const end of [certificateEnd, passwordEnd]) {
      expect(end.at).toBeGreaterThanOrEqual(accessEndsAt);
      expect(end.at).toBeLessThan(accessEndsAt + END_TOLERANCE_SECONDS);
    }
    for (const login of [byCertificate, byPassword]) {
      expect(login.output()).toMatch(/airgrant: the access of grant [0-9a-f]{32} ends at \d\d:\d\d:\d\d UTC, in \d+ s/);
    }
    for (const marker of [4101, 4102, 4111, 4112]) expect(processesRunning(["sleep", String(marker)])).toEqual([]);

    const unwatchedEnd = await unwatched.exited;
    expect(unwatchedEnd.at).toBeGreaterThanOrEqual(laterEnd);
    expect(unwatchedEnd.at).toBeLessThan(laterEnd + END_TOLERANCE_SECONDS);
    expect(processesRunning(["sleep", "4103"])).toEqual([]);
    expect(processesRunning(["sleep", "4113"])).toEqual([]);

    // The client goes when sshd does, at the SIGTERM; the watcher logs once the last process is gone.
    await until(() => entries().filter((e) => e.type === "session-closed").length >= 3, 10_000);
    expect(verifyAuditLog(join(stateDir, "audit.log"))).toMatchObject({ ok: true });
    const log = entries();
    const allowed = log.filter((e) => e.type === "grant-check" && e.data.verdict === "allowed");
    expect(allowed.map((e) => e.data.via).sort()).toEqual(["grant-text", "ssh-certificate", "ssh-certificate"]);
    for (const check of allowed) {
      const endsAt =
        check.data.via === "grant-text" || check.data.accessEndsAt === accessEndsAt ? accessEndsAt : laterEnd;
      expect(check.data.accessEndsAt).toBe(endsAt);
      const closed = log.filter((e) => e.type === "session-closed" && e.data.checkSeq === check.seq);
      expect(closed).toHaveLength(1);
      const [entry] = closed as [Entry];
      expect(entry.seq).toBeGreaterThan(check.seq);
      expect(entry.data).toMatchObject({ reason: "expiry", user: engineer.name, accessEndsAt: endsAt });
      // At least the shell, the setsid child, the tmux server and its shell's sleep.
      expect(entry.data.processesEnded).toBeGreaterThanOrEqual(4);
      expect(Date.parse(entry.time) / 1000).toBeGreaterThanOrEqual(endsAt);
    }
    expect(readdirSync(join(stateDir, "sessions")).filter((name) => name.endsWith(".json"))).toEqual([]);
  }, 60_000);

  it("logs a logout with the session's length, and ends nothing after it", async () => {
    const cert = mintSshCertificate(issuer, { publicKeyLine, principals: [engineer.name], target: HOST });
    const certFile = join(work, "cert-logout.pub");
    writeFileSync(certFile, `${cert.line}\n`);
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
        `${engineer.name}@127.0.0.1`,
        "echo done",
      ],
      { encoding: "utf8", timeout: 30_000 },
    );
    expect(r.stdout.trim()).toBe("done");
    const check = entries().find((e) => e.type === "grant-check" && e.data.grantId === cert.grantId);
    expect(check?.data.verdict).toBe("allowed");
    // sshd closes the PAM session after the client has gone.
    const logout = () => entries().some((e) => e.type === "session-closed" && e.data.checkSeq === check?.seq);
    await until(logout, 5000);
    const closed = entries().filter((e) => e.type === "session-closed" && e.data.checkSeq === check?.seq);
    expect(closed.map((e) => e.data)).toEqual([
      expect.objectContaining({ reason: "logout", grantId: cert.grantId, seconds: expect.any(Number) }),
    ]);
    expect(closed[0]?.data.processesEnded).toBeUndefined();
    expect(openSessions()).toEqual([]);
  });
});
