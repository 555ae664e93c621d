// The README's role commands as it gives them: `npx airgrant-…` from the
// repository root after `npm ci && npm run build`, with npm offline and its
// registry a port that counts every connection, so that a checkout whose
// commands npx cannot find locally (and would ask the registry for, where
// anyone could publish a package of that name) fails here.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { REPO_ROOT } from "@airgrant/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let registry: Server;
let connections = 0;
let offlineEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  registry = createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
  const address = registry.address();
  if (address === null || typeof address === "string") throw new Error("the registry stand-in has no port");
  offlineEnv = { ...process.env, npm_config_registry: `http://127.0.0.1:${address.port}/`, npm_config_offline: "true" };
});
afterAll(() => new Promise((resolve) => registry.close(resolve)));

function npx(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("npx", args, { cwd: REPO_ROOT, env: offlineEnv, encoding: "utf8" }, (err, stdout, stderr) => {
      resolve({ status: err === null ? 0 : Number(err.code), stdout, stderr });
    });
  });
}

describe("npx airgrant-… from the repository root, offline", () => {
  it("runs each role command the README names, and never asks the registry", async () => {
    const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
    for (const command of ["airgrant-signer", "airgrant-verifier", "airgrant-auditor"]) {
      expect(readme).toContain(`\`npx ${command} …\``);
      const r = await npx([command, "--version"]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${command} \\d+\\.\\d+\\.\\d+\\n$`));
    }
    expect(connections).toBe(0);
  }, 60_000);

  it("is refused for a command the workspace does not have: npx would have gone to the registry", async () => {
    const r = await npx(["airgrant-no-such-role", "--version"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("ENOTCACHED");
    expect(connections).toBe(0);
  }, 60_000);
});
