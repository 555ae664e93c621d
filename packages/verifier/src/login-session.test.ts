import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AirgrantError } from "@airgrant/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { terminalPath } from "./login-processes.js";
import {
  closeLoginSession,
  type OpenRequest,
  openLoginSession,
  PENDING_LOGIN_SECONDS,
  type PendingLogin,
  recordPendingLogin,
  sessionsDir,
  superviseSessions,
  warningText,
} from "./login-session.js";
import { type HostState, hostState } from "./state-paths.js";

const NOW = 1_796_000_000;
const clock = () => new Date(NOW * 1000);
const OPENER = { pid: 4000, start: "123456" };
let state: HostState;

beforeEach(() => {
  const dir = join(mkdtempSync(join(tmpdir(), "airgrant-sessions-")), "state");
  mkdirSync(dir, { mode: 0o700 });
  state = hostState(dir);
});
afterEach(() => rmSync(join(state.dir, ".."), { recursive: true, force: true }));

function pending(overrides: Partial<PendingLogin> = {}): PendingLogin {
  return {
    checkSeq: 7,
    grantId: "a".repeat(32),
    user: "alice",
    host: "db1.example",
    accessEndsAt: NOW + 1800,
    admittedAt: NOW - 2,
    ancestors: [{ pid: 4001, start: "123460" }, OPENER],
    ...overrides,
  };
}

let watchersStarted = 0;
function request(overrides: Partial<OpenRequest> = {}): OpenRequest {
  return {
    user: "alice",
    opener: OPENER,
    auditSession: 81,
    warnBefore: 300,
    now: NOW,
    startWatcher: () => {
      watchersStarted++;
      // A process that is not running: each open starts another.
      return { pid: 5000, start: "1" };
    },
    ...overrides,
  };
}

function logEntries(): Array<{ type: string; data: Record<string, unknown> }> {
  return readFileSync(state.auditLogPath, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

describe("the sessions of grants' logins", () => {
  it("opens the pending login of the process that opens the session, with a watcher, and logs its logout", () => {
    recordPendingLogin(state, pending());
    recordPendingLogin(state, pending({ checkSeq: 8, ancestors: [{ pid: 9, start: "9" }] }));
    const session = openLoginSession(state, request());
    expect(session).toMatchObject({ checkSeq: 7, auditSession: 81, accessEndsAt: NOW + 1800, warned: false });
    expect(watchersStarted).toBe(1);
    expect(session?.watcher).toEqual({ pid: 5000, start: "1" });
    expect(readdirSync(sessionsDir(state)).sort()).toEqual(["open-81.json", "pending-8.json"]);
    const closed = closeLoginSession(state, 81, () => new Date((NOW + 95) * 1000));
    expect(closed?.grantId).toBe("a".repeat(32));
    expect(logEntries().at(-1)).toMatchObject({
      type: "session-closed",
      data: { reason: "logout", seconds: 95, checkSeq: 7, auditSession: 81, host: "db1.example" },
    });
    expect(closeLoginSession(state, 81, clock)).toBeUndefined();
  });

  it("gives a new session the watcher another open session names while it runs", () => {
    const running = {
      pid: process.pid,
      start: readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ")[19] ?? "",
    };
    recordPendingLogin(state, pending());
    openLoginSession(state, request({ startWatcher: () => running }));
    recordPendingLogin(state, pending({ checkSeq: 9 }));
    const before = watchersStarted;
    const second = openLoginSession(state, request({ auditSession: 82 }));
    expect(second?.watcher).toEqual(running);
    expect(watchersStarted).toBe(before);
  });

  it("opens nothing for a login no grant admitted: another process, another user, or a process reused", () => {
    recordPendingLogin(state, pending());
    expect(openLoginSession(state, request({ opener: { pid: 4000, start: "999" } }))).toBeUndefined();
    expect(openLoginSession(state, request({ user: "bob" }))).toBeUndefined();
    expect(openLoginSession(state, request({ opener: { pid: 4002, start: "123456" } }))).toBeUndefined();
    expect(readdirSync(sessionsDir(state))).toContain("pending-7.json");
  });

  it("refuses to open a grant's session without an audit session id: pam_loginuid did not run first", () => {
    recordPendingLogin(state, pending());
    expect(() => openLoginSession(state, request({ auditSession: undefined }))).toThrowError(
      expect.objectContaining({ code: "pam-misconfigured", message: expect.stringMatching(/pam_loginuid\.so/) }),
    );
  });

  it("drops a pending login no session claimed in time, and refuses a record that is not one", () => {
    recordPendingLogin(state, pending({ admittedAt: NOW - PENDING_LOGIN_SECONDS - 1 }));
    superviseSessions(state, clock, request().startWatcher);
    expect(readdirSync(sessionsDir(state)).filter((n) => n.endsWith(".json"))).toEqual([]);
    writeFileSync(join(sessionsDir(state), "open-82.json"), '{"format":"airgrant-session-v1","auditSession":"x"}');
    let thrown: unknown;
    try {
      superviseSessions(state, clock, request().startWatcher);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AirgrantError);
    expect(thrown).toMatchObject({ code: "state-corrupt", message: expect.stringMatching(/open-82\.json/) });
  });

  it("takes no lock at a start that finds nothing to do, and waits for it when it finds something", () => {
    recordPendingLogin(state, pending());
    // A lock that names no holder: a start that took it would wait its 10 s and give up.
    symlinkSync("held", join(sessionsDir(state), ".lock"));
    superviseSessions(state, clock, request().startWatcher);
    expect(readdirSync(sessionsDir(state)).sort()).toEqual([".lock", "pending-7.json"]);
    // Now a leftover to remove, under a lock whose holder is gone: the start breaks it and takes it.
    const gone = spawnSync("true").pid;
    rmSync(join(sessionsDir(state), ".lock"));
    symlinkSync(`${gone} 0123456789abcdef`, join(sessionsDir(state), ".lock"));
    writeFileSync(join(sessionsDir(state), `pending-8.json.tmp-${gone}-6303f4304aef`), "{");
    superviseSessions(state, clock, request().startWatcher);
    expect(readdirSync(sessionsDir(state))).toEqual(["pending-7.json"]);
  });

  it("drops pending logins oldest check first and reads no further than the first one still young", () => {
    const old = NOW - PENDING_LOGIN_SECONDS - 1;
    for (const [checkSeq, admittedAt] of [
      [9, old],
      [10, NOW - 5],
      [5, old],
      [11, NOW - 4],
    ] as const) {
      recordPendingLogin(state, pending({ checkSeq, admittedAt }));
    }
    // Behind the young ones: a start that read it would refuse it as state-corrupt.
    writeFileSync(join(sessionsDir(state), "pending-12.json"), "{", { mode: 0o600 });
    superviseSessions(state, clock, request().startWatcher);
    expect(readdirSync(sessionsDir(state)).filter((n) => n.endsWith(".json"))).toEqual([
      "pending-10.json",
      "pending-11.json",
      "pending-12.json",
    ]);
  });

  it("passes over and then removes the half-written temporary file a kill -9 leaves", () => {
    recordPendingLogin(state, pending());
    const gone = spawnSync("true").pid;
    const leftover = join(sessionsDir(state), `pending-8.json.tmp-${gone}-6303f4304aef`);
    writeFileSync(leftover, '{"format":"airgr');
    expect(openLoginSession(state, request())?.checkSeq).toBe(7);
    superviseSessions(state, clock, request().startWatcher);
    expect(readdirSync(sessionsDir(state))).toEqual(["open-81.json"]);
  });

  it("leaves the temporary file of a pending login still being written, which takes no lock", () => {
    recordPendingLogin(state, pending());
    const writing = `pending-8.json.tmp-${process.pid}-6303f4304aef`;
    writeFileSync(join(sessionsDir(state), writing), '{"format":"airgr');
    superviseSessions(state, clock, request().startWatcher);
    expect(readdirSync(sessionsDir(state)).sort()).toEqual(["pending-7.json", writing]);
  });

  it("says when the access ends in the warning", () => {
    const text = warningText(
      {
        bootId: "b",
        auditSession: 81,
        checkSeq: 7,
        grantId: "a".repeat(32),
        user: "alice",
        host: "db1.example",
        openedAt: NOW,
        accessEndsAt: NOW + 300,
        warnBefore: 300,
        warned: false,
      },
      NOW,
    );
    expect(text).toContain(
      `grant ${"a".repeat(32)} ends at ${new Date((NOW + 300) * 1000).toISOString().slice(11, 19)} UTC, in 300 s`,
    );
  });

  it("names the device file of pty slaves and virtual consoles, and no other", () => {
    const dev = (major: number, minor: number) => (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
    expect(terminalPath(dev(136, 3))).toBe("/dev/pts/3");
    expect(terminalPath(dev(136, 300))).toBe("/dev/pts/300");
    expect(terminalPath(dev(4, 1))).toBe("/dev/tty1");
    expect(terminalPath(dev(4, 64))).toBeUndefined();
    expect(terminalPath(dev(5, 1))).toBeUndefined();
  });
});
