import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAuditHead, toHex } from "@airgrant/core";
import {
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  testFields,
  VERIFIER_CLI as VERIFIER,
} from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { AuditScenario } from "./audit-logs.fixture.js";

// Host logs written by the real `airgrant-verifier check`, so that the
// entry shapes reconciliation reads are the ones the verifier writes.
const AUDITOR = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "airgrant-reconcile-verifier-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function node(cli: string, args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: "utf8",
    ...(input === undefined ? {} : { input }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("reconcile on logs written by airgrant-verifier", () => {
  it("matches a use, ignores its replay, and flags a grant the signer log never issued", () => {
    const issuer = makeTestIssuer();
    const s = new AuditScenario(work);
    const now = Math.floor(Date.now() / 1000);
    s.signerEntry(
      "bundle-exported",
      { bundleId: "00112233445566778899aabbccddeeff", clockSkew: 300, revokedGrants: [] },
      now - 120,
    );
    const head = readAuditHead(s.signerLog) as { seq: number; hash: string };
    const fields = testFields(issuer, {
      notBefore: now - 60,
      notAfter: now + 3600,
      anchor: { seq: head.seq, headPrefix: new Uint8Array(Buffer.from(head.hash.slice(0, 16), "hex")) },
    });
    const issued = s.issue({
      grantId: toHex(fields.grantId),
      user: "alice",
      target: "db1.example",
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      issuerKeyId: toHex(issuer.keyId),
    });
    expect(issued.anchor).toEqual({ seq: head.seq, head: head.hash.slice(0, 16) });
    const stray = testFields(issuer, { notBefore: now - 60, notAfter: now + 3600 });

    const state = join(work, "host");
    const bundle = join(work, "bundle.json");
    writeFileSync(bundle, makeBundleBytes([issuer]));
    expect(node(VERIFIER, ["install-bundle", bundle, "--state", state]).status).toBe(0);
    const check = (text: string) =>
      node(VERIFIER, ["check", "--user", "alice", "--host", "db1.example", "--state", state], text);
    expect(check(makeGrantText(fields, [issuer])).status).toBe(0);
    expect(check(makeGrantText(fields, [issuer])).status).toBe(1); // grant-replayed
    expect(check(makeGrantText(stray, [issuer])).status).toBe(0);

    const hostLog = join(state, "audit.log");
    const r = node(AUDITOR, ["reconcile", "--signer", s.signerLog, "--host", hostLog, "--bundle", bundle, "--json"]);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ code: "reconcile-findings", grantsIssued: 1, grantsUsed: 1, uses: 1, neverUsed: [] });
    expect(out.findings).toEqual([
      expect.objectContaining({ code: "anchor-not-on-chain", grantId: toHex(stray.grantId), host: "db1.example" }),
      expect.objectContaining({ code: "unknown-grant", grantId: toHex(stray.grantId), host: "db1.example" }),
    ]);
    expect(out.hosts).toEqual([
      expect.objectContaining({ host: "db1.example", checks: 3, uses: 2, refusals: { "grant-replayed": 1 } }),
    ]);
  });
});
