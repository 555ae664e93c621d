import { spawn, spawnSync } from "node:child_process";
import {
  lstatSync,
  lutimesSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AirgrantError } from "./airgrant-error.js";
import { withFileLock } from "./file-lock.js";

/** lstat, not stat: the lock is a symlink to nowhere, which existsSync would report as absent. */
function linkExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

const distLock = resolve(dirname(fileURLToPath(import.meta.url)), "../dist/file-lock.js");

/**
 * A worker that takes the lock `rounds` times; inside, it claims a marker
 * file with O_EXCL (which fails if another holder is inside too) and bumps a
 * counter with a read-modify-write that loses updates without exclusion.
 */
const worker = `
import { openSync, closeSync, unlinkSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
const { withFileLock } = await import(process.argv[2]);
const [dir, rounds, startAt, deadPid] = process.argv.slice(3).map((a, i) => (i === 0 ? a : Number(a)));
// Start together, so that waiters really race for a lock (and for breaking a stale one).
while (Date.now() < startAt) {}
for (let i = 0; i < rounds; i++) {
  withFileLock(dir + "/lock", () => {
    let fd;
    try { fd = openSync(dir + "/inside", "wx"); } catch { writeFileSync(dir + "/overlap-" + process.pid, "x"); return; }
    const n = Number(readFileSync(dir + "/counter", "utf8"));
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.random() < 0.2 ? 1 : 0);
    writeFileSync(dir + "/counter", String(n + 1));
    closeSync(fd);
    unlinkSync(dir + "/inside");
    // Now and then "die" holding the lock: leave it naming a dead pid, for
    // the waiters to find stale and race each other to break.
    if (deadPid > 0 && i % 3 === 2) {
      // Swapped in with rename, atomically, so that the lock is never free in between.
      symlinkSync(deadPid + " 0011223344556677", dir + "/dying-" + process.pid);
      renameSync(dir + "/dying-" + process.pid, dir + "/lock");
    }
  }, { timeoutMs: 60000 });
}
`;

function runWorkers(dir: string, processes: number, rounds: number, deadPid = 0): Promise<number[]> {
  const script = join(dir, "worker.mjs");
  writeFileSync(script, worker);
  const startAt = Date.now() + 300 + processes * 40;
  return Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise<number>((done, fail) => {
          const child = spawn(
            process.execPath,
            [script, distLock, dir, String(rounds), String(startAt), String(deadPid)],
            {
              stdio: "inherit",
            },
          );
          child.on("error", fail);
          child.on("exit", (code) => done(code ?? -1));
        }),
    ),
  );
}

/** The pid of a process that has exited, so no live process has it (barring reuse within the test). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "airgrant-lock-"));
  writeFileSync(join(dir, "counter"), "0");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("withFileLock", () => {
  it("runs the function, returns its value and removes the lock, also when it throws", () => {
    const lock = join(dir, "lock");
    expect(withFileLock(lock, () => 42)).toBe(42);
    expect(linkExists(lock)).toBe(false);
    expect(() =>
      withFileLock(lock, () => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(linkExists(lock)).toBe(false);
  });

  it("writes the holder's pid into the lock file while held", () => {
    const lock = join(dir, "lock");
    const owner = withFileLock(lock, () => readlinkSync(lock, "utf8"));
    expect(owner.split(" ")[0]).toBe(String(process.pid));
  });

  it("excludes across several real processes: no overlap, no lost update", async () => {
    const codes = await runWorkers(dir, 6, 40);
    expect(codes).toEqual([0, 0, 0, 0, 0, 0]);
    expect(readdirSync(dir).filter((f) => f.startsWith("overlap-"))).toEqual([]);
    expect(readFileSync(join(dir, "counter"), "utf8")).toBe("240");
    expect(linkExists(join(dir, "lock"))).toBe(false);
  });

  it("breaks a lock left by a dead process", () => {
    const lock = join(dir, "lock");
    symlinkSync(`${deadPid()} 0011223344556677`, lock);
    const started = Date.now();
    expect(withFileLock(lock, () => "taken", { timeoutMs: 2000 })).toBe("taken");
    expect(Date.now() - started).toBeLessThan(1000);
    expect(linkExists(lock)).toBe(false);
  });

  it("keeps exclusion when many processes race to break stale locks of dead holders", async () => {
    symlinkSync(`${deadPid()} 0011223344556677`, join(dir, "lock"));
    const codes = await runWorkers(dir, 8, 30, deadPid());
    expect(codes.every((c) => c === 0)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.startsWith("overlap-"))).toEqual([]);
    expect(readFileSync(join(dir, "counter"), "utf8")).toBe("240");
    expect(readdirSync(dir).filter((f) => f.includes(".stale-") || f.endsWith(".break"))).toEqual([]);
  });

  it("keeps exclusion when processes started together all find the same dead holder's lock", async () => {
    for (let round = 0; round < 3; round++) {
      writeFileSync(join(dir, "counter"), "0");
      symlinkSync(`${deadPid()} 0011223344556677`, join(dir, "lock"));
      const codes = await runWorkers(dir, 8, 3);
      expect(codes.every((c) => c === 0)).toBe(true);
      expect(readdirSync(dir).filter((f) => f.startsWith("overlap-"))).toEqual([]);
      expect(readFileSync(join(dir, "counter"), "utf8")).toBe("24");
    }
  });

  it("never breaks a live holder's lock for its age, also while the holder is stopped", async () => {
    const lock = join(dir, "lock");
    const script = join(dir, "holder.mjs");
    // Takes the lock, says so, and holds it for a while.
    writeFileSync(
      script,
      `const { withFileLock } = await import(process.argv[2]);
withFileLock(process.argv[3], () => {
  process.stdout.write("held\\n");
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800);
});
`,
    );
    const holder = spawn(process.execPath, [script, distLock, lock], { stdio: ["ignore", "pipe", "inherit"] });
    const exited = new Promise<number | null>((done) => holder.on("exit", (code) => done(code)));
    try {
      await new Promise<void>((done) => holder.stdout.once("data", () => done()));
      process.kill(holder.pid as number, "SIGSTOP");
      const owner = readlinkSync(lock, "utf8");
      // Older than any stale period: before, the age alone broke a live holder's lock.
      const old = new Date(Date.now() - 3_600_000);
      lutimesSync(lock, old, old);
      let caught: unknown;
      try {
        withFileLock(lock, () => "taken", { timeoutMs: 500, staleMs: 100 });
      } catch (err) {
        caught = err;
      }
      expect((caught as AirgrantError).code).toBe("lock-timeout");
      expect(readlinkSync(lock, "utf8")).toBe(owner);
    } finally {
      process.kill(holder.pid as number, "SIGCONT");
    }
    expect(await exited).toBe(0);
    expect(withFileLock(lock, () => "taken", { timeoutMs: 2000 })).toBe("taken");
  });

  it("names its holder by pid, start time and boot, and breaks a lock whose pid now belongs to a later process", () => {
    const lock = join(dir, "lock");
    const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    const owner = withFileLock(lock, () => readlinkSync(lock, "utf8"));
    const [pid, startTime, boot] = owner.split(" ");
    expect(Number(pid)).toBe(process.pid);
    expect(startTime).toMatch(/^\d+$/);
    expect(boot).toBe(bootId);
    // This process's pid, but a start time it does not have: a holder that died and whose pid was reused.
    symlinkSync(`${process.pid} ${Number(startTime) + 1} ${bootId} 0011223344556677 1`, lock);
    expect(withFileLock(lock, () => "taken", { timeoutMs: 2000 })).toBe("taken");
    // A holder from an earlier boot.
    symlinkSync(`${process.pid} ${startTime} 00000000-0000-0000-0000-000000000000 0011223344556677 1`, lock);
    expect(withFileLock(lock, () => "taken", { timeoutMs: 2000 })).toBe("taken");
    // This very process: alive, so never broken.
    symlinkSync(`${process.pid} ${startTime} ${bootId} 0011223344556677 1`, lock);
    expect(() => withFileLock(lock, () => "never", { timeoutMs: 200, staleMs: 0 })).toThrow(/timed out/);
    rmSync(lock);
  });

  it("breaks a lock that names no holder once it is older than staleMs", () => {
    const lock = join(dir, "lock");
    symlinkSync("not a holder", lock);
    expect(() => withFileLock(lock, () => "never", { timeoutMs: 200, staleMs: 60_000 })).toThrow(/timed out/);
    const old = new Date(Date.now() - 120_000);
    lutimesSync(lock, old, old);
    expect(withFileLock(lock, () => "taken", { timeoutMs: 2000, staleMs: 60_000 })).toBe("taken");
  });

  it("tells the function whether the lock still names it", () => {
    const lock = join(dir, "lock");
    expect(withFileLock(lock, (held) => held.stillHeld())).toBe(true);
    const after = withFileLock(lock, (held) => {
      rmSync(lock);
      symlinkSync("someone else", lock);
      return held.stillHeld();
    });
    expect(after).toBe(false);
    // Not ours, so left in place.
    expect(readlinkSync(lock, "utf8")).toBe("someone else");
  });

  it("gives up with lock-timeout while a live process holds the lock", () => {
    const lock = join(dir, "lock");
    symlinkSync(`${process.pid} 0011223344556677`, lock);
    const started = Date.now();
    let caught: unknown;
    try {
      withFileLock(lock, () => "never", { timeoutMs: 300 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AirgrantError);
    expect((caught as AirgrantError).code).toBe("lock-timeout");
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    // The live holder's lock is left alone.
    expect(readlinkSync(lock, "utf8")).toBe(`${process.pid} 0011223344556677`);
  });

  it("reports an unwritable lock directory as state-unwritable", () => {
    let caught: unknown;
    try {
      withFileLock(join(dir, "missing-dir", "lock"), () => 0);
    } catch (err) {
      caught = err;
    }
    expect((caught as AirgrantError).code).toBe("state-unwritable");
  });
});
