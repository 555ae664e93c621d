import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditValue, appendAuditEntry, decodeTrustBundle } from "@airgrant/core";
import { afterAll, describe, expect, it } from "vitest";
import { AuditScenario, type IssuedFixture, T0 } from "./audit-logs.fixture.js";
import { reconciliationJson, reconciliationText } from "./format-reconciliation.js";
import { reconcileLogs } from "./reconcile-logs.js";
import { renderReport } from "./render-report.js";

const work = mkdtempSync(join(tmpdir(), "airgrant-reconcile-approvals-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const BOB = "b0b0b0b0b0b0b0b0";
const BOB_SPARE = "b1b1b1b1b1b1b1b1";
const CAROL = "c0c0c0c0c0c0c0c0";

/** A signer log with two officers' approval keys (bob has two) and a bundle needing two approvals on group:prod. */
function scenario(): AuditScenario {
  const s = new AuditScenario(mkdtempSync(join(work, "s-")));
  s.signerEntry("bundle-exported", {
    bundleId: "a".repeat(32),
    clockSkew: 300,
    groups: ["prod"],
    approvers: [BOB, BOB_SPARE, CAROL],
    approvalPolicy: ["group:prod=2", "*=0"],
  });
  for (const [officer, keyId] of [
    ["bob", BOB],
    ["bob", BOB_SPARE],
    ["carol", CAROL],
  ]) {
    s.signerEntry("approver-enrolled", { officer: officer as string, keyId: keyId as string, targets: ["*"] });
  }
  return s;
}

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));

function approvalData(grant: IssuedFixture, officer: string, keyId: string, approvals: number) {
  return { grantId: grant.grantId, officer, keyId, approvals, approvalsNeeded: 2, bodySha256: grant.bodySha256 ?? "" };
}

function approve(s: AuditScenario, grant: IssuedFixture, officer: string, keyId: string, approvals: number): void {
  s.signerEntry("grant-approved", approvalData(grant, officer, keyId, approvals), T0 + approvals);
}

/** An entry in the signer log of another workstation, through the same appender as the signer's. */
function workstationEntry(log: string, type: string, data: Record<string, AuditValue>, time = T0): void {
  appendAuditEntry(log, type, data, { clock: () => new Date(time * 1000) });
}

describe("reconcile and the two-person rule", () => {
  it("shows who approved each grant, counts approvals and denials per officer, and flags a use short of the host's policy", () => {
    const s = scenario();
    const good = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    approve(s, good, "bob", BOB, 1);
    approve(s, good, "carol", CAROL, 2);
    const short = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    approve(s, short, "bob", BOB, 1);
    const denied = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    const deniedData = { grantId: denied.grantId, officer: "carol", reason: "no", approvals: 0 };
    s.signerEntry("grant-denied", { ...deniedData, bodySha256: denied.bodySha256 ?? "" });
    s.hostEntry("db1.example", "bundle-installed", { bundleId: "a".repeat(32), sha256: "0".repeat(64), issuers: [] });
    s.use("db1.example", good, { data: { approvers: [BOB, CAROL], approvalsNeeded: 2 } });
    // A host that let in a grant with one officer's two keys, and one whose entry does not say what it needed.
    s.use("db1.example", short, { data: { approvers: [BOB, BOB_SPARE], approvalsNeeded: 2 } });
    s.use("db1.example", short, { at: T0 + 700, data: { approvers: [BOB] } });
    const bundle = decodeTrustBundle(readFileSync(s.bundle({ prod: ["db1.example"] })));
    const r = reconcileLogs({ signerLog: s.signerLog, hostLogs: [s.hostLog("db1.example")], bundle });
    const unmet = r.findings.filter((f) => f.code === "approvals-unmet");
    expect(unmet.map((f) => [f.grantId, f.seq])).toEqual([
      [short.grantId, 4],
      [short.grantId, 5],
    ]);
    expect(unmet[0]?.message).toBe(
      "the host's policy needs 2 approval(s) by distinct officers for db1.example; it counted 1 (bob)",
    );
    const officers = Object.fromEntries(r.officers.map((o) => [o.officer, [o.approvals, o.denials]]));
    expect(officers).toMatchObject({ bob: [2, 0], carol: [1, 1] });
    const text = reconciliationText(r);
    const log = s.signerLog;
    expect(text).toContain(
      `${good.grantId}  alice  group:prod  1     2 of 2 approval(s): bob (${log}), carol (${log})`,
    );
    expect(text).toContain(`0 of 2 approval(s): nobody in the logs given; denied by carol (${log})`);
    const json = reconciliationJson(r) as { approvedGrants: { grantId: string; approvedBy: string[] }[] };
    expect(json.approvedGrants.find((g) => g.grantId === good.grantId)?.approvedBy).toEqual(["bob", "carol"]);
    expect(renderReport(r, new Date(T0 * 1000))).toContain(`2 of 2 approval(s): bob (${log}), carol (${log})`);
  });

  it("matches approvals given at other workstations to the grant, and finds a counted key no log given shows approving", () => {
    const s = scenario();
    const grant = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    approve(s, grant, "bob", BOB, 1);
    const other = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    // Carol approves both at her own workstation, where her key is enrolled; for `other` her entry names another body.
    const ws2 = join(s.dir, "ws2.log");
    workstationEntry(ws2, "approver-enrolled", {
      officer: "carol",
      keyId: CAROL,
      algorithm: "ecdsa-p256",
      keyLabel: "carol",
      token: "carol-piv",
      modulePath: "/usr/lib/ykcs11.so",
      targets: ["*"],
      maxTtl: 3600,
      generated: true,
    });
    workstationEntry(ws2, "grant-approved", approvalData(grant, "carol", CAROL, 2), T0 + 2);
    workstationEntry(ws2, "grant-approved", { ...approvalData(other, "carol", CAROL, 2), bodySha256: "f".repeat(64) });
    workstationEntry(ws2, "grant-completed", {
      grantId: grant.grantId,
      approvers: [BOB, CAROL],
      officers: ["bob", "carol"],
      grantSha256: "e".repeat(64),
    });
    s.use("db1.example", grant, { data: { approvers: [BOB, CAROL], approvalsNeeded: 2 } });
    s.use("db1.example", other, { data: { approvers: [BOB, CAROL], approvalsNeeded: 2 } });
    const hostLogs = [s.hostLog("db1.example")];

    const alone = reconcileLogs({ signerLog: s.signerLog, hostLogs });
    expect(alone.findings.filter((f) => f.code === "approval-unlogged").map((f) => f.grantId)).toEqual([
      grant.grantId,
      other.grantId,
    ]);
    expect(alone.findings[0]?.message).toBe(
      `the host counted approval key(s) ${CAROL} (carol), whose approval of this grant no signer or approver log given records: give the log of the workstation where it was approved, or the key signed outside airgrant-signer`,
    );

    const r = reconcileLogs({ signerLog: s.signerLog, approverLogs: [ws2], hostLogs });
    expect(r.logs.map((l) => [l.role, l.intact])).toEqual([
      ["signer", true],
      ["approver", true],
      ["host", true],
    ]);
    const unlogged = r.findings.filter((f) => f.code === "approval-unlogged");
    expect(unlogged.map((f) => [f.grantId, f.seq])).toEqual([[other.grantId, 3]]);
    expect(unlogged[0]?.message).toContain(`key(s) ${BOB} (bob), ${CAROL} (carol),`);
    expect(r.findings.filter((f) => f.code === "approvals-unmet")).toEqual([]);
    expect(r.grants.find((g) => g.grantId === grant.grantId)?.approvals).toEqual([
      { officer: "bob", keyId: BOB, log: s.signerLog, seq: 8 },
      { officer: "carol", keyId: CAROL, log: ws2, seq: 3 },
    ]);
    const officers = Object.fromEntries(r.officers.map((o) => [o.officer, o.approvals]));
    expect(officers).toMatchObject({ bob: 1, carol: 2 });
    expect(reconciliationText(r)).toContain(`2 of 2 approval(s): bob (${s.signerLog}), carol (${ws2})`);
    // The host table still names the host log, not the approver log before it.
    expect(reconciliationJson(r).hosts).toEqual([expect.objectContaining({ logs: [s.hostLog("db1.example")] })]);

    const cli = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
    const out = cli([
      "reconcile",
      "--signer",
      s.signerLog,
      "--approver-log",
      ws2,
      "--host",
      hostLogs[0] ?? "",
      "--json",
    ]);
    expect(out.stderr).toBe("error: reconcile-findings: 1 finding(s)\n");
    const json = JSON.parse(out.stdout) as { approvedGrants: { grantId: string; approvals: { log: string }[] }[] };
    const approvedAt = json.approvedGrants.find((g) => g.grantId === grant.grantId)?.approvals.map((a) => a.log);
    expect(approvedAt).toEqual([s.signerLog, ws2]);
    expect(cli(["reconcile", "--signer", s.signerLog, "--approver-log", s.signerLog, ...hostLogs]).stderr).toMatch(
      /^error: bad-input: .*signer\.log is given twice/,
    );
    expect(cli(["verify", s.signerLog, "--approver-log", ws2]).stderr).toMatch(
      /^error: usage: --approver-log goes with reconcile or report/,
    );
  });

  it("breaks on an approver log whose chain is broken, and reconciles none of its entries after the break", () => {
    const s = scenario();
    const grant = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    const ws2 = join(s.dir, "ws2.log");
    workstationEntry(ws2, "grant-approved", approvalData(grant, "bob", BOB, 1));
    workstationEntry(ws2, "grant-approved", approvalData(grant, "carol", CAROL, 2));
    const lines = readFileSync(ws2, "utf8").split("\n");
    // Line 1 is log-opened; carol's approval, entry 3, is edited after it was written.
    writeFileSync(ws2, [...lines.slice(0, 2), lines[2]?.replace('"carol"', '"carl"'), ...lines.slice(3)].join("\n"));
    s.use("db1.example", grant, { data: { approvers: [BOB, CAROL], approvalsNeeded: 2 } });
    const r = reconcileLogs({ signerLog: s.signerLog, approverLogs: [ws2], hostLogs: [s.hostLog("db1.example")] });
    expect(r.findings.map((f) => [f.code, f.log, f.seq])).toEqual([
      ["chain-broken", ws2, 3],
      ["approval-unlogged", s.hostLog("db1.example"), 2],
    ]);
    expect(r.grants[0]?.approvals.map((a) => a.officer)).toEqual(["bob"]);
  });
});
