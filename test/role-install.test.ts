// The README's offline install of the signer and the auditor, as an admin
// runs it: both roles packed with the README's commands, installed with its
// install lines from the tarballs alone (an npm registry that counts every
// connection, an empty npm cache, the repository out of reach), then a real
// init, enrolment, bundle and grant on a SoftHSM2 token through the
// installed signer, and its log verified, reconciled with a host's and
// reported by the installed auditor.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { createSoftHsmToken } from "@airgrant/signer";
import { officerAddArgs, REPO_ROOT, VERIFIER_BUNDLE } from "@airgrant/testkit";
import { TEST_PIN, TEST_SO_PIN } from "@airgrant/testkit/token";
import { generateOtp } from "@airgrant/yubikey-otp/generate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "airgrant-role-install-"));
const out = join(work, "media");
const prefix = join(work, "opt-airgrant");
let registry: Server;
let registryConnections = 0;
let registryUrl: string;

beforeAll(async () => {
  registry = createServer((socket) => {
    registryConnections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => registry.listen(0, "127.0.0.1", resolve));
  const address = registry.address();
  if (address === null || typeof address === "string") throw new Error("the registry stand-in has no port");
  registryUrl = `http://127.0.0.1:${address.port}/`;
});
afterAll(async () => {
  await new Promise((resolve) => registry.close(resolve));
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** `argv` run without a shell, asynchronously so that the registry stand-in can count what reaches it. */
function run(argv: string[], options: { cwd: string; env: NodeJS.ProcessEnv; input?: string }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    if (file === undefined) throw new Error("empty command line");
    const child = execFile(
      file,
      args,
      { cwd: options.cwd, env: options.env, encoding: "utf8" },
      (err, stdout, stderr) => {
        const status = err === null ? 0 : typeof err.code === "number" ? err.code : undefined;
        if (status === undefined) reject(err);
        else resolve({ status, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? "");
  });
}

function expectOk(r: Run): Run {
  expect(r.status, r.stderr).toBe(0);
  return r;
}

/** The lines of the first code block after `marker` in README.md, each without its comment. */
function readmeBlock(marker: string): string[] {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const at = readme.indexOf(marker);
  const start = at < 0 ? -1 : readme.indexOf("```sh\n", at);
  const end = start < 0 ? -1 : readme.indexOf("```", start + 6);
  if (end < 0) throw new Error(`README.md has no code block after '${marker}'`);
  return readme
    .slice(start + 6, end)
    .trimEnd()
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, ""));
}

const SECTION = "## Installing the signer and the auditor\n";
/** npm and the commands it installs, with nothing but the system's own directories on PATH. */
const baseEnv: NodeJS.ProcessEnv = {
  PATH: [dirname(process.execPath), "/usr/bin", "/bin"].join(delimiter),
  HOME: work,
  TMPDIR: tmpdir(),
};
let installEnv: NodeJS.ProcessEnv;

describe("the README's signer and auditor install", () => {
  it("packs each role as one tarball with the README's commands", async () => {
    const lines = readmeBlock(SECTION);
    expect(lines).toEqual(["npm run pack:signer", "npm run pack:auditor"]);
    mkdirSync(out);
    for (const line of lines) {
      // The README's line, its output directory given as the README says one may be.
      expectOk(await run([...line.split(" "), "--", out], { cwd: REPO_ROOT, env: process.env }));
    }
    for (const role of ["signer", "auditor"]) {
      const version = JSON.parse(readFileSync(join(REPO_ROOT, "apps", role, "package.json"), "utf8")).version;
      expect(existsSync(join(out, `airgrant-${role}-${version}.tgz`))).toBe(true);
    }
  }, 120_000);

  it("installs both with no registry and an empty cache, nothing compiled, as the README's lines say", async () => {
    const lines = readmeBlock("Carry the file across");
    expect(lines.filter((l) => l.startsWith("npm install"))).toHaveLength(2);
    installEnv = {
      ...baseEnv,
      npm_config_registry: registryUrl,
      npm_config_cache: join(work, "npm-cache"),
      npm_config_update_notifier: "false",
    };
    const versions: string[] = [];
    for (const line of lines) {
      const exported = /^export PATH=(.*)$/.exec(line);
      if (exported?.[1] !== undefined) {
        installEnv.PATH = exported[1].replace("/opt/airgrant", prefix).replace("$PATH", installEnv.PATH ?? "");
        continue;
      }
      const argv = line.split(" ").map((word) => word.replace("/opt/airgrant", prefix));
      const r = expectOk(await run(argv, { cwd: out, env: installEnv }));
      if (argv[1] === "--version") versions.push(r.stdout);
    }
    expect(versions).toEqual([
      expect.stringMatching(/^airgrant-signer \d+\.\d+\.\d+\n$/),
      expect.stringMatching(/^airgrant-auditor \d+\.\d+\.\d+\n$/),
    ]);
    expect(registryConnections).toBe(0);
    // The addons are the build's, not compiled again at install.
    const installed = join(prefix, "lib", "node_modules", "@airgrant", "signer", "node_modules");
    for (const [name, addon] of [
      ["pkcs11js", "pkcs11.node"],
      ["fs-ext", "fs_ext.node"],
    ] as const) {
      const built = join(REPO_ROOT, "node_modules", name, "build", "Release", addon);
      expect(readFileSync(join(installed, name, "build", "Release", addon)).equals(readFileSync(built))).toBe(true);
      expect(existsSync(join(installed, name, "binding.gyp"))).toBe(false);
      expect(existsSync(join(installed, name, "build", "Release", "obj.target"))).toBe(false);
    }
    // The auditor carries its own @airgrant/core, not a link to this checkout's.
    expect(
      existsSync(join(prefix, "lib", "node_modules", "@airgrant", "auditor", "node_modules", "@airgrant", "core")),
    ).toBe(true);
  }, 120_000);

  it("mints a grant on a SoftHSM2 token with the installed signer, which the installed auditor verifies and reports", async () => {
    const token = createSoftHsmToken({
      dir: join(work, "hsm"),
      tokenLabel: "site-hsm",
      soPin: TEST_SO_PIN,
      pin: TEST_PIN,
    });
    const home = join(work, "signer-home");
    const env = { ...installEnv, SOFTHSM2_CONF: token.confPath, AIRGRANT_PIN: TEST_PIN, AIRGRANT_HOME: home };
    const signer = (args: string[], input = "") => run(["airgrant-signer", ...args], { cwd: work, env, input });
    const auditor = (args: string[]) => run(["airgrant-auditor", ...args], { cwd: work, env });

    expectOk(await signer(["init", "--token", "site-hsm"]));
    const aesKey = "00112233445566778899aabbccddeeff";
    const privateId = "8792ebfe26cc";
    const publicId = "cccccccccccb";
    expectOk(await signer(officerAddArgs(work, "alice", { publicId, privateId, aesKeyHex: aesKey })));
    const bundle = join(work, "bundle.json");
    expectOk(await signer(["bundle", "--out", bundle]));
    const otp = generateOtp({
      aesKey: Buffer.from(aesKey, "hex"),
      publicId,
      privateId: Buffer.from(privateId, "hex"),
      usageCounter: 1,
      sessionCounter: 0,
      timestamp: 0x10000,
      random: 0x1234,
    });
    const grant = expectOk(
      await signer(
        ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "30m", "--reason", "patch"],
        `${otp}\n`,
      ),
    );
    expect(grant.stdout).toMatch(/^AG1-[0-9A-Z-]+\n$/);

    // A host uses it (this checkout's verifier), so that there is a use to reconcile.
    const state = join(work, "host-state");
    const host = (args: string[], input = "") =>
      run([process.execPath, VERIFIER_BUNDLE, ...args, "--state", state], { cwd: work, env: baseEnv, input });
    expectOk(await host(["install-bundle", bundle]));
    expectOk(await host(["check", "--user", "bob", "--host", "db1.example"], grant.stdout));

    const signerLog = join(home, "audit.log");
    const hostLog = join(state, "audit.log");
    const verified = expectOk(await auditor(["verify", signerLog, hostLog, "--bundle", bundle]));
    expect(verified.stdout).toMatch(/signer-home\/audit\.log: intact, \d+ entries, .*[1-9]\d* signed checkpoint\(s\)/);
    expectOk(await auditor(["reconcile", "--signer", signerLog, "--host", hostLog, "--bundle", bundle]));
    const report = join(work, "report.html");
    const reported = expectOk(await auditor(["report", "--signer", signerLog, "--host", hostLog, "--out", report]));
    expect(reported.stdout).toContain("0 finding(s), 1 grant(s), 1 use(s)");
    expect(statSync(report).size).toBeGreaterThan(0);
    expect(registryConnections).toBe(0);
  }, 120_000);
});
