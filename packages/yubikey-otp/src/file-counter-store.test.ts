import { spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { childRun, codeOf } from "@airgrant/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { COUNTER_STORE_FORMAT, fileCounterStore } from "./file-counter-store.js";
import { generateOtp } from "./generate-otp.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "airgrant-otp-store-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("fileCounterStore", () => {
  it("accepts only strictly increasing counters and keeps them across instances", () => {
    const path = join(dir, "counters.json");
    const store = fileCounterStore(path);
    expect(store.lastAccepted("cccccccccccc")).toBeUndefined();
    expect(store.advance("cccccccccccc", { usageCounter: 2, sessionCounter: 5 })).toEqual({ accepted: true });
    expect(store.advance("cccccccccccc", { usageCounter: 2, sessionCounter: 5 })).toEqual({
      accepted: false,
      last: { usageCounter: 2, sessionCounter: 5 },
    });
    expect(store.advance("cccccccccccc", { usageCounter: 1, sessionCounter: 200 }).accepted).toBe(false);
    expect(store.advance("cccccccccccc", { usageCounter: 2, sessionCounter: 6 }).accepted).toBe(true);
    expect(store.advance("", { usageCounter: 0, sessionCounter: 0 }).accepted).toBe(true);

    const reopened = fileCounterStore(path);
    expect(reopened.lastAccepted("cccccccccccc")).toEqual({ usageCounter: 2, sessionCounter: 6 });
    expect(reopened.advance("cccccccccccc", { usageCounter: 2, sessionCounter: 6 }).accepted).toBe(false);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
      format: COUNTER_STORE_FORMAT,
      keys: { "": { usageCounter: 0, sessionCounter: 0 }, cccccccccccc: { usageCounter: 2, sessionCounter: 6 } },
    });
  });

  it("creates its directory 0700 and its file 0600, and leaves no lock or temporary file", () => {
    const path = join(dir, "state", "otp", "counters.json");
    fileCounterStore(path).advance("cccccccccccc", { usageCounter: 1, sessionCounter: 0 });
    expect(statSync(join(dir, "state", "otp")).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "state", "otp"))).toEqual(["counters.json"]);
  });

  it.each([
    ["empty", ""],
    ["not JSON", "{"],
    ["a truncated document", `{"format":"${COUNTER_STORE_FORMAT}","keys":{"cccc":{"usageCounter":1,`],
    ["an array", "[]"],
    ["null", "null"],
    ["another format", `{"format":"airgrant-otp-counters-v2","keys":{}}`],
    ["a missing keys field", `{"format":"${COUNTER_STORE_FORMAT}"}`],
    ["an extra field", `{"format":"${COUNTER_STORE_FORMAT}","keys":{},"x":1}`],
    ["keys as an array", `{"format":"${COUNTER_STORE_FORMAT}","keys":[]}`],
    [
      "a public id that is not modhex",
      `{"format":"${COUNTER_STORE_FORMAT}","keys":{"abc":{"usageCounter":1,"sessionCounter":1}}}`,
    ],
    [
      "a __proto__ public id",
      `{"format":"${COUNTER_STORE_FORMAT}","keys":{"__proto__":{"usageCounter":1,"sessionCounter":1}}}`,
    ],
    [
      "a counter as a string",
      `{"format":"${COUNTER_STORE_FORMAT}","keys":{"cccc":{"usageCounter":"1","sessionCounter":1}}}`,
    ],
    [
      "a negative counter",
      `{"format":"${COUNTER_STORE_FORMAT}","keys":{"cccc":{"usageCounter":-1,"sessionCounter":1}}}`,
    ],
    [
      "a fractional counter",
      `{"format":"${COUNTER_STORE_FORMAT}","keys":{"cccc":{"usageCounter":1.5,"sessionCounter":1}}}`,
    ],
    [
      "a session counter over 255",
      `{"format":"${COUNTER_STORE_FORMAT}","keys":{"cccc":{"usageCounter":1,"sessionCounter":256}}}`,
    ],
    ["a missing session counter", `{"format":"${COUNTER_STORE_FORMAT}","keys":{"cccc":{"usageCounter":1}}}`],
    [
      "an extra counter field",
      `{"format":"${COUNTER_STORE_FORMAT}","keys":{"cccc":{"usageCounter":1,"sessionCounter":1,"x":0}}}`,
    ],
  ])("refuses a store that is %s, and leaves it as it was", (_, content) => {
    const path = join(dir, "counters.json");
    writeFileSync(path, content, { mode: 0o600 });
    const store = fileCounterStore(path);
    expect(codeOf(() => store.advance("cccc", { usageCounter: 9, sessionCounter: 9 }))).toBe("otp-store-corrupt");
    expect(codeOf(() => store.lastAccepted("cccc"))).toBe("otp-store-corrupt");
    expect(readFileSync(path, "utf8")).toBe(content);
  });

  it("says the store cannot be read when its path is a directory", () => {
    const path = join(dir, "counters.json");
    mkdirSync(path);
    expect(codeOf(() => fileCounterStore(path).advance("cccc", { usageCounter: 1, sessionCounter: 0 }))).toBe(
      "state-unwritable",
    );
  });

  it("times out, changing nothing, while another live process holds the lock", () => {
    const path = join(dir, "counters.json");
    const store = fileCounterStore(path, { timeoutMs: 100 });
    store.advance("cccc", { usageCounter: 1, sessionCounter: 0 });
    symlinkSync(`${process.pid} held-by-test`, `${path}.lock`);
    expect(codeOf(() => store.advance("cccc", { usageCounter: 2, sessionCounter: 0 }))).toBe("lock-timeout");
    expect(store.lastAccepted("cccc")).toEqual({ usageCounter: 1, sessionCounter: 0 });
  });

  it.each([
    ["a public id that is not modhex", "xyz", { usageCounter: 1, sessionCounter: 0 }],
    ["a public id over 16 characters", "c".repeat(18), { usageCounter: 1, sessionCounter: 0 }],
    ["a usage counter over 15 bits", "cccc", { usageCounter: 0x8000, sessionCounter: 0 }],
    ["a session counter over 8 bits", "cccc", { usageCounter: 1, sessionCounter: 256 }],
  ])("refuses to record %s", (_, publicId, counter) => {
    const path = join(dir, "counters.json");
    expect(codeOf(() => fileCounterStore(path).advance(publicId, counter))).toBe("bad-input");
    expect(existsSync(path)).toBe(false);
  });
});

describe("fileCounterStore shared by concurrent processes", () => {
  const WORKER = fileURLToPath(new URL("./file-counter-store.test-worker.ts", import.meta.url));
  const WORKERS = 6;
  const OTPS = 120;

  async function runWorker(jobPath: string): Promise<{ accepted: string[]; refused: Record<string, number> }> {
    const { status, stdout, stderr } = await childRun(
      spawn(process.execPath, ["--import", "tsx", WORKER, jobPath], { stdio: ["ignore", "pipe", "pipe"] }),
    );
    if (status !== 0) throw new Error(`worker exited ${status}: ${stderr}`);
    return JSON.parse(stdout);
  }

  it("accepts each OTP at most once, never moves a counter back and keeps the file valid", async () => {
    const aesKey = new Uint8Array(16).map((_, i) => i * 17 + 3);
    const privateId = new Uint8Array([9, 8, 7, 6, 5, 4]);
    const publicId = "vvcccccccccb";
    // Counters that cross a session counter wrap (255 -> usage + 1).
    const counters = Array.from({ length: OTPS }, (_, i) => ({
      usageCounter: 3 + ((250 + i) >> 8),
      sessionCounter: (250 + i) & 0xff,
    }));
    const otps = counters.map((counter, i) =>
      generateOtp({ aesKey, publicId, privateId, ...counter, timestamp: i, random: i }),
    );
    const rank = (otp: string): number => otps.indexOf(otp);
    const storePath = join(dir, "counters.json");
    const jobPath = join(dir, "job.json");
    const goPath = join(dir, "go");
    writeFileSync(
      jobPath,
      JSON.stringify({
        storePath,
        readyPrefix: join(dir, "ready-"),
        goPath,
        publicId,
        aesKeyHex: Buffer.from(aesKey).toString("hex"),
        privateIdHex: Buffer.from(privateId).toString("hex"),
        otps,
      }),
      { mode: 0o600 },
    );

    // Watch the file while the workers race: every version seen must parse and
    // move forward.
    const seen: number[] = [];
    const watchErrors: string[] = [];
    const watcher = setInterval(() => {
      let text: string;
      try {
        text = readFileSync(storePath, "utf8");
      } catch {
        return;
      }
      try {
        const entry = JSON.parse(text).keys[publicId];
        seen.push(entry.usageCounter * 256 + entry.sessionCounter);
      } catch (err) {
        watchErrors.push(`${String(err)}: ${JSON.stringify(text)}`);
      }
    }, 1);
    let results: { accepted: string[]; refused: Record<string, number> }[];
    try {
      let failed = false;
      const running = Promise.all(Array.from({ length: WORKERS }, () => runWorker(jobPath)));
      running.catch(() => {
        failed = true;
      });
      const ready = () => readdirSync(dir).filter((name) => name.startsWith("ready-")).length;
      const deadline = Date.now() + 30_000;
      while (!failed && ready() < WORKERS && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      writeFileSync(goPath, "");
      results = await running;
    } finally {
      clearInterval(watcher);
      // Release any worker still waiting, even when the test failed early.
      writeFileSync(goPath, "");
    }

    expect(watchErrors).toEqual([]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1] as number);

    // Every worker tries every OTP in order, so an OTP can only be skipped
    // if a later one was accepted before it, by a worker that had just tried
    // it: each OTP is accepted exactly once, by one of the workers.
    const allAccepted = results.flatMap((result) => result.accepted);
    expect(allAccepted.length).toBe(OTPS);
    expect(new Set(allAccepted)).toEqual(new Set(otps));
    for (const result of results) {
      const ranks = result.accepted.map(rank);
      expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      expect(Object.keys(result.refused).every((code) => code === "otp-replayed")).toBe(true);
      expect(result.accepted.length + (result.refused["otp-replayed"] ?? 0)).toBe(OTPS);
    }

    expect(fileCounterStore(storePath).lastAccepted(publicId)).toEqual(counters[OTPS - 1]);
    expect(
      readdirSync(dir)
        .filter((name) => !name.startsWith("ready-"))
        .sort(),
    ).toEqual(["counters.json", "go", "job.json"]);
  }, 60_000);
});
