import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeTrustBundle, toHex } from "@airgrant/core";
import { afterAll, describe, expect, it } from "vitest";
import { AuditScenario, T0 } from "./audit-logs.fixture.js";
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

function approve(s: AuditScenario, grantId: string, officer: string, keyId: string, approvals: number): void {
  const data = { grantId, officer, keyId, approvals, approvalsNeeded: 2, bodySha256: toHex(randomBytes(32)) };
  s.signerEntry("grant-approved", data, T0 + approvals);
}

describe("reconcile and the two-person rule", () => {
  it("shows who approved each grant, counts approvals and denials per officer, and flags a use short of the host's policy", () => {
    const s = scenario();
    const good = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    approve(s, good.grantId, "bob", BOB, 1);
    approve(s, good.grantId, "carol", CAROL, 2);
    const short = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    approve(s, short.grantId, "bob", BOB, 1);
    const denied = s.issue({ target: "group:prod", approvalsNeeded: 2 });
    s.signerEntry("grant-denied", { grantId: denied.grantId, officer: "carol", reason: "no", approvals: 0 });
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
    expect(text).toContain(`${good.grantId}  alice  group:prod  1     2 of 2 approval(s): bob, carol`);
    expect(text).toContain("0 of 2 approval(s): nobody in this log; denied by carol");
    const json = reconciliationJson(r) as { approvedGrants: { grantId: string; approvedBy: string[] }[] };
    expect(json.approvedGrants.find((g) => g.grantId === good.grantId)?.approvedBy).toEqual(["bob", "carol"]);
    expect(renderReport(r, new Date(T0 * 1000))).toContain("2 of 2 approval(s): bob, carol");
  });
});
