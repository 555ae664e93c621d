// Forward-secure sealing end to end: the verifier seals its log from the first
// install, the auditor checks every seal with the install receipt, and a log
// rewritten on the host without the erased keys is caught at the first
// changed entry.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AuditEntry,
  type AuditValue,
  appendAuditEntry,
  checkpointData,
  checkpointMessage,
  encodeAuditEntry,
  readAuditHead,
  readAuditLogId,
  toHex,
} from "@airgrant/core";
import {
  AUDITOR_CLI as AUDITOR,
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  signWith,
  testFields,
  VERIFIER_CLI as VERIFIER,
} from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "airgrant-seal-e2e-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Rewrites every line of `log` through `edit` and chains it again, as someone with the file but no key would. */
function rechain(log: string, edit: (data: Record<string, AuditValue>, index: number) => Record<string, AuditValue>) {
  const lines = readFileSync(log, "utf8").trimEnd().split("\n");
  let prev = "";
  const forged = lines.map((text, i) => {
    const e = JSON.parse(text) as AuditEntry;
    const { entry, line } = encodeAuditEntry(e.seq, e.time, e.type, edit({ ...e.data }, i), i === 0 ? e.prev : prev);
    prev = entry.hash;
    return line.toString();
  });
  writeFileSync(log, `${forged.join("\n")}\n`);
}

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
    rechain(log, (data, i) => (i === 3 ? { ...data, verdict: "grant-replayed" } : data));
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

  it("reconcile and report check the seals (--key) and the signer's checkpoints (--bundle) in the same pass", () => {
    // A signer log with a checkpoint after each entry, signed by the bundle's issuer.
    const signerLog = join(work, "signer.log");
    for (let i = 0; i < 3; i++) {
      appendAuditEntry(signerLog, "bundle-exported", { clockSkew: 300, groups: [] });
      const head = readAuditHead(signerLog) as { seq: number; hash: string };
      const logId = readAuditLogId(signerLog);
      const signature = signWith(issuer, checkpointMessage(logId, head.seq, head.hash));
      const key = { keyId: toHex(issuer.keyId), algorithm: issuer.algorithm };
      appendAuditEntry(signerLog, "checkpoint", checkpointData(logId, head, key, signature));
    }
    const hostLog = join(state, "audit.log"); // rewritten by the test before: entry 4's seal is wrong
    const bundle = join(work, "bundle.json");
    const reconcile = (...extra: string[]) =>
      run(AUDITOR, ["reconcile", "--signer", signerLog, "--host", hostLog, "--json", ...extra]);

    const checked = reconcile("--key", receipt, "--bundle", bundle);
    expect(checked.status).toBe(1);
    const result = JSON.parse(checked.stdout);
    expect(result.logs[0]).toMatchObject({ intact: true, checkpoints: { checkpoints: 3, lastCheckpointedSeq: 6 } });
    expect(result.findings).toContainEqual(
      expect.objectContaining({ code: "chain-broken", log: hostLog, seq: 4, reason: "bad-seal" }),
    );
    // Without the receipt the forgery passes its chain, and the output says what was not checked.
    const unchecked = run(AUDITOR, ["reconcile", "--signer", signerLog, "--host", hostLog]);
    expect(unchecked.stdout).not.toContain("bad-seal");
    expect(unchecked.stdout).toContain("note: 1 host log(s) checked by their chain only");
    expect(unchecked.stdout).toContain("note: the signer log's checkpoints were not checked");

    // The report reads the same verdicts.
    const out = join(work, "report.html");
    expect(
      run(AUDITOR, ["report", "--signer", signerLog, "--host", hostLog, "--key", receipt, "--out", out]).status,
    ).toBe(1);
    expect(readFileSync(out, "utf8")).toContain("bad-seal");

    // A signer log rewritten without the token fails at the first checkpoint after the change.
    rechain(signerLog, (data, i) => (i === 1 ? { ...data, clockSkew: 3600 } : data));
    const rewritten = JSON.parse(reconcile("--bundle", bundle).stdout);
    expect(rewritten.findings).toContainEqual(
      expect.objectContaining({ code: "chain-broken", log: signerLog, seq: 3, reason: "bad-checkpoint-signature" }),
    );

    // A receipt whose log is not among those given: that host's log is missing.
    const fresh = join(work, "fresh", "audit.log");
    const missing = JSON.parse(
      run(AUDITOR, ["reconcile", "--signer", signerLog, "--host", fresh, "--key", receipt, "--json"]).stdout,
    );
    expect(missing.findings).toContainEqual(
      expect.objectContaining({ code: "receipt-unmatched", log: receipt, host: expect.any(String) }),
    );
  });
});

describe("an earlier audit's heads (--since)", () => {
  const issuer = makeTestIssuer();
  const now = Math.floor(Date.now() / 1000);
  const state = join(work, "since-state");
  const receipt = join(work, "since-receipt.json");
  const log = join(state, "audit.log");
  const earlier = join(work, "earlier-audit.json");
  const check = () => {
    const grant = makeGrantText(testFields(issuer, { notBefore: now - 60, notAfter: now + 600 }), [issuer]);
    expect(run(VERIFIER, ["check", "--user", "alice", "--host", "db1.example", "--state", state], grant).status).toBe(
      0,
    );
  };
  /** A copy of the host log as it is now, to tamper with. */
  const copy = (name: string) => {
    const path = join(work, name);
    copyFileSync(log, path);
    return path;
  };

  it("a log that only grew since still holds the head the earlier audit saw", () => {
    writeFileSync(join(work, "since-bundle.json"), makeBundleBytes([issuer], { created: now }));
    const install = run(VERIFIER, [
      "install-bundle",
      join(work, "since-bundle.json"),
      "--state",
      state,
      "--receipt",
      receipt,
    ]);
    expect(install.status, install.stderr).toBe(0);
    for (let i = 0; i < 3; i++) check();
    const first = run(AUDITOR, ["verify", log, "--key", receipt, "--json"]);
    expect(first.status, first.stderr).toBe(0);
    writeFileSync(earlier, first.stdout);
    expect(JSON.parse(first.stdout).logs[0].head.seq).toBe(5);
    for (let i = 0; i < 2; i++) check();
    const grown = run(AUDITOR, ["verify", log, "--key", receipt, "--since", earlier]);
    expect(grown.status, grown.stderr).toBe(0);
    expect(grown.stdout).toContain(`intact, 7 entries, sealed`);
    expect(grown.stdout).toContain(`still holds entry 5 as the audit in ${earlier} saw it`);
  });

  it("a log cut at a line boundary passes its chain and seals, and is truncated against the earlier audit", () => {
    const cut = copy("since-cut.log");
    writeFileSync(cut, `${readFileSync(cut, "utf8").split("\n").slice(0, 4).join("\n")}\n`);
    expect(run(AUDITOR, ["verify", cut, "--key", receipt]).status).toBe(0);
    const caught = run(AUDITOR, ["verify", cut, "--key", receipt, "--since", earlier, "--json"]);
    expect(caught.status).toBe(1);
    expect(JSON.parse(caught.stdout).logs[0]).toMatchObject({
      ok: false,
      code: "truncated",
      seq: 5,
      line: 5,
      entriesVerified: 4,
      since: { seq: 5, file: earlier },
    });
  });

  it("a log rewritten and chained again is caught by its seals, and without the receipt by the earlier head", () => {
    const forged = copy("since-forged.log");
    rechain(forged, (data, i) => (i === 3 ? { ...data, verdict: "grant-replayed" } : data));
    const sealed = JSON.parse(run(AUDITOR, ["verify", forged, "--key", receipt, "--since", earlier, "--json"]).stdout);
    expect(sealed.logs[0]).toMatchObject({ ok: false, code: "bad-seal", seq: 4 });
    const unsealed = run(AUDITOR, ["verify", forged, "--since", earlier]);
    expect(unsealed.status).toBe(1);
    expect(unsealed.stdout).toContain(
      `BROKEN at entry 5 (line 5): rewritten: entry 5 is not the one the audit in ${earlier} saw there`,
    );
  });

  it("reconcile reports a truncated log as a chain-broken finding, and notes a log the earlier audit saw that is missing", () => {
    const signerLog = join(work, "since-signer.log");
    appendAuditEntry(signerLog, "bundle-exported", { clockSkew: 300, groups: [] });
    const cut = copy("since-cut-reconcile.log");
    writeFileSync(cut, `${readFileSync(cut, "utf8").split("\n").slice(0, 3).join("\n")}\n`);
    const r = run(AUDITOR, ["reconcile", "--signer", signerLog, "--host", cut, "--since", earlier, "--json"]);
    expect(r.status).toBe(1);
    const result = JSON.parse(r.stdout);
    expect(result.findings).toContainEqual(
      expect.objectContaining({ code: "chain-broken", log: cut, seq: 4, reason: "truncated" }),
    );
    const other = join(work, "since-other.log");
    appendAuditEntry(other, "bundle-exported", { clockSkew: 300, groups: [] });
    const intact = run(AUDITOR, ["reconcile", "--signer", signerLog, "--host", other, "--since", earlier]);
    expect(intact.status, intact.stderr).toBe(0);
    expect(intact.stdout).toMatch(
      /note: the earlier audit saw log [0-9a-f]{32} \([^)]*audit\.log\) up to entry 5; it was not given this time/,
    );
  });
});
