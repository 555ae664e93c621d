import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AirgrantError } from "./airgrant-error.js";
import { AUDIT_LOG_FORMAT, type AuditValue, encodeAuditEntry, GENESIS_PREV } from "./audit-entry.js";
import { verifyAuditLog } from "./verify-audit-log.js";

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "airgrant-verify-"));
  log = join(dir, "audit.log");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const LOG_ID = "0123456789abcdef0123456789abcdef";

function timeOf(seq: number): string {
  return new Date(Date.UTC(2026, 10, 25) + seq * 1000).toISOString();
}

/** Lines of a valid log of `n` entries (log-opened first), built in memory without fsync. */
function buildLines(n: number, dataOf: (seq: number) => Record<string, AuditValue> = (seq) => ({ seq })): string[] {
  const out: string[] = [];
  let prev = GENESIS_PREV;
  for (let seq = 1; seq <= n; seq++) {
    const type = seq === 1 ? "log-opened" : "event";
    const data = seq === 1 ? { format: AUDIT_LOG_FORMAT, logId: LOG_ID } : dataOf(seq);
    const { entry, line } = encodeAuditEntry(seq, timeOf(seq), type, data, prev);
    out.push(line.toString("utf8"));
    prev = entry.hash;
  }
  return out;
}

function writeLines(lines: string[], tail = "\n"): void {
  writeFileSync(log, lines.length === 0 ? "" : `${lines.join("\n")}${tail}`);
}

function hashOf(line: string): string {
  return (JSON.parse(line) as { hash: string }).hash;
}

describe("verifyAuditLog", () => {
  it("verifies an intact log and names its head and log id", () => {
    const lines = buildLines(10);
    writeLines(lines);
    expect(verifyAuditLog(log)).toEqual({
      ok: true,
      entries: 10,
      head: { seq: 10, hash: hashOf(lines[9] as string) },
      logId: LOG_ID,
      recoveries: 0,
    });
  });

  it("streams across read chunks: a log of several MiB with lines of many sizes", () => {
    const lines = buildLines(12_000, (seq) => ({ pad: "x".repeat((seq * 37) % 900), seq }));
    writeLines(lines);
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 12_000 });
  });

  it("an edited byte in the middle: hash-mismatch at that entry", () => {
    const lines = buildLines(20, (seq) => ({ user: "alice", seq }));
    lines[11] = (lines[11] as string).replace('"alice"', '"alicf"');
    writeLines(lines);
    expect(verifyAuditLog(log)).toMatchObject({
      ok: false,
      code: "hash-mismatch",
      seq: 12,
      line: 12,
      entriesVerified: 11,
      head: { seq: 11, hash: hashOf(lines[10] as string) },
      logId: LOG_ID,
    });
  });

  it("an edit that keeps the meaning but not the bytes: non-canonical-entry", () => {
    const cases = [
      (l: string) => l.replace('"data":{', '"data": {'),
      (l: string) => l.replace('"data":{"seq":7}', '"data":{"seq":7.0}'),
      (l: string) => l.replace('"data":{"seq":7}', '"data":{"seq":7,"seq":7}'),
      (l: string) => l.replace('"type":"event"', '"type":"\\u0065vent"'),
      (l: string) => l.replace('"seq":7,"time"', '"seq":7,"seq":7,"time"'),
      (l: string) => l.replace(/"hash":"([0-9a-f]{64})"/, (_, h: string) => `"hash":"${h.toUpperCase()}"`),
    ];
    for (const edit of cases) {
      const lines = buildLines(9);
      lines[6] = edit(lines[6] as string);
      writeLines(lines);
      const report = verifyAuditLog(log);
      expect(report.ok).toBe(false);
      if (report.ok) continue;
      expect([report.code, report.seq, report.line], lines[6]).toEqual(
        report.code === "malformed-entry" ? ["malformed-entry", 7, 7] : ["non-canonical-entry", 7, 7],
      );
    }
  });

  it("a time that toISOString would not write, or that names no instant: non-canonical-entry", () => {
    const bad = [
      "2026-02-29T00:00:00.000Z",
      "2100-02-29T00:00:00.000Z",
      "2026-04-31T00:00:00.000Z",
      "2026-13-01T00:00:00.000Z",
      "2026-00-10T00:00:00.000Z",
      "0000-01-01T00:00:00.000Z",
      "2026-11-25T24:00:00.000Z",
      "2026-11-25T23:60:00.000Z",
      "2026-11-25T23:59:60.000Z",
      "2026-11-25T23:59:59Z",
      "2026-11-25T23:59:59.000+00:00",
      "2026-11-25 23:59:59.000Z",
      "2026-11-25T23:59:5a.000Z",
      "2026-11-25T23:59:59.0a0Z",
      "2026-11-25T23:59:59.000z",
      "+02026-11-25T23:59:59.000Z",
      "2026-1-25T23:59:59.000ZZ",
    ];
    for (const time of bad) {
      expect(() => encodeAuditEntry(2, time, "event", {}, GENESIS_PREV), time).toThrow(/time must be/);
      const lines = buildLines(4);
      lines[2] = (lines[2] as string).replace(/"time":"[^"]*"/, `"time":"${time}"`);
      writeLines(lines);
      expect(verifyAuditLog(log), time).toMatchObject({ ok: false, code: "non-canonical-entry", line: 3 });
    }
    // Real instants at the edges are times like any other: the edit shows as a changed hash.
    for (const time of ["2024-02-29T00:00:00.000Z", "2000-02-29T23:59:59.999Z", "0001-01-01T00:00:00.000Z"]) {
      const lines = buildLines(4);
      lines[2] = (lines[2] as string).replace(/"time":"[^"]*"/, `"time":"${time}"`);
      writeLines(lines);
      expect(verifyAuditLog(log), time).toMatchObject({ ok: false, code: "hash-mismatch", line: 3 });
    }
  });
  it("invalid UTF-8 in a string: non-canonical-entry", () => {
    const lines = buildLines(3, () => ({ name: "é" }));
    const bytes = Buffer.from(`${lines.join("\n")}\n`);
    const at = bytes.indexOf(Buffer.from("é", "utf8"), bytes.indexOf("\n", bytes.indexOf("\n") + 1));
    bytes[at + 1] = 0xff;
    writeFileSync(log, bytes);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "non-canonical-entry", seq: 3, line: 3 });
  });

  it("a deleted entry: sequence-gap where it was", () => {
    const lines = buildLines(10);
    lines.splice(4, 1);
    writeLines(lines);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "sequence-gap", seq: 5, line: 5, entriesVerified: 4 });
  });

  it("two entries swapped: sequence-gap at the first", () => {
    const lines = buildLines(10);
    [lines[5], lines[6]] = [lines[6] as string, lines[5] as string];
    writeLines(lines);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "sequence-gap", seq: 6, line: 6 });
  });

  it("a forged entry with its own hash right but not chained: prev-mismatch", () => {
    const lines = buildLines(5);
    lines.push(encodeAuditEntry(6, timeOf(6), "event", { forged: true }, "f".repeat(64)).line.toString());
    writeLines(lines);
    expect(verifyAuditLog(log)).toMatchObject({
      ok: false,
      code: "prev-mismatch",
      seq: 6,
      line: 6,
      entriesVerified: 5,
    });
  });

  it("truncation in the middle of a line: torn-tail, everything before verified", () => {
    const lines = buildLines(8);
    const text = `${lines.join("\n")}\n`;
    writeFileSync(log, text.slice(0, text.length - 40));
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "torn-tail", seq: 8, line: 8, entriesVerified: 7 });
    writeLines(lines, "");
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "torn-tail", seq: 8, line: 8, entriesVerified: 7 });
  });

  it("truncation at a line boundary verifies: only what was seen before can tell (docs/audit-log.md, 7c)", () => {
    writeLines(buildLines(8).slice(0, 5));
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 5 });
    // The auditor's --since check, through onEnd: the log had reached entry 8 before.
    const seen: number[] = [];
    const onEnd = (head: { seq: number }) => {
      seen.push(head.seq);
      return head.seq < 8 ? { code: "truncated" as const, message: "cut" } : undefined;
    };
    expect(verifyAuditLog(log, { onEnd })).toMatchObject({
      ok: false,
      code: "truncated",
      seq: 6,
      line: 6,
      entriesVerified: 5,
      head: { seq: 5 },
      logId: LOG_ID,
    });
    writeLines(buildLines(8));
    expect(verifyAuditLog(log, { onEnd })).toMatchObject({ ok: true, entries: 8 });
    expect(seen).toEqual([5, 8]);
  });

  it("the first entry must be log-opened with the format and a log id", () => {
    const notOpened = encodeAuditEntry(1, timeOf(1), "event", {}, GENESIS_PREV).line.toString();
    writeLines([notOpened]);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "bad-first-entry", seq: 1, line: 1 });
    const badId = encodeAuditEntry(1, timeOf(1), "log-opened", { format: AUDIT_LOG_FORMAT, logId: "x" }, GENESIS_PREV);
    writeLines([badId.line.toString()]);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "bad-first-entry" });
    const wrongFormat = encodeAuditEntry(1, timeOf(1), "log-opened", { format: "v9", logId: LOG_ID }, GENESIS_PREV);
    writeLines([wrongFormat.line.toString()]);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "bad-first-entry" });
    const badPrev = encodeAuditEntry(
      1,
      timeOf(1),
      "log-opened",
      { format: AUDIT_LOG_FORMAT, logId: LOG_ID },
      "1".repeat(64),
    );
    writeLines([badPrev.line.toString()]);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "prev-mismatch", seq: 1 });
  });

  it("a log-opened entry after the first: misplaced-log-opened", () => {
    const lines = buildLines(3);
    const data = { format: AUDIT_LOG_FORMAT, logId: LOG_ID };
    lines.push(encodeAuditEntry(4, timeOf(4), "log-opened", data, hashOf(lines[2] as string)).line.toString());
    writeLines(lines);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "misplaced-log-opened", seq: 4, line: 4 });
  });

  it("empty file, blank line, missing file", () => {
    writeFileSync(log, "");
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "empty-log", seq: 1, line: 1, entriesVerified: 0 });
    writeFileSync(log, "\n");
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "malformed-entry", line: 1 });
    let caught: unknown;
    try {
      verifyAuditLog(join(dir, "missing.log"));
    } catch (err) {
      caught = err;
    }
    expect((caught as AirgrantError).code).toBe("file-unreadable");
  });

  it("an over-long line is refused without reading the rest of it into memory", () => {
    const lines = buildLines(3);
    writeFileSync(log, `${lines.join("\n")}\n${"a".repeat(5 * 1024 * 1024)}`);
    expect(verifyAuditLog(log)).toMatchObject({
      ok: false,
      code: "entry-too-long",
      seq: 4,
      line: 4,
      entriesVerified: 3,
    });
    writeFileSync(log, `${lines.join("\n")}\n${"a".repeat(70_000)}\n`);
    expect(verifyAuditLog(log)).toMatchObject({ ok: false, code: "entry-too-long", seq: 4, line: 4 });
  });

  it("hands each verified entry to onEntry in order; a returned string stops with rejected-entry", () => {
    writeLines(buildLines(6));
    const seen: Array<[number, number, string]> = [];
    const report = verifyAuditLog(log, {
      onEntry: (entry, line) => {
        seen.push([entry.seq, line, entry.type]);
        return undefined;
      },
    });
    expect(report).toMatchObject({ ok: true, entries: 6 });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6].map((n) => [n, n, n === 1 ? "log-opened" : "event"]));
    const rejected = verifyAuditLog(log, { onEntry: (entry) => (entry.seq === 4 ? "bad checkpoint" : undefined) });
    expect(rejected).toMatchObject({
      ok: false,
      code: "rejected-entry",
      seq: 4,
      line: 4,
      message: "bad checkpoint",
      entriesVerified: 3,
    });
  });

  it("counts log-recovered entries", () => {
    const lines = buildLines(3);
    const data = { sidecar: "audit.log.torn-4-00", tornBytes: 5, tornSha256: "0".repeat(64) };
    lines.push(encodeAuditEntry(4, timeOf(4), "log-recovered", data, hashOf(lines[2] as string)).line.toString());
    writeLines(lines);
    expect(verifyAuditLog(log)).toMatchObject({ ok: true, entries: 4, recoveries: 1 });
  });
});

describe("verifyAuditLog on arbitrary input (fast-check)", () => {
  it("never throws on arbitrary bytes and always reports a position", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        writeFileSync(log, bytes);
        const report = verifyAuditLog(log);
        if (report.ok) return false; // Random bytes are never a valid log.
        return report.line >= 1 && report.seq === report.entriesVerified + 1;
      }),
      { numRuns: 300 },
    );
  });

  it("never throws on arbitrary JSON-ish lines after a valid prefix", () => {
    const prefix = buildLines(3);
    const jsonish = fc.oneof(
      fc.json(),
      fc.string(),
      fc
        .jsonValue()
        .map((v) => JSON.stringify({ seq: 4, time: timeOf(4), type: "event", data: v, prev: "0", hash: "1" })),
    );
    fc.assert(
      fc.property(fc.array(jsonish, { maxLength: 5 }), (extra) => {
        writeLines([...prefix, ...extra.map((l) => l.replaceAll("\n", ""))]);
        const report = verifyAuditLog(log);
        return report.ok ? extra.length === 0 : report.entriesVerified >= 3;
      }),
      { numRuns: 300 },
    );
  });

  it("any single changed byte in a valid log is caught at or before its line", () => {
    const lines = buildLines(12, (seq) => ({ note: `entry ${seq} ü`, n: seq }));
    const bytes = Buffer.from(`${lines.join("\n")}\n`);
    const lineOf = (at: number) => bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const tampered = Buffer.from(bytes);
        tampered[at] = (tampered[at] as number) ^ xor;
        writeFileSync(log, tampered);
        const report = verifyAuditLog(log);
        return !report.ok && report.line <= lineOf(at);
      }),
      { numRuns: 400 },
    );
  });

  it("round-trips arbitrary data values", () => {
    const key = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
    const value: fc.Arbitrary<AuditValue> = fc.letrec<{ v: AuditValue }>((tie) => ({
      v: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        fc.constant(null),
        fc.boolean(),
        fc.maxSafeInteger(),
        fc.string({ unit: "grapheme" }),
        fc.array(tie("v"), { maxLength: 4 }),
        fc.dictionary(key, tie("v"), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 6 }), (data) => {
        writeLines(buildLines(3, () => data as Record<string, AuditValue>));
        return verifyAuditLog(log).ok;
      }),
      { numRuns: 200 },
    );
  });
});
