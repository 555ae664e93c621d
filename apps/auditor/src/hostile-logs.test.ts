import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditValue, appendAuditEntry } from "@airgrant/core";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { AuditScenario } from "./audit-logs.fixture.js";
import { reconcileLogs } from "./reconcile-logs.js";
import { escapeHtml, renderReport } from "./render-report.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "airgrant-hostile-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Any member value a hand-written entry could hold. */
const value: fc.Arbitrary<AuditValue> = fc.oneof(
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("allowed", "alice", "db1.example", "group:dbs", "00112233445566778899aabbccddeeff"),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.record({ seq: fc.oneof(fc.integer(), fc.string()), head: fc.oneof(fc.string(), fc.constant("0123456789abcdef")) }),
);
const members = [
  "verdict",
  "grantId",
  "user",
  "host",
  "anchor",
  "target",
  "notBefore",
  "notAfter",
  "maxUses",
  "principal",
];
const data = fc.dictionary(fc.constantFrom(...members), value, { maxKeys: members.length });

describe("reconciliation of hostile logs", () => {
  it("never throws, whatever the members of grant entries hold, and escapes everything in the report", () => {
    let n = 0;
    fc.assert(
      fc.property(
        fc.array(data, { minLength: 1, maxLength: 3 }),
        fc.array(data, { maxLength: 3 }),
        (hostData, signerData) => {
          const s = new AuditScenario(mkdtempSync(join(work, `${++n}-`)));
          const real = s.issue();
          for (const d of signerData) appendAuditEntry(s.signerLog, "grant-issued", d);
          for (const d of hostData) appendAuditEntry(s.hostLog("h"), "grant-check", { verdict: "allowed", ...d });
          s.use("h", real);
          const r = reconcileLogs({ signerLog: s.signerLog, hostLogs: [s.hostLog("h")] });
          expect(r.logs.every((l) => l.intact)).toBe(true);
          const html = renderReport(r, new Date(0));
          expect(html).not.toMatch(/<(script|img|iframe)\b/i);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("keeps what it reads of a log's lines, not the lines: 1,200 uses naming a 60 KB user each reconcile in a 32 MiB heap", () => {
    const s = new AuditScenario(mkdtempSync(join(work, "long-lines-")));
    const grant = s.issue({ maxUses: 255 });
    const long = "m".repeat(60_000);
    for (let i = 0; i < 1_200; i++) s.use("h", grant, { user: long });
    // 72 MB of lines: a kept value that held its line would hold them all.
    const r = spawnSync(
      process.execPath,
      ["--max-old-space-size=32", CLI, "reconcile", "--signer", s.signerLog, "--host", s.hostLog("h"), "--json"],
      { encoding: "utf8", maxBuffer: 1 << 26 },
    );
    expect(r.signal).toBeNull();
    expect(r.stderr).not.toMatch(/heap/i);
    const findings = (JSON.parse(r.stdout) as { findings: Array<{ code: string }> }).findings;
    expect(findings.filter((f) => f.code === "user-mismatch").length).toBeGreaterThan(0);
    expect(findings.some((f) => f.code === "grant-overused")).toBe(true);
  });

  it("escapes every character that could open markup", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        const escaped = escapeHtml(text);
        expect(escaped).not.toMatch(/[<>"']/);
        expect(escaped.replace(/&#\d+;/g, "")).not.toContain("&");
        // Nor anything that reorders what is shown around it, or hides as a control.
        // biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
        expect(escaped).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/);
      }),
    );
  });
});
