// Forward-secure sealing end to end: the verifier seals its log from the first
// install, the auditor checks every seal with the install receipt, and a log
// rewritten on the host without the erased keys is caught at the first
// changed entry.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type AuditEntry, type AuditValue, encodeAuditEntry } from "../packages/core/src/audit-entry.js";
import {
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  testFields,
} from "../packages/core/src/testing/test-issuer.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const VERIFIER = join(ROOT, "packages/verifier/dist/cli.js");
const AUDITOR = join(ROOT, "apps/auditor/dist/cli.js");
const work = mkdtempSync(join(tmpdir(), "airgrant-seal-e2e-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function run(cli: string, args: string[], input = "") {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("sealed host logs", () => {
  const issuer = makeTestIssuer();
  const now = Math.floor(Date.now() / 1000);
  const state = join(work, "state");
  const receipt = join(work, "receipt.json");
  writeFileSync(join(work, "bundle.json"), makeBundleBytes([issuer], { created: now }));

  it("the first install writes a receipt; the auditor verifies every seal with it", () => {
    const install = run(VERIFIER, [
      "install-bundle",
      join(work, "bundle.json"),
      "--state",
      state,
      "--receipt",
      receipt,
    ]);
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toContain(`give ${receipt} to the auditor`);
    expect(statSync(receipt).mode & 0o777).toBe(0o600);
    expect(statSync(join(state, "seal.key")).mode & 0o777).toBe(0o600);
    for (let i = 0; i < 3; i++) {
      const grant = makeGrantText(testFields(issuer, { notBefore: now - 60, notAfter: now + 600 }), [issuer]);
      expect(run(VERIFIER, ["check", "--user", "alice", "--host", "db1.example", "--state", state], grant).status).toBe(
        0,
      );
    }
    const again = run(VERIFIER, ["install-bundle", join(work, "bundle.json"), "--state", state]);
    expect(again.status).toBe(0);
    expect(again.stdout).not.toContain("receipt");
    expect(existsSync(join(state, "seal-receipt.json"))).toBe(false);
    const verified = run(AUDITOR, ["verify", join(state, "audit.log"), "--key", receipt]);
    expect(verified.status, verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/intact, 6 entries, sealed \(host [^)]+\) through entry 6;/);
  });

  it("a log rewritten on the host, chain and all, fails at the changed entry", () => {
    const log = join(state, "audit.log");
    const lines = readFileSync(log, "utf8").trimEnd().split("\n");
    let prev = "";
    const forged = lines.map((text, i) => {
      const e = JSON.parse(text) as AuditEntry;
      const data = { ...e.data } as Record<string, AuditValue>;
      if (i === 3) data.verdict = "grant-replayed";
      const { entry, line } = encodeAuditEntry(e.seq, e.time, e.type, data, i === 0 ? e.prev : prev);
      prev = entry.hash;
      return line.toString();
    });
    writeFileSync(log, `${forged.join("\n")}\n`);
    expect(run(AUDITOR, ["verify", log]).status).toBe(0);
    const caught = run(AUDITOR, ["verify", log, "--key", receipt, "--json"]);
    expect(caught.status).toBe(1);
    expect(JSON.parse(caught.stdout).logs[0]).toMatchObject({ ok: false, code: "bad-seal", seq: 4 });
  });

  it("a receipt that matches no log given is a finding", () => {
    const fresh = join(work, "fresh");
    run(VERIFIER, ["install-bundle", join(work, "bundle.json"), "--state", fresh]);
    const unmatched = run(AUDITOR, ["verify", join(fresh, "audit.log"), "--key", receipt]);
    expect(unmatched.status).toBe(1);
    expect(unmatched.stderr).toMatch(/^error: receipt-unmatched: no intact log given has id [0-9a-f]{32}/);
    expect(existsSync(join(fresh, "seal-receipt.json"))).toBe(true);
  });
});
