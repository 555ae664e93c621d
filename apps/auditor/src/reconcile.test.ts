import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeTrustBundle } from "@airgrant/core";
import { afterAll, describe, expect, it } from "vitest";
import { AuditScenario, ISSUER_KEY_ID, T0 } from "./audit-logs.fixture.js";
import type { FindingCode } from "./finding.js";
import { reconciliationNotes } from "./format-reconciliation.js";
import { type Reconciliation, reconcileLogs } from "./reconcile-logs.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "airgrant-reconcile-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let scenarios = 0;
function scenario(): AuditScenario {
  const dir = join(work, `s${++scenarios}`);
  return new AuditScenario(mkdtempSync(`${dir}-`));
}

function run(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function reconcile(s: AuditScenario, hosts: string[], bundle?: string): Reconciliation {
  return reconcileLogs({
    signerLog: s.signerLog,
    hostLogs: hosts.map((h) => s.hostLog(h)),
    ...(bundle === undefined ? {} : { bundle: decodeTrustBundle(readFileSync(bundle)) }),
  });
}

function codes(r: Reconciliation): Array<[FindingCode, string | undefined]> {
  return r.findings.map((f) => [f.code, f.grantId]);
}

describe("airgrant-auditor reconcile", () => {
  it("finds nothing in a clean set of logs, lists the grants never used, and exits 0", () => {
    const s = scenario();
    s.signerEntry("bundle-exported", { clockSkew: 120, groups: ["dbs"] });
    const once = s.issue();
    const twice = s.issue({ target: "group:dbs", maxUses: 2, user: "bob", officer: "oscar" });
    const never = s.issue({ user: "carol" });
    s.signerEntry("grant-refused", { code: "officer-not-allowed", officer: "oscar", user: "eve", target: "db9" });
    s.use("db1.example", once);
    s.use("db1.example", once, { verdict: "grant-replayed", at: T0 + 700 });
    s.use("db2.example", twice, { at: T0 + 100 });
    s.use("db3.example", twice, { at: T0 + 3600 + 100 }); // after notAfter, within the exported skew
    const bundle = s.bundle({ dbs: ["db2.example", "db3.example"] }, 120);

    const r = run([
      "reconcile",
      "--signer",
      s.signerLog,
      "--host",
      s.hostLog("db1.example"),
      s.hostLog("db2.example"),
      s.hostLog("db3.example"),
      "--bundle",
      bundle,
      "--json",
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      ok: true,
      code: "reconciled",
      grantsIssued: 3,
      grantsUsed: 2,
      uses: 3,
      findings: [],
      clockSkew: { seconds: 120, source: "bundle" },
    });
    expect(out.neverUsed.map((g: { grantId: string }) => g.grantId)).toEqual([never.grantId]);
    expect(out.hosts.find((h: { host: string }) => h.host === "db1.example")).toMatchObject({
      checks: 2,
      uses: 1,
      refusals: { "grant-replayed": 1 },
    });
    expect(out.officers).toEqual([
      {
        officer: "olivia",
        issued: 2,
        used: 1,
        neverUsed: 1,
        uses: 1,
        refusals: 0,
        approvals: 0,
        denials: 0,
        findings: 0,
      },
      {
        officer: "oscar",
        issued: 1,
        used: 1,
        neverUsed: 0,
        uses: 2,
        refusals: 1,
        approvals: 0,
        denials: 0,
        findings: 0,
      },
    ]);

    const text = run(["reconcile", "--signer", s.signerLog, "--host", s.hostLog("db1.example")]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain("findings: 0\n");
    expect(text.stdout).toMatch(/never used \(informational, not findings\): 2\n/);
    expect(text.stdout).toContain(never.grantId);
    expect(text.stdout).toContain("clock skew 120 s (the largest in the signer log's bundle exports)");
  });

  it("matches group uses by group name only without --bundle, and says so", () => {
    const s = scenario();
    const g = s.issue({ target: "group:dbs" });
    s.use("anything.example", g);
    const r = reconcile(s, ["anything.example"]);
    expect(r.ok).toBe(true);
    expect(r.unresolvedGroupUses).toBe(1);
    const text = run(["reconcile", "--signer", s.signerLog, "--host", s.hostLog("anything.example")]);
    expect(text.stdout).toContain("note: 1 use(s) of group grants matched by group name only: give --bundle");
  });

  it("flags a use of a grant the signer never issued", () => {
    const s = scenario();
    const real = s.issue();
    const forged = { ...real, grantId: "00112233445566778899aabbccddeeff" };
    s.use("db1.example", real);
    s.use("db1.example", forged);
    const r = reconcile(s, ["db1.example"]);
    expect(codes(r)).toEqual([["unknown-grant", forged.grantId]]);
    expect(r.findings[0]).toMatchObject({ log: s.hostLog("db1.example"), seq: 3, host: "db1.example", user: "alice" });
    const cli = run(["reconcile", "--signer", s.signerLog, "--host", s.hostLog("db1.example")]);
    expect(cli.status).toBe(1);
    expect(cli.stderr).toBe("error: reconcile-findings: 1 finding(s)\n");
    expect(cli.stdout).toMatch(/unknown-grant +00112233445566778899aabbccddeeff/);
  });

  it("flags a grant used more often than it allows, on one host and summed across hosts", () => {
    const s = scenario();
    const acrossHosts = s.issue({ maxUses: 1 });
    const oneHost = s.issue({ maxUses: 2 });
    const fine = s.issue({ maxUses: 2 });
    s.use("db1.example", acrossHosts);
    s.use("db1.example", acrossHosts, { host: "db1.example", at: T0 + 900 });
    s.use("db1.example", oneHost);
    s.use("db1.example", oneHost);
    s.use("db1.example", oneHost);
    s.use("db1.example", fine);
    s.use("db1.example", fine);
    const r1 = reconcile(s, ["db1.example"]);
    expect(codes(r1)).toEqual([
      ["grant-overused", acrossHosts.grantId],
      ["grant-overused", oneHost.grantId],
    ]);
    expect(r1.findings[1]?.message).toMatch(/^used 3 times on 1 host\(s\), at most 2 allowed/);

    // Once on each of two hosts: each host's store let it in once, the sum is two.
    const s2 = scenario();
    const g = s2.issue({ target: "db1.example", maxUses: 1 });
    s2.use("a", g, { host: "db1.example" });
    s2.use("b", g, { host: "db1.example" });
    const r2 = reconcile(s2, ["a", "b"]);
    expect(codes(r2)).toEqual([["grant-overused", g.grantId]]);
    expect(r2.findings[0]?.message).toContain(`${s2.hostLog("a")} entry 2`);
    expect(r2.findings[0]?.message).toContain(`${s2.hostLog("b")} entry 2`);
  });

  it("flags uses outside the window, allowing the clock skew", () => {
    const s = scenario();
    const g = s.issue({ maxUses: 5 });
    s.use("db1.example", g, { at: g.notBefore - 301 }); // too early, beyond 300 s skew
    s.use("db1.example", g, { at: g.notBefore - 300 }); // within skew
    s.use("db1.example", g, { at: g.notAfter + 299 }); // within skew
    s.use("db1.example", g, { at: g.notAfter + 300 }); // too late
    const withSkew = reconcileLogs({
      signerLog: s.signerLog,
      hostLogs: [s.hostLog("db1.example")],
      bundle: decodeTrustBundle(readFileSync(s.bundle({}, 300))),
    });
    expect(codes(withSkew)).toEqual([
      ["use-outside-window", g.grantId],
      ["use-outside-window", g.grantId],
    ]);
    expect(withSkew.findings.map((f) => f.seq)).toEqual([2, 5]);
    // No bundle and no bundle export in the signer log: no skew at all.
    const noSkew = reconcile(s, ["db1.example"]);
    expect(noSkew.clockSkew).toEqual({ seconds: 0, source: "none" });
    expect(noSkew.findings).toHaveLength(4);
  });

  it("flags a use by another user than the grant's, and on a host outside its target or group", () => {
    const s = scenario();
    const forAlice = s.issue({ user: "alice" });
    const forDb1 = s.issue({ target: "db1.example" });
    const forGroup = s.issue({ target: "group:dbs" });
    const forMissingGroup = s.issue({ target: "group:gone" });
    s.use("db1.example", forAlice, { user: "mallory" });
    s.use("db2.example", forDb1);
    s.use("web1.example", forGroup);
    s.use("db2.example", forMissingGroup);
    const r = reconcile(s, ["db1.example", "db2.example", "web1.example"], s.bundle({ dbs: ["db2.example"] }));
    expect(codes(r)).toEqual([
      ["user-mismatch", forAlice.grantId],
      ["target-mismatch", forDb1.grantId],
      ["target-mismatch", forMissingGroup.grantId],
      ["target-mismatch", forGroup.grantId],
    ]);
    expect(r.findings[0]?.message).toBe("mallory logged in with a grant issued for alice");
    expect(r.findings[3]?.message).toContain("which the bundle says does not hold web1.example");
  });

  it("flags a host that accepted a grant whose contents differ from what the signer issued", () => {
    const s = scenario();
    const g = s.issue();
    s.use("db1.example", g, { data: { notAfter: g.notAfter + 86_400, issuer: "0000000000000000" } });
    const r = reconcile(s, ["db1.example"]);
    expect(codes(r)).toEqual([["grant-mismatch", g.grantId]]);
    expect(r.findings[0]?.message).toContain(`notAfter ${g.notAfter + 86_400} (issued: ${g.notAfter})`);
    expect(r.findings[0]?.message).toContain('issuer "0000000000000000"');
  });

  it("flags anchors that are not on the signer chain: rewritten, beyond its end, or after the grant", () => {
    const s = scenario();
    const a = s.issue();
    const b = s.issue();
    const c = s.issue();
    s.use("db1.example", a, { data: { anchor: { seq: a.anchor.seq, head: "0123456789abcdef" } } });
    s.use("db1.example", b, { data: { anchor: { seq: 99, head: b.anchor.head } } });
    s.use("db1.example", c, { data: { anchor: { seq: c.seq, head: c.anchor.head } } });
    const r = reconcile(s, ["db1.example"]);
    expect(codes(r)).toEqual([
      ["anchor-not-on-chain", a.grantId],
      ["anchor-not-on-chain", b.grantId],
      ["anchor-not-on-chain", c.grantId],
    ]);
    expect(r.findings[0]?.message).toContain("(rewritten, or another signer's log)");
    expect(r.findings[1]?.message).toContain("beyond the signer log, which has 5 verified entries");
  });

  it("catches a signer log cut short after the fact: the anchors of later grants are beyond its end", () => {
    const s = scenario();
    const kept = s.issue();
    const first = s.issue();
    const second = s.issue();
    s.use("db1.example", kept);
    s.use("db1.example", second);
    // Cut the signer log after `kept`'s entry, at a line boundary: the rest still verifies.
    const lines = readFileSync(s.signerLog, "utf8").split("\n");
    writeFileSync(s.signerLog, `${lines.slice(0, kept.seq).join("\n")}\n`);
    const r = reconcile(s, ["db1.example"]);
    expect(r.logs[0]?.intact).toBe(true);
    expect(codes(r)).toEqual([
      ["anchor-not-on-chain", second.grantId],
      ["unknown-grant", second.grantId],
    ]);
    expect(first.seq).toBe(kept.seq + 1);
  });

  it("reports broken chains as findings, with the verifier's reason and entry", () => {
    const s = scenario();
    const g = s.issue();
    const h = s.issue();
    s.use("db1.example", g);
    s.use("db1.example", h);
    s.use("db2.example", g, { host: "db1.example", at: T0 + 1000 });
    const host = s.hostLog("db1.example");
    const hostLines = readFileSync(host, "utf8").split("\n");
    hostLines[2] = (hostLines[2] as string).replace('"user":"alice"', '"user":"alicf"');
    writeFileSync(host, hostLines.join("\n"));
    const signerLines = readFileSync(s.signerLog, "utf8").split("\n");
    signerLines.splice(1, 1); // delete entry 2
    writeFileSync(s.signerLog, signerLines.join("\n"));
    const r = reconcile(s, ["db1.example", "db2.example"]);
    const broken = r.findings.filter((f) => f.code === "chain-broken");
    expect(broken).toEqual([
      expect.objectContaining({ log: s.signerLog, seq: 2, reason: "sequence-gap" }),
      expect.objectContaining({ log: host, seq: 3, reason: "hash-mismatch" }),
    ]);
    // Only entry 1 of the signer log verified: both verified uses are of a grant it cannot show.
    expect(codes(r).slice(2)).toEqual([
      ["anchor-not-on-chain", g.grantId],
      ["anchor-not-on-chain", g.grantId],
      ["unknown-grant", g.grantId],
      ["unknown-grant", g.grantId],
    ]);
    const cli = run(["reconcile", "--signer", s.signerLog, "--host", host, "--json"]);
    expect(cli.status).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ ok: false, code: "reconcile-findings" });
  });

  it("flags a torn tail on a host log", () => {
    const s = scenario();
    const g = s.issue();
    s.use("db1.example", g);
    writeFileSync(s.hostLog("db1.example"), `${readFileSync(s.hostLog("db1.example"), "utf8")}{"seq":3,"ti`);
    const r = reconcile(s, ["db1.example"]);
    expect(r.findings).toEqual([expect.objectContaining({ code: "chain-broken", reason: "torn-tail", seq: 3 })]);
  });

  it("flags a host that installed a bundle the signer never exported, and a use of a grant its bundle revokes", () => {
    const s = scenario();
    const g = s.issue({ maxUses: 3 });
    const exported = "11111111111111111111111111111111";
    const revoking = "22222222222222222222222222222222";
    const foreign = "33333333333333333333333333333333";
    s.signerEntry("bundle-exported", { bundleId: exported, clockSkew: 300, revokedGrants: [] });
    s.signerEntry("bundle-exported", { bundleId: revoking, clockSkew: 300, revokedGrants: [g.grantId] });
    s.hostEntry("db1.example", "bundle-installed", { bundleId: exported, issuers: [], sha256: "0".repeat(64) });
    s.use("db1.example", g, { at: T0 + 60 });
    s.hostEntry(
      "db1.example",
      "bundle-installed",
      { bundleId: revoking, issuers: [], sha256: "0".repeat(64) },
      T0 + 90,
    );
    s.use("db1.example", g, { at: T0 + 120 });
    s.hostEntry(
      "db1.example",
      "bundle-installed",
      { bundleId: foreign, issuers: [], sha256: "0".repeat(64) },
      T0 + 150,
    );
    s.use("db1.example", g, { at: T0 + 180 });
    const r = reconcile(s, ["db1.example"]);
    expect(r.findings.map((f) => [f.code, f.seq])).toEqual([
      ["revoked-grant-used", 5],
      ["bundle-not-exported", 6],
    ]);
    expect(r.findings[0]?.message).toBe(
      `the grant is revoked in bundle ${revoking}, which this host installed at entry 4`,
    );
  });

  it("knows the signer's revocations: a use after the host installed one is a finding, one before it a note naming the gap", () => {
    const s = scenario();
    const g = s.issue({ maxUses: 3 });
    const before = "11111111111111111111111111111111";
    const after = "22222222222222222222222222222222";
    s.signerEntry("bundle-exported", { bundleId: before, clockSkew: 300, revokedGrants: [] });
    s.hostEntry("db1.example", "bundle-installed", { bundleId: before, issuers: [], sha256: "0".repeat(64) });
    s.use("db1.example", g, { at: T0 + 30 });
    s.signerEntry("grant-revoked", { grantId: g.grantId, reason: "laptop stolen" }, T0 + 60);
    s.signerEntry("bundle-exported", { bundleId: after, clockSkew: 300, revokedGrants: [g.grantId] }, T0 + 70);
    s.use("db1.example", g, { at: T0 + 90 });
    s.hostEntry("db1.example", "bundle-installed", { bundleId: after, issuers: [], sha256: "0".repeat(64) }, T0 + 120);
    s.use("db1.example", g, { at: T0 + 150 });
    const r = reconcile(s, ["db1.example"]);
    expect(r.findings.map((f) => [f.code, f.seq])).toEqual([["revoked-grant-used", 6]]);
    // The use before the revocation is nothing; the one between the revocation and its install is the gap.
    expect(r.revocationGaps).toEqual({
      count: 1,
      first: [
        {
          grantId: g.grantId,
          host: "db1.example",
          log: s.hostLog("db1.example"),
          seq: 4,
          time: new Date((T0 + 90) * 1000).toISOString(),
          revoked: { seq: 5, time: (T0 + 60) * 1000 },
        },
      ],
    });
    const text = run(["reconcile", "--signer", s.signerLog, "--host", s.hostLog("db1.example")]).stdout;
    expect(text).toContain(
      `note: 1 use(s) of grants after the signer log revoked them, on hosts whose bundle did not revoke them yet: grant ${g.grantId} on db1.example`,
    );
  });

  it("knows which trust version each host applied and when, names it in a revocation gap, and reports hosts behind", () => {
    const s = scenario();
    const g = s.issue({ maxUses: 3 });
    const [b2, b3, unsigned] = ["2".repeat(32), "3".repeat(32), "1".repeat(32)];
    const installed = (bundleId: string, trustVersion?: number) => ({
      bundleId,
      issuers: [],
      sha256: "0".repeat(64),
      ...(trustVersion === undefined ? {} : { trustVersion }),
    });
    s.signerEntry("bundle-exported", { bundleId: unsigned, clockSkew: 300, revokedGrants: [] });
    s.signerEntry("bundle-exported", { bundleId: b2, clockSkew: 300, revokedGrants: [], trustVersion: 2 });
    s.signerEntry("grant-revoked", { grantId: g.grantId, reason: "laptop stolen" }, T0 + 60);
    s.signerEntry("bundle-exported", { bundleId: b3, clockSkew: 300, revokedGrants: [g.grantId], trustVersion: 3 });
    s.hostEntry("db1.example", "bundle-installed", installed(b2, 2));
    s.use("db1.example", g, { at: T0 + 90 });
    s.hostEntry("db1.example", "bundle-installed", installed(b3, 3), T0 + 120);
    s.use("db1.example", g, { at: T0 + 150 });
    s.hostEntry("db2.example", "bundle-installed", installed(b2, 2), T0 + 10);
    s.hostEntry("db3.example", "bundle-installed", installed(unsigned), T0 + 20);
    const r = reconcile(s, ["db1.example", "db2.example", "db3.example"]);
    expect(r.findings.map((f) => [f.code, f.seq, f.message])).toEqual([
      [
        "revoked-grant-used",
        5,
        `the grant is revoked in bundle ${b3} (trust version 3), which this host installed at entry 4`,
      ],
    ]);
    expect(r.revocationGaps.first[0]).toMatchObject({ seq: 3, revokedIn: 3, hostTrustVersion: 2 });
    expect(r.trustVersions.newest).toEqual({ trustVersion: 3, log: s.signerLog, seq: 7 });
    expect(r.trustVersions.hosts.map((h) => [h.log, h.applied.map((a) => [a.trustVersion, a.time])])).toEqual([
      [
        s.hostLog("db1.example"),
        [
          [2, new Date(T0 * 1000).toISOString()],
          [3, new Date((T0 + 120) * 1000).toISOString()],
        ],
      ],
      [s.hostLog("db2.example"), [[2, new Date((T0 + 10) * 1000).toISOString()]]],
      [s.hostLog("db3.example"), [[undefined, new Date((T0 + 20) * 1000).toISOString()]]],
    ]);
    expect(r.trustVersions.behind).toEqual([s.hostLog("db2.example"), s.hostLog("db3.example")]);
    const text = run([
      "reconcile",
      "--signer",
      s.signerLog,
      "--host",
      ...["db1.example", "db2.example", "db3.example"].map((h) => s.hostLog(h)),
    ]).stdout;
    expect(text).toContain(`first in trust version 3; the host had trust version 2`);
    expect(text).toContain(
      `note: 2 host log(s) end on a trust version older than 3, the newest seen (${s.signerLog} entry 7): ${s.hostLog("db2.example")} (trust version 2 since ${new Date((T0 + 10) * 1000).toISOString()}); ${s.hostLog("db3.example")} (an unsigned bundle since`,
    );
    expect(text).toMatch(/trust versions:\n\s+LOG\s+HOLDS\s+APPLIED\n/);
  });

  it("flags a use of a grant whose min-trust-version is above what the host's log says it held", () => {
    const s = scenario();
    const g = s.issue({ minTrustVersion: 3, target: "group:dbs", maxUses: 4 });
    const bundle = (bundleId: string, trustVersion?: number) => ({
      bundleId,
      issuers: [],
      sha256: "0".repeat(64),
      ...(trustVersion === undefined ? {} : { trustVersion }),
    });
    s.signerEntry("bundle-exported", { bundleId: "1".repeat(32), clockSkew: 300, revokedGrants: [] });
    s.signerEntry("bundle-exported", { bundleId: "2".repeat(32), clockSkew: 300, trustVersion: 2 });
    s.signerEntry("bundle-exported", { bundleId: "3".repeat(32), clockSkew: 300, trustVersion: 3 });
    s.hostEntry("db1.example", "bundle-installed", bundle("2".repeat(32), 2));
    s.use("db1.example", g, { at: T0 + 30 });
    s.hostEntry("db1.example", "bundle-installed", bundle("3".repeat(32), 3), T0 + 60);
    s.use("db1.example", g, { at: T0 + 90 });
    s.hostEntry("db2.example", "bundle-installed", bundle("1".repeat(32)));
    s.use("db2.example", g, { at: T0 + 30 });
    s.use("db3.example", g, { at: T0 + 30 });
    const r = reconcile(s, ["db1.example", "db2.example", "db3.example"]);
    expect(r.findings.map((f) => [f.code, f.log, f.seq, f.message])).toEqual([
      [
        "trust-version-unmet",
        s.hostLog("db1.example"),
        3,
        "the grant needs trust version 3; this host's log says it held trust version 2",
      ],
      [
        "trust-version-unmet",
        s.hostLog("db2.example"),
        3,
        "the grant needs trust version 3; this host's log says it held no signed bundle",
      ],
      [
        "trust-version-unmet",
        s.hostLog("db3.example"),
        2,
        "the grant needs trust version 3; this host's log says it held no signed bundle",
      ],
    ]);
  });

  it("knows when each issuer key was valid, and flags a use a retirement should have stopped", () => {
    const s = scenario();
    const newKey = "4".repeat(16);
    const retireAt = T0 + 500;
    const before = "5".repeat(32);
    const after = "6".repeat(32);
    s.signerEntry("bundle-exported", { bundleId: before, clockSkew: 300, revokedGrants: [] });
    // Minted before the rotation, starting after its retireAt; and one that starts by it.
    const late = s.issue({ notBefore: retireAt + 100, maxUses: 2, target: "group:dbs" });
    const early = s.issue({ notBefore: retireAt - 100 });
    s.signerEntry(
      "issuer-rotated",
      {
        keyId: newKey,
        algorithm: "ed25519",
        keyLabel: "issuer-2",
        token: "t",
        generated: true,
        retiredKeyId: ISSUER_KEY_ID,
        retireAt,
      },
      retireAt,
    );
    s.signerEntry("bundle-exported", { bundleId: after, clockSkew: 300, revokedGrants: [], issuerKeyId: newKey });
    s.hostEntry("db1.example", "bundle-installed", { bundleId: before, issuers: [], sha256: "0".repeat(64) });
    s.use("db1.example", late);
    s.use("db1.example", early);
    s.hostEntry("db2.example", "bundle-installed", { bundleId: after, issuers: [], sha256: "0".repeat(64) });
    s.use("db2.example", late);
    const r = reconcile(s, ["db1.example", "db2.example"]);
    expect(r.findings.map((f) => [f.code, f.log, f.seq])).toEqual([
      ["retired-issuer-used", s.hostLog("db2.example"), 3],
    ]);
    expect(r.findings[0]?.message).toMatch(
      new RegExp(
        `after its issuer key ${ISSUER_KEY_ID} was retired at .* \\(signer log entry 6\\), and this host held bundle ${after}`,
      ),
    );
    expect(r.retirementGaps).toBe(1);
    expect(r.issuerKeys).toEqual([
      {
        keyId: ISSUER_KEY_ID,
        since: { seq: 2, time: expect.any(String) },
        retired: { seq: 6, time: new Date(retireAt * 1000).toISOString(), retireAt },
      },
      { keyId: newKey, since: { seq: 6, time: new Date(retireAt * 1000).toISOString() } },
    ]);
    const bundle = s.bundle({ dbs: ["db1.example", "db2.example"] });
    const withBundle = reconcile(s, ["db1.example", "db2.example"], bundle);
    expect(withBundle.issuerKeys.at(-1)).toMatchObject({ bundle: { notBefore: T0 - 86_400 } });
    const text = run([
      "reconcile",
      "--signer",
      s.signerLog,
      "--host",
      s.hostLog("db1.example"),
      s.hostLog("db2.example"),
    ]).stdout;
    expect(text).toContain(
      "note: 1 use(s) of grants that start after their issuer key's retireAt, on hosts whose bundle was exported before the key was retired",
    );
    expect(text).toMatch(
      new RegExp(
        `issuer keys:\\n.*\\n\\s+${ISSUER_KEY_ID}\\s+\\S+ \\(entry 2\\)\\s+${new Date(retireAt * 1000).toISOString().replace(".000Z", "Z")} \\(entry 6`,
      ),
    );
  });

  it("flags a grant id issued twice and records missing members", () => {
    const s = scenario();
    const g = s.issue();
    s.issue({ grantId: g.grantId });
    s.signerEntry("grant-issued", { grantId: "ab".repeat(16), user: "x", target: "y" });
    s.use("db1.example", g, { data: { grantId: undefined } });
    const r = reconcile(s, ["db1.example"]);
    expect(codes(r)).toEqual([
      ["duplicate-grant", g.grantId],
      ["malformed-record", "ab".repeat(16)],
      ["malformed-record", undefined],
    ]);
    expect(r.findings[1]?.message).toBe(
      "grant-issued entry has no notBefore, no notAfter, no maxUses, no officer, no yubikeyId, no reason, no issuerKeyId, no grantSha256",
    );
  });

  it("makes verify with the bundle refuse a signer log that records one OTP counter twice", () => {
    const s = scenario();
    s.issue({ otpCounter: [1, 4] });
    const bundle = s.bundle({}, 120);
    expect(run(["verify", s.signerLog, "--bundle", bundle])).toMatchObject({ status: 0 });
    const again = s.issue({ otpCounter: [1, 4] });
    const r = run(["verify", s.signerLog, "--bundle", bundle, "--json"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: otp-counter-not-increasing: 1 signer log\(s\) record/);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      code: "otp-counter-not-increasing",
      logs: [{ ok: true, otpCounterRepeat: { at: { seq: again.seq, usage: 1, session: 4 } } }],
    });
    expect(run(["verify", s.signerLog, "--bundle", bundle]).stdout).toContain(`entry ${again.seq} reuses an OTP`);
  });

  it("flags a YubiKey OTP counter that does not increase across the signer log: the same OTP minted twice", () => {
    const s = scenario();
    s.issue({ otpCounter: [1, 4] });
    const again = s.issue({ otpCounter: [1, 4] });
    s.signerEntry("grant-refused", { code: "ttl-too-long", yubikeyId: "cccccccccccb", otpCounter: [1, 3] });
    s.issue({ otpCounter: [2, 0] });
    // Another YubiKey's counters are its own.
    s.signerEntry("grant-refused", { code: "ttl-too-long", yubikeyId: "cccccccccccd", otpCounter: [1, 0] });
    const r = reconcile(s, []);
    expect(r.findings.map((f) => [f.code, f.seq, f.grantId])).toEqual([
      ["otp-counter-not-increasing", again.seq, again.grantId],
      ["otp-counter-not-increasing", again.seq + 1, undefined],
    ]);
    expect(r.findings[0]?.message).toBe(
      `YubiKey cccccccccccb's OTP counter [1,4] is not above the [1,4] of entry ${again.seq - 1}: an OTP accepted twice, or the signer's home rolled back`,
    );
    expect(r.ok).toBe(false);
  });

  it("flags a torn append that a log recovered (log-recovered), in the signer log and in a host log", () => {
    const s = scenario();
    const g = s.issue();
    s.use("db1.example", g);
    writeFileSync(s.signerLog, `${readFileSync(s.signerLog, "utf8")}{"seq":3,"ti`);
    writeFileSync(s.hostLog("db1.example"), `${readFileSync(s.hostLog("db1.example"), "utf8")}{"seq":3,"ti`);
    // The next append of each sets the torn bytes aside and records it.
    s.issue();
    s.hostEntry("db1.example", "bundle-installed", { bundleId: "1".repeat(32), issuers: [], sha256: "0".repeat(64) });
    const r = reconcile(s, ["db1.example"]);
    expect(r.findings.map((f) => [f.code, f.log, f.seq])).toEqual([
      ["log-recovered", s.signerLog, 4],
      ["log-recovered", s.hostLog("db1.example"), 3],
      ["bundle-not-exported", s.hostLog("db1.example"), 4],
    ]);
    expect(r.findings[0]?.message).toMatch(/^a torn append of 12 byte\(s\) was set aside here in signer\.log\.torn-4-/);
    const text = run(["reconcile", "--signer", s.signerLog, "--host", s.hostLog("db1.example")]);
    expect(text.status).toBe(1);
    expect(text.stdout).toContain("log-recovered");
  });

  it("reads PAM and OpenSSH certificate uses alike", () => {
    const s = scenario();
    const pam = s.issue();
    const ssh = s.issue({ maxUses: 2, sshSerial: "1" });
    s.use("db1.example", pam, { data: { pamService: "sshd", pamRhost: "10.0.0.9" } });
    s.use("db1.example", ssh, {
      data: { anchor: undefined, target: undefined, via: "ssh-certificate", sshSerial: "1", maxUses: 2 },
    });
    s.use("db1.example", ssh, { data: { anchor: undefined, target: undefined, via: "ssh-certificate", maxUses: 3 } });
    const r = reconcile(s, ["db1.example"]);
    expect(r.uses).toBe(3);
    expect(codes(r)).toEqual([["grant-mismatch", ssh.grantId]]);
  });

  it("matches a certificate use to the grant-issued or grant-certified entry of its serial, and finds one the signer never logged", () => {
    const s = scenario();
    const issued = s.issue({ maxUses: 3, sshSerial: "7" });
    const certified = s.issue({ maxUses: 3 });
    const certificate = { serial: "18446744073709551615", keyId: certified.grantId, subjectKeySha256: "6".repeat(64) };
    s.signerEntry("grant-certified", {
      grantId: certified.grantId,
      sshCertificate: certificate,
      grantSha256: "e".repeat(64),
    });
    const cert = (serial: string) => ({
      data: { anchor: undefined, target: undefined, via: "ssh-certificate", sshSerial: serial, maxUses: 3 },
    });
    s.use("db1.example", issued, cert("7"));
    s.use("db1.example", certified, cert("18446744073709551615"));
    // A certificate for the certified grant's id with a serial no entry of the signer log names.
    s.use("db1.example", certified, cert("8"));
    const r = reconcile(s, ["db1.example"]);
    expect(r.findings.map((f) => [f.code, f.grantId, f.seq])).toEqual([["certificate-unlogged", certified.grantId, 4]]);
    expect(r.findings[0]?.message).toBe(
      "an OpenSSH certificate with serial 8 was used; the signer log records 18446744073709551615 for this grant (grant-issued sshCertificate, grant-certified)",
    );
  });

  it("lists each session of a grant's login with its length, and finds one that outlived its grant", () => {
    const s = scenario();
    const ended = s.issue({ notAfter: T0 + 1800 });
    const loggedOut = s.issue();
    const outlived = s.issue({ notAfter: T0 + 1800 });
    for (const grant of [ended, loggedOut, outlived]) s.use("db1.example", grant, { at: T0 + 600 });
    const closed = (grant: typeof ended, reason: string, closedAt: number, seq: number) =>
      s.hostEntry(
        "db1.example",
        "session-closed",
        {
          reason,
          user: grant.user,
          host: "db1.example",
          grantId: grant.grantId,
          checkSeq: seq,
          auditSession: 80 + seq,
          openedAt: T0 + 601,
          accessEndsAt: grant.notAfter,
          seconds: closedAt - (T0 + 601),
          ...(reason === "expiry" ? { processesEnded: 4 } : {}),
        },
        closedAt,
      );
    closed(ended, "expiry", T0 + 1802, 1);
    closed(loggedOut, "logout", T0 + 900, 2);
    // Its watcher killed, and no verifier start for five minutes.
    closed(outlived, "expiry", T0 + 1800 + 301, 3);
    const r = reconcile(s, ["db1.example"]);
    expect(codes(r)).toEqual([["session-outlived-grant", outlived.grantId]]);
    expect(r.findings[0]?.message).toMatch(/301 s after its access ended/);
    expect(r.sessions.byReason).toEqual({ logout: 1, expiry: 2, reboot: 0 });
    expect(r.sessions.listed.map((row) => [row.grantId, row.reason, row.seconds, row.outlived])).toEqual([
      [ended.grantId, "expiry", 1201, undefined],
      [loggedOut.grantId, "logout", 299, undefined],
      [outlived.grantId, "expiry", 1500, 301],
    ]);
    const text = run(["reconcile", "--signer", s.signerLog, "--host", s.hostLog("db1.example")]);
    expect(text.status).toBe(1);
    expect(text.stdout).toMatch(/sessions: 3 session\(s\) of grants' logins closed: 1 logout, 2 expiry, 0 reboot/);
    expect(text.stdout).toMatch(new RegExp(`${loggedOut.grantId}.*logout\\s+299 s`));
  });

  it("finds a session-closed entry without the members it needs malformed", () => {
    const s = scenario();
    const grant = s.issue();
    s.use("db1.example", grant);
    s.hostEntry("db1.example", "session-closed", { reason: "later", user: grant.user, grantId: grant.grantId });
    const r = reconcile(s, ["db1.example"]);
    expect(codes(r)).toEqual([["malformed-record", undefined]]);
    expect(r.findings[0]?.message).toMatch(/^session-closed has .*reason/);
  });

  it("gives usage errors, unreadable files and one log given twice exit 2", () => {
    const s = scenario();
    s.issue();
    expect(run(["reconcile", "--host", s.signerLog]).status).toBe(2);
    expect(run(["reconcile", "--signer", s.signerLog]).stderr).toMatch(
      /^error: usage: reconcile needs at least one --host/,
    );
    expect(run(["verify", "--signer", s.signerLog, s.signerLog]).status).toBe(2);
    const missing = run(["reconcile", "--signer", s.signerLog, "--host", join(work, "nope.log")]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^error: file-unreadable: /);
    const twice = run(["reconcile", "--signer", s.signerLog, "--host", s.signerLog]);
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/^error: bad-input: .* is given twice/);
    const copy = join(s.dir, "copy.log");
    writeFileSync(copy, readFileSync(s.signerLog));
    const sameId = run(["reconcile", "--signer", s.signerLog, "--host", copy, "--json"]);
    expect(sameId.status).toBe(2);
    expect(JSON.parse(sameId.stdout)).toMatchObject({ ok: false, code: "bad-input" });
    const badBundle = join(s.dir, "bad-bundle.json");
    writeFileSync(badBundle, "{}");
    expect(run(["reconcile", "--signer", s.signerLog, "--host", copy, "--bundle", badBundle]).status).toBe(2);
  });

  it("matches a request-bound use to its host's request, judges it by the request's age, and notes the two clocks", () => {
    const s = scenario();
    s.signerEntry("bundle-exported", { clockSkew: 300, groups: [] });
    const code = "B8BW797J2132RPKMN5";
    // The host's clock is three hours behind the signer's: its entries are dated by it.
    const hostNow = T0 - 10_800;
    s.hostEntry(
      "db1.example",
      "request-created",
      { request: code, user: "alice", host: "db1.example", created: hostNow, lifetime: 3600 },
      hostNow,
    );
    const bound = s.issue({ request: code });
    s.use("db1.example", bound, {
      at: hostNow + 600,
      data: { request: code, requestAge: 600, signerAhead: { least: 10_200, most: 10_800 } },
    });
    const clean = reconcile(s, ["db1.example"]);
    expect(codes(clean)).toEqual([]);
    expect(clean.clockDisagreements).toMatchObject({ count: 1, first: [{ grantId: bound.grantId, least: 10_200 }] });
    expect(reconciliationNotes(clean).join("\n")).toContain("the signer's clock ahead by 10200 to 10800 s");

    const unlogged = s.issue({ request: "NAQWAZRW4P33EEKMN3" });
    s.use("db1.example", unlogged, { at: hostNow + 700, data: { request: "NAQWAZRW4P33EEKMN3" } });
    const late = s.issue({ request: code });
    s.use("db1.example", late, { at: hostNow + 3600, data: { request: code } });
    const differs = s.issue();
    s.use("db1.example", differs, { at: hostNow + 800, data: { request: code } });
    expect(codes(reconcile(s, ["db1.example"]))).toEqual([
      ["use-outside-window", late.grantId],
      ["grant-mismatch", differs.grantId],
      ["request-not-logged", unlogged.grantId],
    ]);
  });

  it("finds a grant bound to no request used on a host whose installed bundle requires requests", () => {
    const s = scenario();
    const bundleId = "1".repeat(32);
    s.signerEntry("bundle-exported", { bundleId, clockSkew: 300, groups: [] });
    const policy = { required: ["group:dbs"], lifetime: 3600, maxPendingPerHost: 64 };
    s.hostEntry(
      "db1.example",
      "bundle-installed",
      { bundleId, sha256: "2".repeat(64), issuers: [], requestPolicy: policy },
      T0 - 60,
    );
    const unbound = s.issue();
    s.use("db1.example", unbound);
    const bundle = s.bundle({ dbs: ["db1.example"] });
    expect(codes(reconcile(s, ["db1.example"], bundle))).toEqual([["unbound-grant-used", unbound.grantId]]);
    // Without the bundle the host's group is unknown: that use is not found.
    expect(codes(reconcile(s, ["db1.example"]))).toEqual([]);
  });

  it("reads a required group named like an Object member as a group no host is in", () => {
    const s = scenario();
    const bundleId = "1".repeat(32);
    s.signerEntry("bundle-exported", { bundleId, clockSkew: 300, groups: [] });
    const policy = { required: ["group:constructor"], lifetime: 3600, maxPendingPerHost: 64 };
    s.hostEntry(
      "db1.example",
      "bundle-installed",
      { bundleId, sha256: "2".repeat(64), issuers: [], requestPolicy: policy },
      T0 - 60,
    );
    s.use("db1.example", s.issue());
    expect(codes(reconcile(s, ["db1.example"]))).toEqual([]);
  });
});
