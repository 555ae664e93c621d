// Processes killed at random points while checking grants: no grant is ever
// let in twice, nothing that was let in is forgotten, and the host log still
// verifies (a line torn by a kill is recovered and recorded by the next append).
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyAuditLog } from "@airgrant/core";
import { makeBundleBytes, makeGrantText, makeTestIssuer, testFields } from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "airgrant-crash-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function check(state: string, grant: string, killAfterMs: number | undefined): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [CLI, "check", "--user", "alice", "--host", "db1.example", "--state", state],
      {
        stdio: ["pipe", "ignore", "ignore"],
      },
    );
    child.stdin.end(grant);
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve(status);
    });
  });
}

describe("crashes during checks", () => {
  it("never let a grant in twice and keep the log verifiable", async () => {
    const issuer = makeTestIssuer();
    const now = Math.floor(Date.now() / 1000);
    const bundle = join(work, "bundle.json");
    writeFileSync(bundle, makeBundleBytes([issuer], { created: now }));
    const state = join(work, "state");
    const install = await new Promise<number | null>((resolve) =>
      spawn(process.execPath, [CLI, "install-bundle", bundle, "--state", state]).on("close", resolve),
    );
    expect(install).toBe(0);
    const grants = Array.from({ length: 8 }, () =>
      makeGrantText(testFields(issuer, { notBefore: now - 60, notAfter: now + 3600 }), [issuer]),
    );
    const allowed = new Map<string, number>();
    let killed = 0;
    for (let round = 0; round < 4; round++) {
      const runs = grants.flatMap((grant) => [0, 1].map(() => ({ grant, killAfter: 60 + Math.random() * 220 })));
      const results = await Promise.all(
        runs.map((r, i) => check(state, r.grant, i % 3 === 2 ? undefined : r.killAfter)),
      );
      results.forEach((status, i) => {
        const grant = runs[i]?.grant as string;
        if (status === 0) allowed.set(grant, (allowed.get(grant) ?? 0) + 1);
        if (status === null) killed++;
      });
    }
    expect(killed).toBeGreaterThan(10);
    for (const count of allowed.values()) expect(count).toBe(1);
    // One more check appends after whatever the kills left, recovering a torn line.
    expect(await check(state, "not a grant", undefined)).toBe(1);
    const report = verifyAuditLog(join(state, "audit.log"));
    expect(report).toMatchObject({ ok: true });
    const lines = readFileSync(join(state, "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const allowedInLog = lines.filter((e) => e.type === "grant-check" && e.data.verdict === "allowed");
    const perGrant = new Map<string, number>();
    for (const e of allowedInLog) perGrant.set(e.data.grantId, (perGrant.get(e.data.grantId) ?? 0) + 1);
    for (const count of perGrant.values()) expect(count).toBe(1);
    // Every login that was let in is in the log and holds its use.
    expect(allowedInLog.length).toBeGreaterThanOrEqual(allowed.size);
    const uses = readdirSync(join(state, "used")).filter((f) => !f.startsWith("."));
    expect(uses.length).toBeGreaterThanOrEqual(allowedInLog.length);
  }, 120_000);
});
