// `airgrant-auditor verify` on a sealed host log of 1,000,000 entries,
// as a whole process, against `sha256sum` of the same file in the same
// run: with every seal checked (--key) and an earlier audit's head
// (--since), as an auditor runs it (target <= 3), and the chain alone.
// Both use two cores on a log this size; the three commands take turns,
// RUNS times, so that drift in a shared machine hits them alike.
// `--entries N` shrinks a run for a quick look.
import { spawnSync } from "node:child_process";
import { closeSync, openSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  AUDIT_LOG_FORMAT,
  type AuditValue,
  encodeAuditEntry,
  encodeSealReceipt,
  evolveSealKey,
  GENESIS_PREV,
  sealMember,
} from "@airgrant/core";
import { AUDITOR_CLI } from "@airgrant/testkit";
import { fmt, JSON_OUTPUT, median, numberOption, report, workDir } from "./bench-support.js";

const ENTRIES = numberOption("entries", 1_000_000);
const START = Date.parse("2026-10-01T00:00:00Z") / 1000;
const EPOCH_SECONDS = 900;
const RUNS = 5;
const LOG_ID = "5e".repeat(16);
const dir = workDir("auditor-verify");
const log = join(dir, "audit.log");
const receiptPath = join(dir, "receipt.json");
const earlierPath = join(dir, "earlier-audit.json");

/** A host log as the verifier writes it: a grant check every 2 s, each sealed with its epoch's key. */
function generate(): void {
  const keys: Uint8Array[] = [new Uint8Array(32).fill(0x5e)];
  const fd = openSync(log, "w", 0o600);
  let prev = GENESIS_PREV;
  let batch: Buffer[] = [];
  let bytes = 0;
  for (let seq = 1; seq <= ENTRIES; seq++) {
    const seconds = START + seq * 2;
    const time = new Date(seconds * 1000).toISOString();
    let type = "log-opened";
    let data: Record<string, AuditValue> = { format: AUDIT_LOG_FORMAT, logId: LOG_ID };
    if (seq > 1) {
      const epoch = Math.floor((seconds - START) / EPOCH_SECONDS);
      while (keys.length <= epoch) keys.push(evolveSealKey(keys.at(-1) as Uint8Array));
      const key = keys[epoch] as Uint8Array;
      const id = (seq * 2654435761).toString(16).padStart(12, "0");
      type = "grant-check";
      data = {
        grantId: `${id}${id}${id.slice(0, 8)}`,
        host: "plc-7.plant",
        user: `engineer${seq % 97}`,
        verdict: "allowed",
      };
      data = { ...data, ...sealMember(key, epoch, encodeAuditEntry(seq, time, type, data, prev).entry) };
    }
    const { entry, line } = encodeAuditEntry(seq, time, type, data, prev);
    prev = entry.hash;
    batch.push(line, Buffer.from("\n"));
    bytes += line.length + 1;
    if (bytes > 8e6 || seq === ENTRIES) {
      writeSync(fd, Buffer.concat(batch));
      batch = [];
      bytes = 0;
    }
  }
  closeSync(fd);
  const receipt = {
    logId: LOG_ID,
    host: "plc-7",
    start: START,
    epochSeconds: EPOCH_SECONDS,
    key: keys[0] as Uint8Array,
  };
  writeFileSync(receiptPath, encodeSealReceipt({ ...receipt, firstSealedSeq: 2 }));
}

const cli = AUDITOR_CLI;

interface Timed {
  ms: number;
  peakKiB: number;
  stdout: string;
}

/** One whole process under /usr/bin/time: wall time and peak RSS. */
function timed(command: string, args: string[]): Timed {
  const t = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "%M", command, ...args], { encoding: "utf8", maxBuffer: 1 << 26 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${command} ${args[0]} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return { ms, peakKiB: Number(r.stderr.trim().split("\n").at(-1)), stdout: r.stdout };
}

const say = (text: string) => JSON_OUTPUT || console.log(text);
say(`generating ${fmt(ENTRIES, 0)} sealed entries in ${log} …`);
generate();
const size = statSync(log).size;
say(`  ${fmt(size / 1e6, 1)} MB`);
// The earlier audit, as the auditor kept it: what --since checks against.
writeFileSync(earlierPath, timed(process.execPath, [cli, "verify", log, "--json"]).stdout);

const runs: Record<"sha" | "chain" | "evidence", Timed[]> = { sha: [], chain: [], evidence: [] };
for (let i = 0; i < RUNS; i++) {
  runs.sha.push(timed("sha256sum", [log]));
  runs.chain.push(timed(process.execPath, [cli, "verify", log]));
  runs.evidence.push(timed(process.execPath, [cli, "verify", log, "--key", receiptPath, "--since", earlierPath]));
}
const ms = (list: Timed[]) => median(list.map((r) => r.ms));
const peak = (list: Timed[]) => Math.max(...list.map((r) => r.peakKiB)) / 1024;
if (!runs.evidence[0]?.stdout.includes(`sealed (host plc-7) through entry ${ENTRIES};`)) {
  throw new Error(`unexpected verify output: ${runs.evidence[0]?.stdout}`);
}
const shaMs = ms(runs.sha);
report({
  bench: "auditor-verify-sealed",
  what: `airgrant-auditor verify --key --since, ${fmt(ENTRIES, 0)} sealed entries (every seal checked)`,
  oursMs: ms(runs.evidence),
  baseline: "sha256sum of the file",
  baselineMs: shaMs,
  target: "<= 3",
  peakRssMiB: Math.round(peak(runs.evidence)),
});
report({
  bench: "auditor-verify-chain",
  what: `airgrant-auditor verify, ${fmt(ENTRIES, 0)} entries (chain alone)`,
  oursMs: ms(runs.chain),
  baseline: "sha256sum of the file",
  baselineMs: shaMs,
  target: "none, for reference",
  peakRssMiB: Math.round(peak(runs.chain)),
});
