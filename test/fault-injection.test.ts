// Faults injected into the host's ways in, as a crash, an operator or a
// local attacker would cause them: kill -9 and SIGSTOP/SIGCONT at random
// points of `check`, `pam`, `ssh-session` and `install-bundle`, processes
// racing with one grant; a full disk (blocks, then inodes) and a read-only
// state directory on a small tmpfs. After each, no grant is let in more
// often than it allows, no append is lost or forked, a torn tail is reported
// by the next append, and the host log verifies. Grants and certificates are
// signed on a real SoftHSM2 token. Needs root (the tmpfs mounts); CI runs as
// root.
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sshCertificateLine, verifyAuditLog } from "@airgrant/core";
import { VERIFIER_BUNDLE as CLI } from "@airgrant/testkit";
import { requireRoot } from "@airgrant/testkit/system";
import {
  mintSshCertificate,
  openSoftHsmIssuers,
  type SoftHsmIssuers,
  type TokenIssuer,
  trustBundleFor,
} from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "faults.example";

let work: string;
let token: SoftHsmIssuers | undefined;
let issuer: TokenIssuer;
let bundleFile: string;
/** Another bundle of the same issuer: install-bundle alternates the two. */
let otherBundleFile: string;
/** The engineer's public key a certificate certifies. */
let subjectKey: string;
const mounts: string[] = [];

beforeAll(() => {
  requireRoot("test/fault-injection.test.ts");
  work = mkdtempSync(join(tmpdir(), "airgrant-faults-"));
  token = openSoftHsmIssuers(["ed25519"]);
  [issuer] = token.issuers as [TokenIssuer];
  bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, trustBundleFor([issuer]));
  otherBundleFile = join(work, "other-bundle.json");
  writeFileSync(otherBundleFile, trustBundleFor([issuer]));
  const key = join(work, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", key]);
  subjectKey = readFileSync(`${key}.pub`, "utf8");
});

afterAll(() => {
  for (const dir of mounts.reverse()) spawnSync("umount", ["-l", dir]);
  token?.close();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

type Fault = "none" | "kill" | "stop";

interface Outcome {
  fault: Fault;
  /** Exit status; null when the process was killed. */
  status: number | null;
}

const random = (max: number) => Math.floor(Math.random() * max);

/**
 * Run one verifier process and inject `fault` at a random moment of its
 * life: SIGKILL, or SIGSTOP held for a while and then SIGCONT. A node start
 * takes 40-80 ms here and a check 10-30 ms more, so the moments (10-120 ms) fall from
 * before the state is read to after the use is durable.
 */
function runWithFault(args: string[], input: string, env: NodeJS.ProcessEnv, fault: Fault): Promise<Outcome> {
  return new Promise((resolve) => {
    const child: ChildProcess = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "ignore", "ignore"] });
    child.stdin?.end(input);
    const at = 10 + random(110);
    const timers: NodeJS.Timeout[] = [];
    if (fault === "kill") timers.push(setTimeout(() => child.kill("SIGKILL"), at));
    if (fault === "stop") {
      timers.push(setTimeout(() => child.kill("SIGSTOP"), at));
      timers.push(setTimeout(() => child.kill("SIGCONT"), at + 20 + random(400)));
    }
    child.on("close", (status) => {
      for (const timer of timers) clearTimeout(timer);
      resolve({ fault, status });
    });
  });
}

function pickFault(): Fault {
  const faults: Fault[] = ["none", "kill", "kill", "stop"];
  return faults[random(faults.length)] as Fault;
}

function installed(dir: string): void {
  const r = spawnSync(process.execPath, [CLI, "install-bundle", bundleFile, "--state", dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`install-bundle failed: ${r.stderr}`);
}

function logEntries(dir: string): Array<{ type: string; data: Record<string, unknown> }> {
  return readFileSync(join(dir, "audit.log"), "utf8")
    .split("\n")
    .filter((line) => line.endsWith("}"))
    .flatMap((line) => {
      try {
        return [JSON.parse(line)];
      } catch {
        return [];
      }
    });
}

function endsTorn(dir: string): boolean {
  const bytes = readFileSync(join(dir, "audit.log"));
  return bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a;
}

/** One more append (a refused check) recovers a torn tail; the log must then verify. */
function settle(dir: string): { recovered: boolean } {
  const torn = endsTorn(dir);
  const before = logEntries(dir).filter((e) => e.type === "log-recovered").length;
  const r = spawnSync(process.execPath, [CLI, "check", "--user", "alice", "--host", HOST, "--state", dir], {
    input: "not a grant",
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(1);
  expect(verifyAuditLog(join(dir, "audit.log"))).toMatchObject({ ok: true });
  const after = logEntries(dir).filter((e) => e.type === "log-recovered").length;
  // Every torn tail is reported, by the append that finds it.
  if (torn) expect(after).toBe(before + 1);
  return { recovered: torn };
}

interface Tally {
  rounds: number;
  processes: number;
  killed: number;
  stopped: number;
  torn: number;
  doubleAcceptances: number;
}

function newTally(): Tally {
  return { rounds: 0, processes: 0, killed: 0, stopped: 0, torn: 0, doubleAcceptances: 0 };
}

/** What the log says was let in, per grant id: never more than the grant's uses. */
function allowedPerGrant(dir: string): Map<string, number> {
  const per = new Map<string, number>();
  for (const e of logEntries(dir)) {
    if (e.type === "grant-check" && e.data.verdict === "allowed") {
      const id = e.data.grantId as string;
      per.set(id, (per.get(id) ?? 0) + 1);
    }
  }
  return per;
}

/**
 * `rounds` rounds of `racers` processes presenting one fresh grant at once,
 * each with a random fault. Checks after every round that the grant was let
 * in at most `maxUses` times by exit status and by the log, and that the
 * use records hold every use the log records.
 */
async function faultRounds(
  dir: string,
  rounds: number,
  racers: number,
  present: (round: number) => {
    args: string[];
    input: string;
    env: NodeJS.ProcessEnv;
    grantId: string;
    maxUses: number;
  },
): Promise<Tally> {
  const tally = newTally();
  for (let round = 0; round < rounds; round++) {
    const { args, input, env, grantId, maxUses } = present(round);
    const outcomes = await Promise.all(
      Array.from({ length: racers }, () => runWithFault(args, input, env, pickFault())),
    );
    tally.rounds++;
    tally.processes += outcomes.length;
    tally.killed += outcomes.filter((o) => o.fault === "kill" && o.status === null).length;
    tally.stopped += outcomes.filter((o) => o.fault === "stop").length;
    for (const o of outcomes) expect([0, 1, 3, null], `exit ${o.status}`).toContain(o.status);
    const admittedByExit = outcomes.filter((o) => o.status === 0).length;
    const admittedByLog = allowedPerGrant(dir).get(grantId) ?? 0;
    if (admittedByExit > maxUses || admittedByLog > maxUses) tally.doubleAcceptances++;
    expect(admittedByLog).toBeGreaterThanOrEqual(admittedByExit);
    const records = readdirSync(join(dir, "used")).filter((name) => name.startsWith(grantId)).length;
    expect(records).toBeGreaterThanOrEqual(admittedByLog);
    // A power loss in the middle of an append leaves half a line: every fifth round, as if it had.
    if (round % 5 === 4) appendFileSync(join(dir, "audit.log"), '{"seq":999999,"time":"2026-');
    if (settle(dir).recovered) tally.torn++;
  }
  return tally;
}

function printTally(what: string, t: Tally): void {
  console.info(
    `${what}: ${t.rounds} rounds, ${t.processes} processes, ${t.killed} kill -9, ${t.stopped} SIGSTOP/SIGCONT, ${t.torn} torn tails reported, ${t.doubleAcceptances} double acceptances`,
  );
}

describe("kill -9 and SIGSTOP/SIGCONT at random points of every way in", () => {
  const bare = () => ({ PATH: process.env.PATH });

  it("check: three racers per grant, 40 rounds", async () => {
    const dir = join(work, "check");
    installed(dir);
    const tally = await faultRounds(dir, 40, 3, () => {
      const grant = issuer.mint({ principal: "alice", target: { kind: "host", name: HOST } });
      return {
        args: ["check", "--user", "alice", "--host", HOST, "--state", dir],
        input: grant.text,
        env: bare(),
        grantId: grant.grantId,
        maxUses: 1,
      };
    });
    printTally("check", tally);
    expect(tally.doubleAcceptances).toBe(0);
    expect(tally.torn).toBeGreaterThanOrEqual(8);
    expect(tally.killed).toBeGreaterThan(8);
  }, 240_000);

  it("pam: three racers per grant of two uses, 40 rounds", async () => {
    const dir = join(work, "pam");
    installed(dir);
    const tally = await faultRounds(dir, 40, 3, () => {
      const grant = issuer.mint({ principal: "alice", target: { kind: "host", name: HOST }, maxUses: 2 });
      return {
        args: ["pam", "--state", dir, "--host", HOST],
        input: `${grant.text}\0`,
        env: { ...bare(), PAM_TYPE: "auth", PAM_USER: "alice", PAM_SERVICE: "sshd", PAM_RHOST: "192.0.2.4" },
        grantId: grant.grantId,
        maxUses: 2,
      };
    });
    printTally("pam", tally);
    expect(tally.doubleAcceptances).toBe(0);
    expect(tally.killed).toBeGreaterThan(8);
  }, 240_000);

  it("ssh-session: three racers per certificate, 40 rounds", async () => {
    const dir = join(work, "ssh-session");
    installed(dir);
    const tally = await faultRounds(dir, 40, 3, () => {
      const cert = mintSshCertificate(issuer, { publicKeyLine: subjectKey, principals: ["alice"], target: HOST });
      return {
        args: ["ssh-session", "--state", dir, "--host", HOST],
        input: "",
        env: {
          ...bare(),
          PAM_TYPE: "open_session",
          PAM_USER: "alice",
          PAM_SERVICE: "sshd",
          PAM_RHOST: "192.0.2.4",
          SSH_AUTH_INFO_0: `publickey ${sshCertificateLine(cert.blob)}\n`,
        },
        grantId: cert.grantId,
        maxUses: 1,
      };
    });
    printTally("ssh-session", tally);
    expect(tally.doubleAcceptances).toBe(0);
    expect(tally.killed).toBeGreaterThan(8);
  }, 240_000);

  it("install-bundle: killed and stopped while checks run beside it, 30 rounds", async () => {
    const dir = join(work, "install");
    installed(dir);
    const bundles = [readFileSync(bundleFile), readFileSync(otherBundleFile)];
    let rounds = 0;
    for (; rounds < 30; rounds++) {
      const grant = issuer.mint({ principal: "alice", target: { kind: "host", name: HOST } });
      const file = rounds % 2 === 0 ? otherBundleFile : bundleFile;
      const outcomes = await Promise.all([
        runWithFault(["install-bundle", file, "--state", dir], "", { PATH: process.env.PATH }, pickFault()),
        runWithFault(
          ["check", "--user", "alice", "--host", HOST, "--state", dir],
          grant.text,
          { PATH: process.env.PATH },
          pickFault(),
        ),
        runWithFault(
          ["check", "--user", "alice", "--host", HOST, "--state", dir],
          grant.text,
          { PATH: process.env.PATH },
          pickFault(),
        ),
      ]);
      expect(outcomes.slice(1).filter((o) => o.status === 0).length).toBeLessThanOrEqual(1);
      expect(allowedPerGrant(dir).get(grant.grantId) ?? 0).toBeLessThanOrEqual(1);
      settle(dir);
      // The installed bundle is always whole: the old one or the new one, never a part.
      const now = readFileSync(join(dir, "bundle.json"));
      expect(bundles.some((b) => b.equals(now))).toBe(true);
    }
    console.info(`install-bundle: ${rounds} rounds beside two checks each, the bundle whole after every one`);
  }, 240_000);
});

/** A tmpfs of its own for a state directory: the disk can be filled and made read-only without touching the host's. */
function smallDisk(name: string, options: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { mode: 0o700 });
  execFileSync("mount", ["-t", "tmpfs", "-o", `${options},mode=0700`, "tmpfs", dir]);
  mounts.push(dir);
  return dir;
}

function check(dir: string, text: string): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, "check", "--user", "alice", "--host", HOST, "--state", dir], {
    input: text,
    encoding: "utf8",
  });
  return { status: r.status, stderr: r.stderr };
}

describe("a full disk and a read-only state directory", () => {
  it("out of blocks: every check fails closed with exit 3, none is let in twice, the log verifies once there is room", () => {
    const disk = smallDisk("blocks", "size=1m,nr_inodes=4096");
    const dir = join(disk, "state");
    installed(dir);
    const filler = join(disk, "filler");
    // Fill every block: dd stops at ENOSPC.
    spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k"], { stdio: "ignore" });
    const grants = Array.from({ length: 5 }, () =>
      issuer.mint({ principal: "alice", target: { kind: "host", name: HOST } }),
    );
    const full = grants.map((g) => check(dir, g.text));
    for (const r of full) {
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^error: (audit-unwritable|state-unwritable): /);
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    }
    rmSync(filler);
    const again = grants.map((g) => check(dir, g.text).status);
    // A use taken before the log failed stays taken (docs/verifier.md): such a grant is refused, never let in twice.
    for (const status of again) expect([0, 1]).toContain(status);
    for (const count of allowedPerGrant(dir).values()) expect(count).toBe(1);
    expect(verifyAuditLog(join(dir, "audit.log"))).toMatchObject({ ok: true });
    console.info(
      `full disk (blocks): ${full.length} checks refused with exit 3; after room was made ${again.filter((s) => s === 0).length} let in once, ${again.filter((s) => s === 1).length} refused`,
    );
  });

  it("out of inodes: the use cannot be recorded, so the login is refused with exit 3", () => {
    const disk = smallDisk("inodes", "size=8m,nr_inodes=64");
    const dir = join(disk, "state");
    installed(dir);
    const fill = join(disk, "fill");
    mkdirSync(fill);
    for (let i = 0; ; i++) {
      try {
        writeFileSync(join(fill, String(i)), "");
      } catch {
        break;
      }
    }
    const grant = issuer.mint({ principal: "alice", target: { kind: "host", name: HOST } });
    const r = check(dir, grant.text);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    rmSync(fill, { recursive: true });
    expect(check(dir, grant.text).status).toBe(0);
    expect(check(dir, grant.text).status).toBe(1);
    expect(verifyAuditLog(join(dir, "audit.log"))).toMatchObject({ ok: true });
  });

  it("read-only: checks fail closed with exit 3 and change nothing", () => {
    const disk = smallDisk("readonly", "size=4m");
    const dir = join(disk, "state");
    installed(dir);
    const before = readFileSync(join(dir, "audit.log"));
    execFileSync("mount", ["-o", "remount,ro", disk]);
    const grant = issuer.mint({ principal: "alice", target: { kind: "host", name: HOST } });
    const r = check(dir, grant.text);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^error: [a-z-]+: /);
    execFileSync("mount", ["-o", "remount,rw", disk]);
    expect(readFileSync(join(dir, "audit.log"))).toEqual(before);
    expect(check(dir, grant.text).status).toBe(0);
    expect(verifyAuditLog(join(dir, "audit.log"))).toMatchObject({ ok: true });
  });
});
