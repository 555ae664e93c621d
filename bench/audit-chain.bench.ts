// Audit chain benchmark:
// - verifyAuditLog on a 1,000,000-entry log against `sha256sum` of the same
//   file, in one run, with the verifier's peak resident memory;
// - fsynced appendAuditEntry against the floor: a bare O_APPEND write of a
//   line of the same size plus fsync.
// Needs a build (`npm run build`). Works in bench/.work/ and deletes the big
// file afterwards.
import { spawnSync } from "node:child_process";
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  AUDIT_LOG_FORMAT,
  type AuditValue,
  appendAuditEntry,
  encodeAuditEntry,
  GENESIS_PREV,
  withFileLock,
} from "@airgrant/core";
import { fmt, numberOption, ROOT } from "./bench-support.js";

/** `--entries N` and `--appends N` shrink a run for a quick look; the defaults are the reported figures. */
const ENTRIES = numberOption("entries", 1_000_000);
const APPENDS = numberOption("appends", 2_000);
const work = join(ROOT, "bench", ".work");
mkdirSync(work, { recursive: true });
const bigLog = join(work, "audit-chain-1m.log");

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** A host's grant-checked entry: realistic sizes (ids, names, a hash of what was presented). */
function dataOf(seq: number): Record<string, AuditValue> {
  const id = (seq * 2654435761).toString(16).padStart(12, "0");
  return {
    grantId: `${id}${id}${id.slice(0, 8)}`,
    host: `host-${seq % 500}.plant`,
    user: `engineer${seq % 97}`,
    verdict: seq % 13 === 0 ? "grant-expired" : "allowed",
  };
}

function generate(path: string, entries: number): number {
  const fd = openSync(path, "w", 0o600);
  const t0 = process.hrtime.bigint();
  let prev = GENESIS_PREV;
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const base = Date.UTC(2026, 0, 1);
  for (let seq = 1; seq <= entries; seq++) {
    const time = new Date(base + seq * 250).toISOString();
    const { entry, line } =
      seq === 1
        ? encodeAuditEntry(1, time, "log-opened", { format: AUDIT_LOG_FORMAT, logId: "0f".repeat(16) }, prev)
        : encodeAuditEntry(seq, time, "grant-checked", dataOf(seq), prev);
    prev = entry.hash;
    batch.push(line, NEWLINE);
    batchBytes += line.length + 1;
    if (batchBytes > 8 * 1024 * 1024 || seq === entries) {
      const buf = Buffer.concat(batch, batchBytes);
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off);
      batch = [];
      batchBytes = 0;
    }
  }
  fsyncSync(fd);
  closeSync(fd);
  return ms(t0);
}
const NEWLINE = Buffer.from("\n");

function timeSha256sum(path: string): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("sha256sum", [path], { encoding: "utf8" });
  const elapsed = ms(t0);
  if (r.status !== 0) throw new Error(`sha256sum failed: ${r.stderr}`);
  return elapsed;
}

/**
 * The peak resident set of the process that evaluates this, from the kernel's
 * high-water mark (VmHWM). Not getrusage's maxRSS: that survives fork and exec,
 * so a child spawned from this big process would report this process's size.
 */
const PEAK_RSS_KB = `Number(/VmHWM:\\s*(\\d+)/.exec(readFileSync("/proc/self/status", "utf8"))[1])`;

interface VerifyRun {
  ms: number;
  ok: boolean;
  entries: number;
  maxRssKb: number;
}

/**
 * verifyAuditLog in a fresh process, so that its peak RSS is the verifier's
 * own; run from the root, where @airgrant/core resolves by name.
 */
function timeVerify(path: string): VerifyRun {
  const script = `
    import { readFileSync } from "node:fs";
    import { verifyAuditLog } from "@airgrant/core";
    const t0 = process.hrtime.bigint();
    const report = verifyAuditLog(${JSON.stringify(path)});
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(JSON.stringify({ ms, ok: report.ok, entries: report.entries, maxRssKb: ${PEAK_RSS_KB} }));
  `;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`verify failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function baselineRssKb(): number {
  const script = `import { readFileSync } from "node:fs"; console.log(${PEAK_RSS_KB});`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  return Number(r.stdout);
}

// 1. Durable appends against the floor, first: deleting the big log later
// keeps the disk busy for a while. The two alternate in blocks, so that a
// drift in the disk's speed hits both alike.
{
  const appendLog = join(work, "audit-append.log");
  const bareLog = join(work, "bare-append.log");
  rmSync(appendLog, { force: true });
  rmSync(bareLog, { force: true });
  appendAuditEntry(appendLog, "grant-checked", dataOf(1)); // Create it outside the timing.
  const sample = encodeAuditEntry(APPENDS, new Date().toISOString(), "grant-checked", dataOf(2), GENESIS_PREV).line;
  const line = Buffer.from(`${"x".repeat(sample.length)}\n`);
  const block = 250;
  const bareAppend = () => {
    const fd = openSync(bareLog, "a", 0o600);
    writeSync(fd, line);
    fsyncSync(fd);
    closeSync(fd);
  };
  let appendMs = 0;
  let bareMs = 0;
  let lockedMs = 0;
  for (let done = 0; done < APPENDS; done += block) {
    let t0 = process.hrtime.bigint();
    for (let i = 0; i < block; i++) appendAuditEntry(appendLog, "grant-checked", dataOf(done + i + 2));
    appendMs += ms(t0);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < block; i++) bareAppend();
    bareMs += ms(t0);
    t0 = process.hrtime.bigint();
    for (let i = 0; i < block; i++) withFileLock(`${bareLog}.lock`, bareAppend);
    lockedMs += ms(t0);
  }
  const count = Math.ceil(APPENDS / block) * block;
  const appendRate = count / (appendMs / 1000);
  const bareRate = count / (bareMs / 1000);
  console.log(
    `appendAuditEntry          ${fmt(appendRate, 0)} appends/s (${fmt(appendMs / count, 3)} ms each, fsynced, lock included)`,
  );
  console.log(
    `bare O_APPEND+fsync       ${fmt(bareRate, 0)} appends/s (${fmt(bareMs / count, 3)} ms each, ${line.length}-byte lines)`,
  );
  console.log(`ratio append/bare         ${fmt(appendRate / bareRate, 2)}`);
  console.log(
    `  of which the lock file   ${fmt(lockedMs / count, 3)} ms for a bare append under withFileLock (${fmt(lockedMs / count - bareMs / count, 3)} ms more)`,
  );
  rmSync(appendLog, { force: true });
  rmSync(bareLog, { force: true });
}

// 2. Chain verification against sha256sum.
console.log(`generating ${fmt(ENTRIES, 0)} entries in ${bigLog} …`);
const genMs = generate(bigLog, ENTRIES);
const size = statSync(bigLog).size;
console.log(
  `  ${fmt(size / 1e6, 1)} MB, ${fmt(size / ENTRIES, 0)} bytes/entry on average, written in ${fmt(genMs / 1000, 1)} s`,
);
timeSha256sum(bigLog); // Warm the page cache so both read from memory.
const runs: Array<{ sum: number; verify: VerifyRun }> = [];
for (let i = 0; i < 2; i++) runs.push({ sum: timeSha256sum(bigLog), verify: timeVerify(bigLog) });
const bestSum = Math.min(...runs.map((r) => r.sum));
const bestVerify = runs.reduce((a, b) => (a.verify.ms <= b.verify.ms ? a : b)).verify;
if (!bestVerify.ok || bestVerify.entries !== ENTRIES) throw new Error("the generated log did not verify");
const peakRssMb = Math.max(...runs.map((r) => r.verify.maxRssKb)) / 1024;
console.log(`sha256sum                 ${fmt(bestSum, 0)} ms   (${fmt(size / 1e6 / (bestSum / 1000), 0)} MB/s)`);
console.log(
  `verifyAuditLog            ${fmt(bestVerify.ms, 0)} ms   (${fmt(ENTRIES / (bestVerify.ms / 1000), 0)} entries/s, ${fmt(size / 1e6 / (bestVerify.ms / 1000), 0)} MB/s)`,
);
console.log(`ratio verify/sha256sum    ${fmt(bestVerify.ms / bestSum, 2)}   (best of ${runs.length} each)`);
console.log(
  `verifier peak RSS         ${fmt(peakRssMb, 1)} MB   (an empty node process: ${fmt(baselineRssKb() / 1024, 1)} MB)`,
);
rmSync(bigLog, { force: true });
