import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AuditEntry } from "@airgrant/core";
import { afterAll, describe, expect, it } from "vitest";
import { headsNotGiven, KnownHeadCheck, readKnownHeads } from "./known-heads.js";

const work = mkdtempSync(join(tmpdir(), "airgrant-known-heads-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const LOG_A = "a".repeat(32);
const LOG_B = "b".repeat(32);
const hash = (c: string) => c.repeat(64);

function earlierAudit(logs: unknown[]): string {
  const file = join(work, `audit-${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ ok: false, code: "chain-broken", logs }));
  return file;
}

function entry(seq: number, entryHash: string, logId = LOG_A): AuditEntry {
  return {
    seq,
    time: "2026-11-25T00:00:00.000Z",
    type: seq === 1 ? "log-opened" : "grant-check",
    data: { logId },
    prev: "",
    hash: entryHash,
  };
}

describe("readKnownHeads", () => {
  it("keeps each log's furthest head, a broken log's last verified entry included, and skips logs with neither", () => {
    const file = earlierAudit([
      { path: "a.log", ok: true, logId: LOG_A, head: { seq: 4, hash: hash("1") } },
      { path: "a-again.log", ok: true, logId: LOG_A, head: { seq: 9, hash: hash("2") } },
      { path: "a-old.log", ok: true, logId: LOG_A, head: { seq: 2, hash: hash("3") } },
      { path: "b.log", ok: false, code: "hash-mismatch", logId: LOG_B, head: { seq: 3, hash: hash("4") } },
      { path: "empty.log", ok: false, code: "empty-log" },
    ]);
    const known = readKnownHeads(file);
    expect(known.file).toBe(file);
    expect([...known.byLogId.values()]).toEqual([
      { logId: LOG_A, seq: 9, hash: hash("2"), path: "a-again.log" },
      { logId: LOG_B, seq: 3, hash: hash("4"), path: "b.log" },
    ]);
    expect(headsNotGiven(known, new Set([LOG_B, undefined])).map((h) => h.logId)).toEqual([LOG_A]);
  });
});

describe("KnownHeadCheck", () => {
  const known = readKnownHeads(earlierAudit([{ path: "a.log", logId: LOG_A, head: { seq: 3, hash: hash("c") } }]));

  it("passes a log that holds the head and goes on past it", () => {
    const check = new KnownHeadCheck(known);
    for (const [seq, h] of [
      [1, hash("a")],
      [2, hash("b")],
      [3, hash("c")],
      [4, hash("d")],
    ] as const) {
      expect(check.onEntry(entry(seq, h))).toBeUndefined();
    }
    expect(check.onEnd({ seq: 4, hash: hash("d") })).toBeUndefined();
    expect(check.onEnd({ seq: 3, hash: hash("c") })).toBeUndefined();
    expect(check.head?.seq).toBe(3);
  });

  it("says rewritten at the head's entry when it differs, and truncated when the log ends before it", () => {
    const rewritten = new KnownHeadCheck(known);
    rewritten.onEntry(entry(1, hash("a")));
    expect(rewritten.onEntry(entry(3, hash("e")))).toMatchObject({ code: "rewritten" });
    const cut = new KnownHeadCheck(known);
    cut.onEntry(entry(1, hash("a")));
    expect(cut.onEnd({ seq: 2, hash: hash("b") })).toMatchObject({
      code: "truncated",
      message: expect.stringContaining("ends at entry 2, but the audit in"),
    });
  });

  it("checks nothing on a log the earlier audit did not see", () => {
    const check = new KnownHeadCheck(known);
    check.onEntry(entry(1, hash("a"), LOG_B));
    expect(check.onEntry(entry(3, hash("e"), LOG_B))).toBeUndefined();
    expect(check.onEnd({ seq: 1, hash: hash("a") })).toBeUndefined();
    expect(check.head).toBeUndefined();
  });
});
