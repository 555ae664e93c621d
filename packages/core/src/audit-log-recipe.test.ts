import { spawnSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendAuditEntry } from "./audit-log.js";
import { type AuditChainReport, verifyAuditLog } from "./verify-audit-log.js";

// docs/audit-log.md section 8 promises an auditor can re-check a log with
// its Python script: run that very block, and hold it to the same verdicts.
const doc = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "../../../docs/audit-log.md"), "utf8");
const marker = doc.indexOf("<!-- recipe: verify-audit-log.py");
const blockStart = doc.indexOf("```python\n", marker) + "```python\n".length;
const recipe = doc.slice(blockStart, doc.indexOf("\n```", blockStart) + 1);

let dir: string;
let script: string;
let good: Buffer;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "airgrant-recipe-"));
  script = join(dir, "verify-audit-log.py");
  writeFileSync(script, recipe);
  const log = join(dir, "good.log");
  let tick = 0;
  const clock = () => new Date(Date.UTC(2026, 0, 1) + tick++ * 1234);
  const values = [
    "plain",
    "é ü 😀 中文",
    'quote " backslash \\ slash /',
    "\u0000\u0001\b\t\n\f\r\u001f\u007f\u2028",
    "",
  ];
  for (let i = 0; i < 30; i++) {
    appendAuditEntry(
      log,
      i % 3 === 0 ? "grant-check" : "config-changed",
      {
        i,
        neg: -(i + 1) * 1_000_003,
        big: Number.MAX_SAFE_INTEGER - i,
        text: values[i % values.length] ?? "",
        list: [true, false, null, { "z.y_x-w": [i] }],
      },
      { clock },
    );
  }
  // A crash-torn tail, recovered by the next append: the recipe must accept log-recovered entries.
  appendFileSync(log, '{"seq":32,"time":"2026');
  appendAuditEntry(log, "after-crash", {}, { clock });
  good = readFileSync(log);
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function runRecipe(bytes: Uint8Array): { status: number | null; out: string } {
  const file = join(dir, "check.log");
  writeFileSync(file, bytes);
  const r = spawnSync("python3", [script, file], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  return { status: r.status, out: r.stdout.trim() };
}

function expectSameVerdict(bytes: Uint8Array): AuditChainReport {
  const file = join(dir, "check.log");
  writeFileSync(file, bytes);
  const report = verifyAuditLog(file);
  const { status, out } = runRecipe(bytes);
  if (report.ok) {
    expect(status).toBe(0);
    expect(out).toBe(
      `ok: ${report.entries} entries, head seq ${report.head.seq} hash ${report.head.hash}, log id ${report.logId}`,
    );
  } else {
    expect(status).toBe(1);
    expect(out).toBe(
      `broken: line ${report.line} seq ${report.seq}: ${report.code} (${report.entriesVerified} entries verified)`,
    );
  }
  return report;
}

function editLine(n: number, edit: (line: string) => string): Buffer {
  const lines = good.toString("utf8").split("\n");
  lines[n - 1] = edit(lines[n - 1] as string);
  return Buffer.from(lines.join("\n"));
}

describe("the Python recipe in docs/audit-log.md", () => {
  it("is in the doc", () => {
    expect(recipe).toContain("def main(path):");
  });

  it("accepts a log we wrote, with the same head and log id", () => {
    const report = expectSameVerdict(good);
    expect(report).toMatchObject({ ok: true, entries: 33, recoveries: 1 });
  });

  it("gives the same line and code as verifyAuditLog for each tamper case", () => {
    const lines = good.toString("utf8").split("\n");
    const cases: Array<[string, Buffer, string]> = [
      ["edited byte", editLine(10, (l) => l.replace('"i":8,', '"i":7,')), "hash-mismatch"],
      ["added space", editLine(10, (l) => l.replace('"i":8,', '"i": 8,')), "non-canonical-entry"],
      ["float", editLine(10, (l) => l.replace('"i":8,', '"i":8.0,')), "non-canonical-entry"],
      [
        "unsorted",
        editLine(10, (l) => l.replace(/"data":\{"big":(\d+),/, '"data":{"zz":1,"big":$1,')),
        "non-canonical-entry",
      ],
      ["garbage", editLine(10, () => "not json"), "malformed-entry"],
      ["deleted", Buffer.from([...lines.slice(0, 9), ...lines.slice(10)].join("\n")), "sequence-gap"],
      [
        "swapped",
        Buffer.from([...lines.slice(0, 9), lines[10], lines[9], ...lines.slice(11)].join("\n")),
        "sequence-gap",
      ],
      ["torn", good.subarray(0, good.length - 30), "torn-tail"],
      ["empty", Buffer.alloc(0), "empty-log"],
      ["first cut off", Buffer.from(lines.slice(1).join("\n")), "sequence-gap"],
    ];
    for (const [name, bytes, code] of cases) {
      expect(bytes.equals(good), name).toBe(false);
      const report = expectSameVerdict(bytes);
      expect(report.ok ? "ok" : report.code, name).toBe(code);
    }
  });

  it("agrees with verifyAuditLog on random byte changes", () => {
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const tampered = Buffer.from(good);
        tampered[at] = (tampered[at] as number) ^ xor;
        expect(expectSameVerdict(tampered).ok).toBe(false);
      }),
      { numRuns: 25 },
    );
  });
});
