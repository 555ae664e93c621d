// A local user against the host's state: a throwaway unprivileged account
// edits what a state directory made writable by mistake lets it edit
// (moves the one-time store aside, plants its own trust bundle, plants
// symbolic links), and the verifier, run as root as PAM runs it, refuses to
// act on that state instead of letting a spent or forged grant in. Needs
// root (CI runs it as root): it fails, never skips, without.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
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
  type Removable,
  removeStaleFixtures,
  requireRoot,
} from "@airgrant/testkit/system";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "db1.example";

const fixtures: Removable[] = [];
let work: string | undefined;
let attacker: Removable;
const hostIssuer = makeTestIssuer();
/** The attacker's own key: in no bundle the host's owner installed. */
const attackerKey = makeTestIssuer();
const now = Math.floor(Date.now() / 1000);

function grantFor(principal: string, signer = hostIssuer): string {
  return makeGrantText(testFields(signer, { principal, notBefore: now - 60, notAfter: now + 3000 }), [signer]);
}

/** The verifier as PAM runs it: as root, on the state directory its configuration names. */
function check(state: string, user: string, grant: string) {
  const r = spawnSync(process.execPath, [VERIFIER, "check", "--user", user, "--host", HOST, "--state", state], {
    input: grant,
    encoding: "utf8",
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

/** A command run as the attacker: real, effective and saved uid theirs, no supplementary groups. */
function asAttacker(command: string, args: string[]): void {
  execFileSync(
    "setpriv",
    ["--reuid", attacker.name, "--regid", "nogroup", "--clear-groups", "--", command, args].flat(),
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
}

/** A fresh state directory with the host's bundle installed, in a directory the attacker can reach. */
function installedState(name: string): string {
  const state = join(work as string, name);
  const label = name.replaceAll("/", "-");
  const bundle = join(work as string, `${label}-bundle.json`);
  mkdirSync(dirname(state), { recursive: true });
  writeFileSync(bundle, makeBundleBytes([hostIssuer]));
  execFileSync(process.execPath, [
    VERIFIER,
    "install-bundle",
    bundle,
    "--state",
    state,
    "--receipt",
    join(work as string, `${label}-receipt.json`),
  ]);
  return state;
}

beforeAll(() => {
  requireRoot("local-attacker.test.ts");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-attacker-"));
  chmodSync(work, 0o755);
  attacker = createThrowawayUser("agx");
  fixtures.push(attacker);
});
afterAll(() => cleanUpSuite(fixtures, undefined, work));

describe("a local user with write access to a state directory made 0777 by mistake", () => {
  it("moves used/ aside and presents a spent grant again: refused, naming the directory", () => {
    const state = installedState("replay");
    const grant = grantFor("alice");
    expect(check(state, "alice", grant).status).toBe(0);
    chmodSync(state, 0o777);
    asAttacker("mv", [join(state, "used"), join(state, "used.old")]);
    const replay = check(state, "alice", grant);
    expect(replay.status).toBe(3);
    expect(replay.stderr).toMatch(new RegExp(`^error: state-insecure: ${state} is writable by others \\(mode 0777\\)`));
    expect(replay.stdout).not.toContain("allowed");
    // With the mode put right the store is still gone, and that too is refused, not made again.
    chmodSync(state, 0o700);
    const missing = check(state, "alice", grant);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/^error: state-corrupt: the one-time-use store \S+used is missing/);
    renameSync(join(state, "used.old"), join(state, "used"));
    expect(check(state, "alice", grant).stderr).toMatch(/^error: grant-replayed: /);
  });

  it("plants their own bundle.json and logs in as root with their own key: refused, naming the file", () => {
    const state = installedState("bundle");
    chmodSync(state, 0o777);
    const forged = join(work as string, "forged-bundle.json");
    writeFileSync(forged, makeBundleBytes([attackerKey]), { mode: 0o644 });
    asAttacker("rm", ["-f", join(state, "bundle.json")]);
    asAttacker("cp", [forged, join(state, "bundle.json")]);
    // Even with the directory put back to 0700 by someone who did not notice the file.
    chmodSync(state, 0o700);
    const r = check(state, "root", grantFor("root", attackerKey));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^error: state-insecure: ${join(state, "bundle.json")} is owned by uid \\d+`));
  });

  for (const name of ["bundle.json", "seal.key", "audit.log"]) {
    it(`plants a symbolic link at ${name}: refused, naming it`, () => {
      const state = installedState(`link-${name}`);
      chmodSync(state, 0o777);
      const path = join(state, name);
      asAttacker("mv", [path, `${path}.moved`]);
      asAttacker("ln", ["-s", `${path}.moved`, path]);
      chmodSync(state, 0o700);
      const r = check(state, "alice", grantFor("alice"));
      expect(r.status).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`^error: state-insecure: ${path} is a symbolic link`));
    });
  }

  it("replaces the whole state directory through a parent they can write: refused", () => {
    const parent = join(work as string, "open-parent");
    const state = installedState("open-parent/state");
    chmodSync(parent, 0o777);
    asAttacker("mv", [state, `${state}.root`]);
    asAttacker("mkdir", ["-m", "700", state]);
    const r = check(state, "alice", grantFor("alice"));
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^error: state-insecure: ${parent} is writable by others`));
    // A root-owned link to the real directory from a safe place is fine: the path that counts is the real one.
    rmSync(state, { recursive: true });
    renameSync(`${state}.root`, state);
    chmodSync(parent, 0o755);
    const link = join(work as string, "state-link");
    symlinkSync(state, link);
    expect(check(link, "alice", grantFor("alice")).status).toBe(0);
  });
});
