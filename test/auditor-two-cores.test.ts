// The auditor's evidence checks (seals, checkpoints, an earlier audit's
// heads) on a log large enough to be verified on two cores must give
// exactly the verdict of one pass, wherever the fault lies: in the first
// half, in the second, or across the boundary between them.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// The packages' builds, which the workers import as well (npm test builds first).
import { type EvidenceInputs, evidenceSplitCheck, LogEvidence } from "@airgrant/auditor";
import {
  AUDIT_LOG_FORMAT,
  type AuditValue,
  checkpointData,
  checkpointMessage,
  encodeAuditEntry,
  evolveSealKey,
  GENESIS_PREV,
  sealMember,
  verifyAuditLog,
  verifyAuditLogChecked,
} from "@airgrant/core";
import { makeTestIssuer, signWith, trustedIssuer } from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "airgrant-two-cores-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENTRIES = 20_000;
const LOG_ID = "c".repeat(32);
const START = 1_800_000_000;
const EPOCH = 900;
const KEY0 = new Uint8Array(32).fill(7);
const KEYS: Uint8Array[] = [KEY0];
while (KEYS.length < 1000) KEYS.push(evolveSealKey(KEYS[KEYS.length - 1] as Uint8Array));
const receipt = { logId: LOG_ID, host: "h", start: START, epochSeconds: EPOCH, key: KEY0, firstSealedSeq: 2 };
const issuer = makeTestIssuer();

interface Plan {
  /** Seconds of entry `seq`; its seal epoch follows from it. */
  time(seq: number): number;
  sealed: boolean;
  /** Every this many entries a signed checkpoint (0: none). */
  checkpointEvery: number;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** A log of ENTRIES lines (over 32 MiB, so verified on two cores), written in bulk. */
function buildLog(plan: Plan, edit?: { seq: number; data: Record<string, AuditValue> }): Buffer {
  const lines: Buffer[] = [];
  let prev = GENESIS_PREV;
  for (let seq = 1; seq <= ENTRIES; seq++) {
    const time = iso(plan.time(seq));
    let type = "grant-check";
    let data: Record<string, AuditValue> = { n: seq, pad: "x".repeat(1600) };
    if (seq === 1) {
      type = "log-opened";
      data = { format: AUDIT_LOG_FORMAT, logId: LOG_ID };
    } else if (plan.checkpointEvery > 0 && seq % plan.checkpointEvery === 0) {
      type = "checkpoint";
      const head = { seq: seq - 1, hash: prev };
      const key = { keyId: trustedIssuer(issuer).keyId, algorithm: issuer.algorithm };
      data = checkpointData(LOG_ID, head, key, signWith(issuer, checkpointMessage(LOG_ID, head.seq, head.hash)));
    } else if (edit?.seq === seq) {
      data = edit.data;
    }
    if (plan.sealed && seq > 1) {
      // The seal is made before the edit of a forger without keys would be: keep the original's.
      const sealedData = edit?.seq === seq ? { n: seq, pad: "x".repeat(1600) } : data;
      const epoch = Math.floor((plan.time(seq) - START) / EPOCH);
      const unsealed = encodeAuditEntry(seq, time, type, sealedData, prev).entry;
      data = { ...data, ...sealMember(KEYS[epoch] as Uint8Array, epoch, unsealed) };
    }
    const { entry, line } = encodeAuditEntry(seq, time, type, data, prev);
    prev = entry.hash;
    lines.push(line, Buffer.from("\n"));
  }
  return Buffer.concat(lines);
}

/** The first line of the second half, as verifyAuditLog splits a log. */
function secondHalfStart(bytes: Buffer): number {
  const mid = bytes.indexOf(0x0a, Math.floor(bytes.length / 2)) + 1;
  let seq = 1;
  for (let at = bytes.indexOf(0x0a); at !== -1 && at < mid; at = bytes.indexOf(0x0a, at + 1)) seq++;
  return seq;
}

/** The offset where line `line` starts. */
function lineOffset(bytes: Buffer, line: number): number {
  let at = 0;
  for (let i = 1; i < line; i++) at = bytes.indexOf(0x0a, at) + 1;
  return at;
}

/** Entry `seq`'s data replaced and every entry from it on chained again, other data kept: a forger without keys. */
function rechainFrom(bytes: Buffer, seq: number, data: Record<string, AuditValue>): Buffer {
  const start = lineOffset(bytes, seq);
  let prev = (JSON.parse(bytes.subarray(lineOffset(bytes, seq - 1), start - 1).toString()) as { hash: string }).hash;
  const out: Buffer[] = [bytes.subarray(0, start)];
  for (const text of bytes.subarray(start).toString().trimEnd().split("\n")) {
    const e = JSON.parse(text) as { seq: number; time: string; type: string; data: Record<string, AuditValue> };
    const { entry, line } = encodeAuditEntry(e.seq, e.time, e.type, e.seq === seq ? data : e.data, prev);
    prev = entry.hash;
    out.push(line, Buffer.from("\n"));
  }
  return Buffer.concat(out);
}

let files = 0;
/** Both ways: the split check (two workers) and one pass with LogEvidence in this thread. */
function both(bytes: Buffer, inputs: EvidenceInputs) {
  const path = join(dir, `log-${++files}.log`);
  writeFileSync(path, bytes);
  const check = evidenceSplitCheck(inputs);
  const parallel = verifyAuditLogChecked(path, check);
  // This thread's check saw no entry: the two workers did the work.
  const untouched = inputs.issuers.length > 0 ? { checkpoints: { checkpoints: 0, lastCheckpointedSeq: 0 } } : {};
  expect(check.local.summary()).toEqual(untouched);
  const evidence = new LogEvidence(inputs);
  const report = verifyAuditLog(path, {
    onEntry: (entry) => evidence.onEntry(entry),
    onEnd: (head) => evidence.onEnd(head),
  });
  const sequential = { report, summary: evidence.summary() };
  return { parallel, sequential };
}

/** The summary without the first sealed entry, which only the join needs. */
function shown(summary: ReturnType<LogEvidence["summary"]>) {
  if (summary.seals === undefined) return summary;
  const { firstSealed: _, ...seals } = summary.seals;
  return { ...summary, seals };
}

describe("the auditor's evidence on two cores", () => {
  const moving: Plan = { time: (seq) => START + 100 * EPOCH + seq * 8, sealed: true, checkpointEvery: 0 };
  const sealedLog = buildLog(moving);
  const boundary = secondHalfStart(sealedLog);

  it("agrees on an intact sealed log, with epochs moving across the boundary and without", () => {
    expect(sealedLog.length).toBeGreaterThan(32 * 1024 * 1024);
    const moved = both(sealedLog, { receipts: [receipt], issuers: [] });
    expect(moved.parallel.report).toEqual(moved.sequential.report);
    expect(shown(moved.parallel.summary)).toEqual(shown(moved.sequential.summary));
    expect(moved.parallel.report).toMatchObject({ ok: true, entries: ENTRIES });
    expect(moved.parallel.summary.seals).toMatchObject({
      lastSealedSeq: ENTRIES,
      epoch: 100 + Math.floor((ENTRIES * 8) / EPOCH),
    });

    const still = both(buildLog({ ...moving, time: () => START + 5 * EPOCH }), { receipts: [receipt], issuers: [] });
    expect(shown(still.parallel.summary)).toEqual(shown(still.sequential.summary));
    expect(still.parallel.summary.seals).toMatchObject({ epoch: 5, epochStartSeq: 2 });
  });

  it("agrees on a seal going back to an earlier epoch at the second half's first entry, and later in it", () => {
    for (const at of [boundary, boundary + 2000]) {
      const back: Plan = { ...moving, time: (seq) => (seq === at ? START + 100 * EPOCH : moving.time(seq)) };
      const { parallel, sequential } = both(buildLog(back), { receipts: [receipt], issuers: [] });
      expect(parallel.report).toEqual(sequential.report);
      expect(parallel.report).toMatchObject({ ok: false, code: "bad-seal", seq: at, line: at });
    }
  });

  it("agrees on an entry changed after it was sealed, in either half", () => {
    for (const seq of [1000, boundary - 1, boundary, 18_000]) {
      const forged = buildLog(moving, { seq, data: { n: seq, pad: "y".repeat(1600) } });
      const { parallel, sequential } = both(forged, { receipts: [receipt], issuers: [] });
      expect(parallel.report).toEqual(sequential.report);
      expect(parallel.report).toMatchObject({ ok: false, code: "bad-seal", seq });
    }
  });

  it("agrees on signed checkpoints, intact and after a change in the second half", () => {
    const plan: Plan = { time: () => START, sealed: false, checkpointEvery: 1000 };
    const issuers = [trustedIssuer(issuer)];
    const intact = both(buildLog(plan), { receipts: [], issuers });
    expect(intact.parallel).toEqual(intact.sequential);
    expect(intact.parallel.summary.checkpoints).toEqual({ checkpoints: 20, lastCheckpointedSeq: 19_999 });
    // Entry 15,500 changed and the chain redone: the next checkpoint no longer signs the entry before it.
    const changed = both(rechainFrom(buildLog(plan), 15_500, { n: 0 }), { receipts: [], issuers });
    expect(changed.parallel.report).toEqual(changed.sequential.report);
    expect(changed.parallel.report).toMatchObject({ ok: false, code: "bad-checkpoint-signature", seq: 16_000 });
  });

  it("agrees on an earlier audit's head, held, rewritten or cut off", () => {
    const file = join(dir, "earlier.json");
    const known = (seq: number, hash: string) => ({
      file,
      byLogId: new Map([[LOG_ID, { logId: LOG_ID, seq, hash, path: "earlier.log" }]]),
    });
    // Entry 16,000 as the earlier audit saw it.
    const seen = JSON.parse(
      sealedLog.subarray(lineOffset(sealedLog, 16_000), lineOffset(sealedLog, 16_001) - 1).toString(),
    );

    const held = both(sealedLog, { receipts: [], issuers: [], known: known(16_000, seen.hash) });
    expect(held.parallel).toEqual(held.sequential);
    expect(held.parallel.summary.since).toEqual({ seq: 16_000, file });

    const rewritten = both(sealedLog, { receipts: [], issuers: [], known: known(16_000, "0".repeat(64)) });
    expect(rewritten.parallel.report).toEqual(rewritten.sequential.report);
    expect(rewritten.parallel.report).toMatchObject({ ok: false, code: "rewritten", seq: 16_000 });

    const cut = sealedLog.subarray(0, lineOffset(sealedLog, 18_001));
    const truncated = both(cut, { receipts: [], issuers: [], known: known(16_000, seen.hash) });
    expect(truncated.parallel).toEqual(truncated.sequential);
    expect(truncated.parallel.report).toMatchObject({ ok: true, entries: 18_000 });
    const past = both(cut, { receipts: [], issuers: [], known: known(ENTRIES, "0".repeat(64)) });
    expect(past.parallel.report).toEqual(past.sequential.report);
    expect(past.parallel.report).toMatchObject({ ok: false, code: "truncated", seq: 18_001, entriesVerified: 18_000 });
  });
});
