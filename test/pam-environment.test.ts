// The installed verifier ignores the environment PAM gives it (docs/verifier.md,
// "Environment"). A real PAM stack puts hostile variables into the PAM
// environment with a pam_env line above the airgrant session line, as a
// misconfigured host would, and pamtester opens the session with an airgrant
// certificate: the installed command takes the use and nothing else happens.
// The same stack running the verifier with node, as a host without the
// installed command would, runs the attacker's code as root. Needs root,
// pamtester, ssh-keygen and a C compiler (for the attacker's shared library).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sshCertificateLine } from "@airgrant/core";
import { makeBundleBytes, makeTestIssuer, VERIFIER_BUNDLE, VERIFIER_CLI, VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  writePamService,
} from "@airgrant/testkit/system";
import { mintSshCertificate } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "pam-env.example";
const issuer = makeTestIssuer("ed25519");

let work: string;
let user: Removable;
let subjectKeyLine: string;
const fixtures: Removable[] = [];

/** What each hostile variable would do to a plain Node program run as root, and the file that shows it. */
function hostileEnvironment(): Record<string, string> {
  return {
    // Code execution as root: a preloaded script, a library the dynamic loader or OpenSSL loads.
    NODE_OPTIONS: `--require=${join(work, "preload.js")}`,
    LD_PRELOAD: join(work, "evil.so"),
    OPENSSL_CONF: join(work, "openssl.cnf"),
    OPENSSL_MODULES: work,
    LD_LIBRARY_PATH: work,
    // Files and directories root would create where the attacker says.
    NODE_COMPILE_CACHE: join(work, "made", "compile-cache"),
    NODE_V8_COVERAGE: join(work, "made", "coverage"),
    NODE_REDIRECT_WARNINGS: join(work, "made", "warnings"),
    // Reads, noise and behaviour changes.
    NODE_DEBUG: "*",
    NODE_DEBUG_NATIVE: "*",
    NODE_ICU_DATA: join(work, "made", "icu"),
    NODE_EXTRA_CA_CERTS: "/etc/shadow",
    NODE_PATH: work,
    NODE_PENDING_DEPRECATION: "1",
    NODE_CHANNEL_FD: "0",
    UV_THREADPOOL_SIZE: "1",
    TZ: "Antarctica/Troll",
    AIRGRANT_STATE: join(work, "made", "state"),
  };
}

/** The marks an attack leaves: files the attacker's code wrote and what root made in `made/`. */
function marks(): string[] {
  const made = join(work, "made");
  return [
    ...readdirSync(work).filter((name) => name.startsWith("MARK-")),
    ...(existsSync(made) ? readdirSync(made).map((name) => `made/${name}`) : []),
  ];
}

function writeAttackerFiles(): void {
  writeFileSync(
    join(work, "preload.js"),
    `require("fs").writeFileSync(${JSON.stringify(join(work, "MARK-preload"))}, "");\n`,
  );
  // Loaded by the dynamic loader (LD_PRELOAD) or by OpenSSL as a provider: either way its constructor runs.
  const source = join(work, "evil.c");
  writeFileSync(
    source,
    `#include <stdio.h>
__attribute__((constructor)) static void mark(void) { FILE *f = fopen("${join(work, "MARK-library")}", "w"); if (f) fclose(f); }
int OSSL_provider_init(void *a, void *b, void *c, void *d) { return 0; }
`,
  );
  execFileSync("cc", ["-shared", "-fPIC", "-o", join(work, "evil.so"), source]);
  writeFileSync(
    join(work, "openssl.cnf"),
    `nodejs_conf = init\nopenssl_conf = init\n[init]\nproviders = providers\n[providers]\nevil = evil\n[evil]\nmodule = ${join(work, "evil.so")}\nactivate = 1\n`,
  );
}

/** A pam_env conffile line: `NAME DEFAULT="value"` (pam_env.conf(5)). */
function pamEnvLine(name: string, value: string): string {
  return `${name} DEFAULT="${value}"`;
}

interface SessionRun {
  status: number | null;
  log: string;
}

/**
 * Open a session through `pam_env` (setting `variables`, and SSH_AUTH_INFO_0
 * as sshd would) above the documented ssh-session line running `command`.
 */
function openSession(command: string, variables: Record<string, string>): SessionRun {
  const stateDir = mkdtempSync(join(work, "state-"));
  const bundle = join(work, "bundle.json");
  writeFileSync(bundle, makeBundleBytes([issuer]));
  const install = spawnSync(process.execPath, [VERIFIER_CLI, "install-bundle", bundle, "--state", stateDir], {
    encoding: "utf8",
  });
  if (install.status !== 0) throw new Error(`install-bundle: ${install.stderr}`);
  const certificate = mintSshCertificate(issuer, {
    publicKeyLine: subjectKeyLine,
    principals: [user.name],
    target: HOST,
  });
  const conf = join(work, `pam_env-${certificate.grantId}.conf`);
  writeFileSync(
    conf,
    `${[
      ...Object.entries(variables).map(([name, value]) => pamEnvLine(name, value)),
      pamEnvLine("SSH_AUTH_INFO_0", `publickey ${sshCertificateLine(certificate.blob)}`),
    ].join("\n")}\n`,
  );
  const log = join(work, `session-${certificate.grantId}.log`);
  const service = writePamService([
    `session required pam_env.so readenv=0 conffile=${conf}`,
    `session requisite pam_exec.so quiet type=open_session log=${log} ${command} ssh-session --state ${stateDir} --host ${HOST}`,
  ]);
  fixtures.push(service);
  const r = spawnSync("pamtester", [service.name, user.name, "open_session"], { encoding: "utf8", timeout: 20_000 });
  return { status: r.status, log: existsSync(log) ? readFileSync(log, "utf8") : "" };
}

beforeAll(() => {
  requireRoot("test/pam-environment.test.ts");
  requireCommand("pamtester", "pamtester");
  requireCommand("ssh-keygen", "openssh-client");
  requireCommand("cc", "gcc");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-pam-env-"));
  writeAttackerFiles();
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(work, "id_ed25519")]);
  subjectKeyLine = readFileSync(join(work, "id_ed25519.pub"), "utf8").trim();
  user = createThrowawayUser("agenv");
  fixtures.push(user);
});

afterAll(() => cleanUpSuite(fixtures, undefined, work));

describe("the PAM environment reaches the verifier", () => {
  it("changes nothing for the installed command: the use is taken, nothing runs, nothing is made", () => {
    const run = openSession(VERIFIER_EXECUTABLE, hostileEnvironment());
    expect(run.status).toBe(0);
    // pam_exec heads each run's output with a `*** <date>` line.
    const lines = run.log
      .trimEnd()
      .split("\n")
      .filter((line) => !line.startsWith("*** "));
    expect(lines).toEqual([expect.stringMatching(/^allowed: /)]);
    expect(marks()).toEqual([]);
  });

  // The attacks themselves, each on the same stack: against the verifier run by
  // node (Node 20 has no compile cache), and against the single executable
  // started without its launcher, which still ignores NODE_OPTIONS and OPENSSL_CONF.
  it.each([
    ["node and the .cjs", "NODE_OPTIONS", "MARK-preload"],
    ["node and the .cjs", "OPENSSL_CONF", "MARK-library"],
    ["node and the .cjs", "LD_PRELOAD", "MARK-library"],
    ["node and the .cjs", "NODE_V8_COVERAGE", "made/coverage"],
    ["the executable without its launcher", "LD_PRELOAD", "MARK-library"],
    ["the executable without its launcher", "NODE_COMPILE_CACHE", "made/compile-cache"],
    ["the executable without its launcher", "NODE_V8_COVERAGE", "made/coverage"],
  ])("%s: %s leaves %s", (how, name, mark) => {
    const command =
      how === "node and the .cjs" ? `${process.execPath} ${VERIFIER_BUNDLE}` : `${VERIFIER_EXECUTABLE}-runtime`;
    openSession(command, { [name]: hostileEnvironment()[name] as string });
    expect(marks()).toContain(mark);
    rmSync(join(work, "made"), { recursive: true, force: true });
    rmSync(join(work, mark), { force: true });
    expect(marks()).toEqual([]);
  });
});
