// The documented /etc/pam.d/sudo lines through the real PAM stack, run as
// sudo runs them: pamtester with the caller's real uid and effective uid 0
// (setpriv), a throwaway account, the verifier as pam_exec starts it. Also a
// refusal for a state the verifier cannot write, which must leave its one
// line in pam_exec's log= file. Needs root, pamtester and mount (CI has
// them): it fails, never skips, without.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  testFields,
  VERIFIER_CLI as VERIFIER,
} from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedPamLines,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  writePamService,
} from "@airgrant/testkit/system";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "sudo-pam.example";

const fixtures: Removable[] = [];
let work: string | undefined;
let caller: Removable;
let pamLog: string;
const issuer = makeTestIssuer();
const now = Math.floor(Date.now() / 1000);

function grantFor(principal: string): string {
  return makeGrantText(
    testFields(issuer, { principal, target: { kind: "host", name: HOST }, notBefore: now - 60, notAfter: now + 600 }),
    [issuer],
  );
}

function installBundle(state: string): void {
  const bundle = join(work as string, "bundle.json");
  writeFileSync(bundle, makeBundleBytes([issuer]));
  execFileSync(process.execPath, [
    VERIFIER,
    "install-bundle",
    bundle,
    "--state",
    state,
    "--receipt",
    join(work as string, `receipt-${Math.random()}.json`),
  ]);
}

/** A sudo service file of the documented lines for `state`. */
function sudoService(state: string): Removable {
  const service = writePamService([
    ...documentedPamLines("sudo", { stateDir: state, logFile: pamLog, breakGlassUser: "nobody", host: HOST }),
    "account required pam_permit.so",
  ]);
  fixtures.push(service);
  return service;
}

/** pamtester as sudo is: real uid the caller's, effective uid root. */
function sudoAuthenticate(service: string, password: string) {
  const r = spawnSync(
    "setpriv",
    ["--ruid", caller.name, "--euid", "0", "--", "pamtester", "-I", "tty=pts/9", service, caller.name, "authenticate"],
    { input: `${password}\n`, encoding: "utf8", timeout: 20_000 },
  );
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function lastLogLine(): string {
  return readFileSync(pamLog, "utf8").trimEnd().split("\n").at(-1) ?? "";
}

beforeAll(() => {
  requireRoot("pam-sudo.test.ts");
  requireCommand("pamtester", "pamtester");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-sudo-"));
  chmodSync(work, 0o755);
  pamLog = join(work, "pam.log");
  writeFileSync(pamLog, "", { mode: 0o600 });
  caller = createThrowawayUser("agsudo");
  fixtures.push(caller);
});
afterAll(() => cleanUpSuite(fixtures, undefined, work));

describe("the documented sudo lines, run with the caller's real uid", () => {
  it("let the caller in once with a grant, and refuse it again", () => {
    const state = join(work as string, "state");
    installBundle(state);
    const service = sudoService(state);
    const grant = grantFor(caller.name);
    const first = sudoAuthenticate(service.name, grant);
    expect(first.output).toContain("successfully authenticated");
    expect(lastLogLine()).toMatch(new RegExp(`^allowed: grant [0-9a-f]{32} lets '${caller.name}' in on '${HOST}'`));
    const again = sudoAuthenticate(service.name, grant);
    expect(again.status).not.toBe(0);
    expect(lastLogLine()).toMatch(/^error: grant-replayed: /);
  });

  it("refuse a login when the state cannot be written, with one state-unwritable line in the log= file", () => {
    // A state directory on a file system of its own, then made read-only: root's permissions do not help.
    const mountPoint = join(work as string, "ro");
    mkdirSync(mountPoint);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mountPoint]);
    fixtures.push({ name: mountPoint, remove: () => execFileSync("umount", [mountPoint]) });
    const state = join(mountPoint, "state");
    installBundle(state);
    execFileSync("mount", ["-o", "remount,ro", mountPoint]);
    const service = sudoService(state);
    const r = sudoAuthenticate(service.name, grantFor(caller.name));
    expect(r.status).not.toBe(0);
    expect(r.output).not.toContain("successfully authenticated");
    expect(lastLogLine()).toMatch(
      new RegExp(`^error: state-unwritable: cannot create ${state}/used/[0-9a-f]{32}\\.1: EROFS$`),
    );
  });
});
