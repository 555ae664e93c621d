import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { appendAuditEntry, encodeSealReceipt } from "@airgrant/core";
import { afterAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "airgrant-auditor-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function makeLog(name: string, entries: number): string {
  const path = join(work, name);
  for (let i = 0; i < entries; i++) appendAuditEntry(path, "grant-check", { verdict: "allowed", n: i });
  return path;
}

describe("airgrant-auditor verify", () => {
  it("says every chain is intact, exit 0", () => {
    const a = makeLog("a.log", 3);
    const b = makeLog("b.log", 5);
    const r = run(["verify", a, b]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^${a}: intact, 4 entries, not sealed or no receipt given, log [0-9a-f]{32}, head 4 [0-9a-f]{64}\\n`),
    );
    expect(r.stdout).toContain(`${b}: intact, 6 entries`);
  });

  it("names the first broken entry and exits 1", () => {
    const path = makeLog("tampered.log", 4);
    const lines = readFileSync(path, "utf8").split("\n");
    lines[2] = (lines[2] as string).replace('"n":1', '"n":7');
    writeFileSync(path, lines.join("\n"));
    const r = run(["verify", makeLog("fine.log", 1), path, "--json"]);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: false, code: "chain-broken" });
    expect(out.logs[0]).toMatchObject({ ok: true });
    expect(out.logs[1]).toMatchObject({ ok: false, code: "hash-mismatch", seq: 3, line: 3, entriesVerified: 2 });
    expect(r.stderr).toBe("error: chain-broken: 1 of 2 log(s) failed verification\n");
    expect(run(["verify", path]).stdout).toContain(`${path}: BROKEN at entry 3 (line 3): hash-mismatch`);
  });

  it("reports a receipt that matches no log as receipt-unmatched, on one error line", () => {
    const path = makeLog("no-receipt.log", 1);
    const receipt = join(work, "other-host.receipt.json");
    const logId = "ab".repeat(16);
    writeFileSync(
      receipt,
      encodeSealReceipt({
        logId,
        host: "db9",
        start: 0,
        epochSeconds: 3600,
        key: new Uint8Array(32),
        firstSealedSeq: 2,
      }),
    );
    const r = run(["verify", path, "--key", receipt, "--json"]);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, code: "receipt-unmatched" });
    expect(r.stderr).toBe(`error: receipt-unmatched: no intact log given has id ${logId} (host db9)\n`);
  });

  it("refuses a --since file that is not an earlier audit's output, exit 2", () => {
    const path = makeLog("since-bad.log", 1);
    const bad = join(work, "not-an-audit.json");
    for (const [text, why] of [
      ["not json", "not JSON"],
      ['{"ok":true}', "no logs array"],
      ['{"logs":[{"logId":"abc","head":{"seq":1,"hash":"00"}}]}', "logs[0].logId is not 32 hex digits"],
      [`{"logs":[{"logId":"${"a".repeat(32)}","head":{"seq":0,"hash":"${"0".repeat(64)}"}}]}`, "logs[0].head.seq"],
      [`{"logs":[{"logId":"${"a".repeat(32)}","head":{"seq":1,"hash":"x"}}]}`, "logs[0].head.hash"],
    ]) {
      writeFileSync(bad, text as string);
      const r = run(["verify", path, "--since", bad]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^error: bad-input: [^\n]*\n$/);
      expect(r.stderr).toContain(
        `${bad} is not the --json output of an earlier airgrant-auditor verify or reconcile: ${why}`,
      );
    }
  });

  it("gives usage and unreadable files exit 2", () => {
    expect(run(["verify"]).status).toBe(2);
    expect(run(["audit"]).stderr).toMatch(/^error: usage: unknown command 'audit'/);
    const missing = run(["verify", join(work, "nope.log")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error: file-unreadable: /);
    expect(run(["--version"]).stdout).toMatch(/^airgrant-auditor \d+\.\d+\.\d+\n$/);
  });
});
