import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFileSync,
  lstatSync,
  lutimesSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { codeOf } from "@airgrant/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AUDIT_LOG_FORMAT, GENESIS_PREV, MAX_AUDIT_LINE_BYTES } from "./audit-entry.js";
import { type AuditEntry, appendAuditEntry, readAuditHead, readAuditHeadEntry } from "./audit-log.js";
import { verifyAuditLog } from "./verify-audit-log.js";

const distAuditLog = resolve(dirname(fileURLToPath(import.meta.url)), "../dist/audit-log.js");

let dir: string;
let log: string;
let tick: number;
/** A pinned clock: one millisecond per reading from a fixed instant. */
const clock = () => new Date(Date.UTC(2026, 10, 25, 12, 0, 0, tick++));
const random = (n: number) => new Uint8Array(n).fill(0xab);
const options = { clock, randomBytes: random };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "airgrant-audit-"));
  log = join(dir, "audit.log");
  tick = 0;
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function lines(): string[] {
  return readFileSync(log, "utf8").split("\n").slice(0, -1);
}

describe("appendAuditEntry", () => {
  it("creates the log 0600 with a log-opened entry carrying the log id, then chains entries", () => {
    const first = appendAuditEntry(log, "grant-check", { user: "alice", verdict: "allowed" }, options);
    expect(statSync(log).mode & 0o777).toBe(0o600);
    const [opened, second] = lines().map((l) => JSON.parse(l) as AuditEntry);
    expect(opened).toEqual({
      seq: 1,
      time: "2026-11-25T12:00:00.000Z",
      type: "log-opened",
      data: { format: AUDIT_LOG_FORMAT, logId: "ab".repeat(16) },
      prev: GENESIS_PREV,
      hash: opened?.hash,
    });
    expect(second).toEqual(first);
    expect(first.seq).toBe(2);
    expect(first.prev).toBe(opened?.hash);
    expect(first.time).toBe("2026-11-25T12:00:00.001Z");
  });

  it("writes the documented bytes: members in order, data sorted, hash over the line without its hash member", () => {
    const entry = appendAuditEntry(log, "t", { b: [1, "é\n😀", null, true, { z: 0, a: -5 }], a: "x" }, options);
    const line = lines()[1] as string;
    expect(line).toBe(
      `{"seq":2,"time":"2026-11-25T12:00:00.001Z","type":"t","data":{"a":"x","b":[1,"é\\n😀",null,true,{"a":-5,"z":0}]},` +
        `"prev":"${entry.prev}","hash":"${entry.hash}"}`,
    );
    const hashed = `${line.slice(0, line.lastIndexOf(',"hash":'))}}`;
    expect(createHash("sha256").update(hashed, "utf8").digest("hex")).toBe(entry.hash);
  });

  it("round-trips: many appends verify, and readAuditHead names the last one", () => {
    let last: AuditEntry | undefined;
    for (let i = 0; i < 50; i++) last = appendAuditEntry(log, "event", { i, text: "ü".repeat(i) }, options);
    expect(readAuditHead(log)).toEqual({ seq: 51, hash: last?.hash });
    expect(readAuditHeadEntry(log)).toEqual(last);
    const report = verifyAuditLog(log);
    expect(report).toEqual({
      ok: true,
      entries: 51,
      head: { seq: 51, hash: last?.hash },
      logId: "ab".repeat(16),
      recoveries: 0,
    });
  });

  it("refuses data the format cannot hold, without touching the log", () => {
    appendAuditEntry(log, "event", {}, options);
    const before = readFileSync(log);
    const bad: Array<[string, Record<string, unknown>]> = [
      ["event", { x: 1.5 }],
      ["event", { x: Number.MAX_SAFE_INTEGER + 1 }],
      ["event", { x: Number.NaN }],
      ["event", { x: -0 }],
      ["event", { "bad key": 1 }],
      ["event", { "": 1 }],
      ["event", { x: "\ud800" }],
      ["event", { x: undefined }],
      ["event", { x: new Date() }],
      ["event", { x: "y".repeat(MAX_AUDIT_LINE_BYTES) }],
      ["Event", {}],
      ["", {}],
      ["log-opened", {}],
      ["log-recovered", {}],
    ];
    for (const [type, data] of bad) {
      expect(
        codeOf(() => appendAuditEntry(log, type, data as never, options)),
        `${type} ${String(data.x)}`,
      ).toBe("bad-input");
    }
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    expect(codeOf(() => appendAuditEntry(log, "event", { deep } as never, options))).toBe("bad-input");
    expect(readFileSync(log).equals(before)).toBe(true);
  });

  it("accepts an entry right at the line limit and refuses one byte more", () => {
    appendAuditEntry(log, "event", {}, options);
    // {"x":"…"} instead of {} adds 6 bytes and the string; seq 3 has as many digits as seq 2.
    const fits = MAX_AUDIT_LINE_BYTES - (lines()[1]?.length ?? 0) - 6;
    expect(appendAuditEntry(log, "event", { x: "y".repeat(fits) }, options).seq).toBe(3);
    expect(lines()[2]?.length).toBe(MAX_AUDIT_LINE_BYTES);
    const before = readFileSync(log);
    expect(codeOf(() => appendAuditEntry(log, "event", { x: "y".repeat(fits + 1) }, options))).toBe("bad-input");
    expect(readFileSync(log).equals(before)).toBe(true);
    expect(verifyAuditLog(log).ok).toBe(true);
  });

  it("refuses to append to an empty file rather than start a new chain in it", () => {
    writeFileSync(log, "");
    expect(codeOf(() => appendAuditEntry(log, "event", {}, options))).toBe("audit-log-corrupt");
    expect(readFileSync(log, "utf8")).toBe("");
  });
});

describe("torn tails", () => {
  function logWithEntries(n: number): AuditEntry {
    let last: AuditEntry | undefined;
    for (let i = 0; i < n; i++) last = appendAuditEntry(log, "event", { i }, options);
    return last as AuditEntry;
  }

  it("a crash mid-append leaves a torn last line: verify reports it, append sets it aside and records it", () => {
    const last = logWithEntries(3);
    const torn = '{"seq":5,"time":"2026-11-25T12:00:00.009Z","type":"event","da';
    appendFileSync(log, torn);

    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "torn-tail", seq: 5, line: 5, entriesVerified: 4 });
    expect(readAuditHead(log)).toEqual({ seq: 4, hash: last.hash });

    const next = appendAuditEntry(log, "event", { after: true }, options);
    expect(next.seq).toBe(6);
    const recovered = JSON.parse(lines()[4] as string) as AuditEntry;
    const tornSha256 = createHash("sha256").update(torn).digest("hex");
    const sidecar = `audit.log.torn-5-${tornSha256.slice(0, 16)}`;
    expect(recovered).toMatchObject({
      seq: 5,
      type: "log-recovered",
      prev: last.hash,
      data: { tornBytes: Buffer.byteLength(torn), tornSha256, sidecar },
    });
    expect(readFileSync(join(dir, sidecar), "utf8")).toBe(torn);
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 6, recoveries: 1 });
  });

  it("a last line that ends in a newline but is not an entry (pages written out of order) is recovered too", () => {
    logWithEntries(2);
    appendFileSync(log, `{"seq":4,"time":\0\0\0\0\0\0\0\0"hash":"00"}\n`);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "malformed-entry", seq: 4, line: 4 });
    appendAuditEntry(log, "event", {}, options);
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 5, recoveries: 1 });
  });

  it("a crash during recovery (recovery line written, file not yet cut) is recovered again, nothing lost", () => {
    const last = logWithEntries(2);
    const good = readFileSync(log);
    const torn = `{"seq":4,"time":"2026-11-25T12:00:00.009Z","type":"event","data":{"pad":"${"p".repeat(400)}`;
    appendFileSync(log, torn);
    appendAuditEntry(log, "event", { n: 1 }, options);
    const recoveryLine = lines()[3] as string;
    expect(JSON.parse(recoveryLine)).toMatchObject({ seq: 4, type: "log-recovered", prev: last.hash });
    // The state after recovery wrote its line over the torn bytes but before it cut the file.
    const leftover = torn.slice(recoveryLine.length + 1);
    writeFileSync(log, Buffer.concat([good, Buffer.from(`${recoveryLine}\n${leftover}`)]));
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "torn-tail", seq: 5, line: 5, entriesVerified: 4 });

    appendAuditEntry(log, "event", { n: 2 }, options);
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 6, recoveries: 2 });
    expect(JSON.parse(lines()[4] as string)).toMatchObject({
      seq: 5,
      type: "log-recovered",
      data: { tornBytes: leftover.length, tornSha256: createHash("sha256").update(leftover).digest("hex") },
    });
  });

  it("refuses to append after more junk than one torn append could leave", () => {
    logWithEntries(2);
    appendFileSync(log, `${"x".repeat(100)}\n${"y".repeat(MAX_AUDIT_LINE_BYTES)}\n`);
    const before = readFileSync(log);
    expect(codeOf(() => appendAuditEntry(log, "event", {}, options))).toBe("audit-log-corrupt");
    expect(readFileSync(log).equals(before)).toBe(true);
    expect(codeOf(() => readAuditHead(log))).toBe("audit-log-corrupt");
  });

  it("readAuditHead: undefined for a missing log, corrupt for an empty one", () => {
    expect(readAuditHead(log)).toBeUndefined();
    writeFileSync(log, "");
    expect(codeOf(() => readAuditHead(log))).toBe("audit-log-corrupt");
  });

  it("finds the head behind long entries (the tail is read in growing windows)", () => {
    const big = "z".repeat(40_000);
    appendAuditEntry(log, "event", { big }, options);
    const last = appendAuditEntry(log, "event", { big }, options);
    appendFileSync(log, big.slice(0, 30_000));
    expect(readAuditHead(log)).toEqual({ seq: 3, hash: last.hash });
    appendAuditEntry(log, "event", {}, options);
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 5, recoveries: 1 });
  });
});

describe("concurrent appenders", () => {
  it("several real processes appending at once keep one intact chain with every entry", async () => {
    const script = join(dir, "appender.mjs");
    writeFileSync(
      script,
      `const { appendAuditEntry } = await import(process.argv[2]);
const [log, who, count] = [process.argv[3], process.argv[4], Number(process.argv[5])];
for (let i = 0; i < count; i++) appendAuditEntry(log, "event", { who, i }, { lockTimeoutMs: 60000 });
`,
    );
    const processes = 6;
    const count = 30;
    const codes = await Promise.all(
      Array.from(
        { length: processes },
        (_, who) =>
          new Promise<number>((done, fail) => {
            const child = spawn(process.execPath, [script, distAuditLog, log, `p${who}`, String(count)], {
              stdio: "inherit",
            });
            child.on("error", fail);
            child.on("exit", (code) => done(code ?? -1));
          }),
      ),
    );
    expect(codes.every((c) => c === 0)).toBe(true);
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 1 + processes * count, recoveries: 0 });
    const seen = lines()
      .slice(1)
      .map((l) => {
        const { who, i } = (JSON.parse(l) as AuditEntry).data;
        return `${String(who)}:${String(i)}`;
      });
    expect(new Set(seen).size).toBe(processes * count);
    // Each process's own entries are in its order.
    for (let who = 0; who < processes; who++) {
      const mine = seen.filter((s) => s.startsWith(`p${who}:`)).map((s) => Number(s.split(":")[1]));
      expect(mine).toEqual(Array.from({ length: count }, (_, i) => i));
    }
    expect(() => lstatSync(`${log}.lock`)).toThrow(/ENOENT/);
  });
});

describe("an appender held up under the lock", () => {
  /** A child that appends one entry and, under the lock, says so and pauses before the entry is written. */
  function startHeldAppender(): {
    pid: number;
    exited: Promise<{ code: number | null; stderr: string }>;
    held: Promise<void>;
  } {
    const script = join(dir, "held.mjs");
    writeFileSync(
      script,
      `const { appendAuditEntry } = await import(process.argv[2]);
appendAuditEntry(process.argv[3], "held-up", { n: 1 }, {
  seal: () => {
    process.stdout.write("held\\n");
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    return {};
  },
});
`,
    );
    const child = spawn(process.execPath, [script, distAuditLog, log], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    return {
      pid: child.pid as number,
      held: new Promise((done) => child.stdout.once("data", () => done())),
      exited: new Promise((done) => child.on("exit", (code) => done({ code, stderr }))),
    };
  }

  function stopWhileHeld(appender: { pid: number }): void {
    process.kill(appender.pid, "SIGSTOP");
    // Older than any stale period: the age of a live holder's lock must not count.
    const old = new Date(Date.now() - 3_600_000);
    lutimesSync(`${log}.lock`, old, old);
  }

  it("a stopped holder keeps the lock: another append times out, and after SIGCONT the chain is intact", async () => {
    appendAuditEntry(log, "first", {}, options);
    const appender = startHeldAppender();
    try {
      await appender.held;
      stopWhileHeld(appender);
      expect(codeOf(() => appendAuditEntry(log, "other", {}, { ...options, lockTimeoutMs: 500 }))).toBe("lock-timeout");
    } finally {
      process.kill(appender.pid, "SIGCONT");
    }
    expect((await appender.exited).code).toBe(0);
    appendAuditEntry(log, "other", {}, options);
    const report = verifyAuditLog(log);
    expect(report.ok).toBe(true);
    expect(report).toMatchObject({ ok: true, entries: 4 });
  });

  it("a holder whose lock was removed by hand writes nothing when it resumes", async () => {
    appendAuditEntry(log, "first", {}, options);
    const appender = startHeldAppender();
    try {
      await appender.held;
      stopWhileHeld(appender);
      rmSync(`${log}.lock`);
      appendAuditEntry(log, "other", {}, options);
    } finally {
      process.kill(appender.pid, "SIGCONT");
    }
    const { code, stderr } = await appender.exited;
    expect(code).not.toBe(0);
    expect(stderr).toContain("the log's lock was removed while this process held it; nothing was written");
    const report = verifyAuditLog(log);
    expect(report.ok).toBe(true);
    expect(report).toMatchObject({ ok: true, entries: 3 });
    expect(readFileSync(log, "utf8")).not.toContain("held-up");
  });

  it("refuses to append through a symbolic link put in the log's place", () => {
    appendAuditEntry(log, "first", {}, options);
    renameSync(log, `${log}.real`);
    symlinkSync(`${log}.real`, log);
    expect(codeOf(() => appendAuditEntry(log, "other", {}, options))).toBe("audit-unwritable");
    expect(readFileSync(`${log}.real`, "utf8")).not.toContain("other");
  });
});
