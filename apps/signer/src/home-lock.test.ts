import { type ChildProcess, spawn } from "node:child_process";
import { lstatSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codeOf } from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { withHomeLock } from "./home-lock.js";

const dir = mkdtempSync(join(tmpdir(), "airgrant-home-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// The built module, in another process: a lock between processes is what is tested.
const built = new URL("../dist/home-lock.js", import.meta.url).href;

/** A process that takes the lock, says "held", and keeps it until killed or for `holdMs`. */
function holder(lockPath: string, holdMs: number): Promise<ChildProcess> {
  const script = `
    import { withHomeLock } from ${JSON.stringify(built)};
    withHomeLock(${JSON.stringify(lockPath)}, () => {
      process.stdout.write("held\\n");
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${holdMs});
    });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () => resolve(child));
    child.once("exit", (code) => reject(new Error(`holder exited with ${code} before taking the lock`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

describe("withHomeLock", () => {
  it("creates the lock file 0600 and returns what it runs", () => {
    const lock = join(dir, "a.lock");
    expect(withHomeLock(lock, () => 42)).toBe(42);
    expect(lstatSync(lock).mode & 0o777).toBe(0o600);
    // Released: taken again at once.
    expect(withHomeLock(lock, () => "again", { timeoutMs: 0 })).toBe("again");
  });

  it("keeps a second process out until the holder lets go", async () => {
    const lock = join(dir, "b.lock");
    const child = await holder(lock, 1500);
    expect(codeOf(() => withHomeLock(lock, () => "in", { timeoutMs: 200 }))).toBe("lock-timeout");
    await exited(child);
    expect(withHomeLock(lock, () => "in", { timeoutMs: 0 })).toBe("in");
  });

  it("is released when its holder is killed, with nothing to clean up", async () => {
    const lock = join(dir, "c.lock");
    const child = await holder(lock, 60_000);
    expect(codeOf(() => withHomeLock(lock, () => "in", { timeoutMs: 100 }))).toBe("lock-timeout");
    child.kill("SIGKILL");
    await exited(child);
    expect(withHomeLock(lock, () => "in", { timeoutMs: 0 })).toBe("in");
  });

  it("refuses to be taken again inside itself, and is still held and then released", () => {
    const lock = join(dir, "d.lock");
    const inner = withHomeLock(lock, () => codeOf(() => withHomeLock(lock, () => "in", { timeoutMs: 100 })));
    expect(inner).toBe("internal");
    expect(withHomeLock(lock, () => "after", { timeoutMs: 0 })).toBe("after");
  });

  it("follows its file: a lock file removed or replaced under a running signer is opened afresh", async () => {
    const lock = join(dir, "f.lock");
    expect(withHomeLock(lock, () => 1)).toBe(1);
    rmSync(lock);
    // Another process now locks the new file at that name; this one must wait for it.
    const child = await holder(lock, 1500);
    expect(codeOf(() => withHomeLock(lock, () => "in", { timeoutMs: 200 }))).toBe("lock-timeout");
    await exited(child);
    expect(withHomeLock(lock, () => "in", { timeoutMs: 0 })).toBe("in");
  });

  it("refuses a symbolic link at its name instead of following it", () => {
    const target = join(dir, "elsewhere");
    writeFileSync(target, "");
    const lock = join(dir, "e.lock");
    symlinkSync(target, lock);
    expect(codeOf(() => withHomeLock(lock, () => "in"))).toBe("state-unwritable");
    expect(() => withHomeLock(lock, () => "in")).toThrow(/is a symbolic link; remove it/);
  });
});
