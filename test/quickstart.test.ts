// The README's first command, run twice as a newcomer would, in a scratch
// demo directory: real SoftHSM2 token, real commands, every step checked.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const demo = mkdtempSync(join(tmpdir(), "airgrant-quickstart-"));
afterAll(() => rmSync(demo, { recursive: true, force: true }));

function quickstart() {
  const r = spawnSync(process.execPath, [join(ROOT, "scripts/quickstart.mjs")], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, AIRGRANT_DEMO_DIR: demo, AIRGRANT_PIN: "", AIRGRANT_HOME: "", AIRGRANT_STATE: "" },
    timeout: 240_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe("npm run quickstart", () => {
  it("runs the whole flow, and runs again reusing the token, key and officer", () => {
    const first = quickstart();
    expect(first.status, first.out).toBe(0);
    expect(first.out).toContain("token created");
    expect(first.out).toMatch(/\n {4}AG1(-[0-9A-Z]{1,8})+\n/);
    expect(first.out).toMatch(/allowed: grant [0-9a-f]{32} lets 'demo' in on 'demo-host'/);
    expect(first.out).toMatch(/error: grant-replayed: grant [0-9a-f]{32} was already used once/);
    expect(first.out.match(/audit\.log: intact, \d+ entries/g)).toHaveLength(2);
    expect(first.out).toMatch(
      /signer\/audit\.log: intact, \d+ entries, not sealed or no receipt given, [1-9]\d* signed checkpoint\(s\)/,
    );
    expect(first.out).toMatch(/host\/audit\.log: intact, \d+ entries, sealed \(host /);
    const second = quickstart();
    expect(second.status, second.out).toBe(0);
    expect(second.out).toContain("token already there: reused");
    expect(second.out).toContain("demo-officer is already enrolled");
    expect(second.out).toMatch(/allowed: grant [0-9a-f]{32}/);
    // The second audit checks the logs against the heads the first one kept.
    expect(second.out).toMatch(
      /signer\/audit\.log: intact, .*, still holds entry \d+ as the audit in .*last-audit\.json saw it/,
    );
    expect(second.out).toMatch(
      /host\/audit\.log: intact, .*, still holds entry \d+ as the audit in .*last-audit\.json saw it/,
    );
  }, 300_000);
});
