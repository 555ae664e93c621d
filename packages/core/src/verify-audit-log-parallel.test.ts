// The two-core path of verifyAuditLog (logs of 32 MiB and more) must give
// exactly the verdict of one sequential pass, whatever is wrong and wherever.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
// The built module: its worker is compiled JavaScript beside it (npm test builds first).
import { verifyAuditLog } from "../dist/verify-audit-log.js";
import { AUDIT_LOG_FORMAT, encodeAuditEntry, GENESIS_PREV } from "./audit-entry.js";

const dir = mkdtempSync(join(tmpdir(), "airgrant-parallel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 36 MB log written in bulk, one line per entry. */
function bigLog(): Buffer {
  const lines: Buffer[] = [];
  let prev = GENESIS_PREV;
  for (let seq = 1; seq <= 90_000; seq++) {
    const { entry, line } =
      seq === 1
        ? encodeAuditEntry(
            1,
            "2026-01-01T00:00:00.000Z",
            "log-opened",
            { format: AUDIT_LOG_FORMAT, logId: "a".repeat(32) },
            prev,
          )
        : encodeAuditEntry(seq, "2026-01-01T00:00:01.000Z", "grant-check", { n: seq, pad: "x".repeat(230) }, prev);
    prev = entry.hash;
    lines.push(line, Buffer.from("\n"));
  }
  return Buffer.concat(lines);
}

const original = bigLog();

function both(name: string, bytes: Buffer) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const parallel = verifyAuditLog(path);
  const sequential = verifyAuditLog(path, { onEntry: () => undefined });
  return { parallel, sequential };
}

function lineStart(bytes: Buffer, line: number): number {
  let at = 0;
  for (let i = 1; i < line; i++) at = bytes.indexOf(0x0a, at) + 1;
  return at;
}

describe("verifyAuditLog on two cores", () => {
  it("agrees with one pass on an intact log", () => {
    expect(original.length).toBeGreaterThan(32 * 1024 * 1024);
    expect(existsSync(new URL("../dist/verify-audit-log-worker.js", import.meta.url))).toBe(true);
    const { parallel, sequential } = both("intact.log", original);
    expect(parallel).toEqual(sequential);
    expect(parallel).toMatchObject({ ok: true, entries: 90_000 });
  });

  it.each([1000, 45_000, 45_001, 89_000])("agrees on an edited byte in line %i", (line) => {
    const bytes = Buffer.from(original);
    const at = bytes.indexOf("x".charCodeAt(0), lineStart(bytes, line));
    bytes[at] = "y".charCodeAt(0);
    const { parallel, sequential } = both(`edit-${line}.log`, bytes);
    expect(parallel).toEqual(sequential);
    expect(parallel).toMatchObject({ ok: false, code: "hash-mismatch", seq: line, line });
  });

  it("agrees on a deleted line in the second half and a torn tail", () => {
    const start = lineStart(original, 60_000);
    const deleted = Buffer.concat([original.subarray(0, start), original.subarray(lineStart(original, 60_001))]);
    const d = both("deleted.log", deleted);
    expect(d.parallel).toEqual(d.sequential);
    expect(d.parallel).toMatchObject({ ok: false, code: "sequence-gap", seq: 60_000 });
    const torn = both("torn.log", original.subarray(0, original.length - 10));
    expect(torn.parallel).toEqual(torn.sequential);
    expect(torn.parallel).toMatchObject({ ok: false, code: "torn-tail", seq: 90_000 });
  });
});
