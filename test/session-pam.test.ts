// The session line of docs/pam.md ("The session ends with the grant") under
// the console login's PAM stack of the same page, run by pamtester as the
// application (it authenticates, opens and closes the session in one process,
// as login does), with grants signed on a SoftHSM2 token; and the line above
// pam_loginuid.so, which must not open a grant's session it cannot end.
// Needs root and pamtester (CI has both): fails, never skips, without them.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedPamLines,
  documentedSessionLines,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  writePamService,
} from "@airgrant/testkit/system";
import { openSoftHsmIssuers, type SoftHsmIssuers, type TokenIssuer, trustBundleFor } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "session-pam-e2e.example";

let work: string;
let token: SoftHsmIssuers | undefined;
let issuer: TokenIssuer;
let stateDir: string;
let pamLog: string;
let user: Removable;
let consoleLogin: Removable;
let misplaced: Removable;
const fixtures: Removable[] = [];

function entries(): Array<{ seq: number; type: string; data: Record<string, unknown> }> {
  return readFileSync(join(stateDir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

function login(service: string, grant: string) {
  return spawnSync(
    "pamtester",
    ["-I", "tty=/dev/tty3", service, user.name, "authenticate", "open_session", "close_session"],
    { input: `${grant}\n`, encoding: "utf8", timeout: 20_000 },
  );
}

beforeAll(() => {
  requireRoot("test/session-pam.test.ts");
  requireCommand("pamtester", "pamtester");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-session-pam-"));
  token = openSoftHsmIssuers(["ecdsa-p256"]);
  [issuer] = token.issuers as [TokenIssuer];
  stateDir = join(work, "state");
  pamLog = join(work, "pam.log");
  const bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, trustBundleFor([issuer]));
  const installed = spawnSync(VERIFIER_EXECUTABLE, ["install-bundle", bundleFile, "--state", stateDir], {
    encoding: "utf8",
  });
  if (installed.status !== 0) throw new Error(`install-bundle failed: ${installed.stderr}`);
  user = createThrowawayUser("agcon");
  fixtures.push(user);
  const paths = { stateDir, logFile: pamLog, host: HOST };
  const auth = documentedPamLines("login", { ...paths, breakGlassUser: "root" });
  const session = documentedSessionLines(paths);
  consoleLogin = writePamService([...auth, "account required pam_permit.so", ...session]);
  fixtures.push(consoleLogin);
  misplaced = writePamService([
    ...auth,
    "account required pam_permit.so",
    ...session.filter((line) => !line.includes("pam_loginuid.so")),
  ]);
  fixtures.push(misplaced);
});

afterAll(() => cleanUpSuite(fixtures, token, work));

describe("the session line under the console login's stack", () => {
  it("opens the session of a login made with a grant and logs its logout after the check", () => {
    const grant = issuer.mint({ principal: user.name, target: { kind: "host", name: HOST } });
    const r = login(consoleLogin.name, grant.text);
    expect(r.stdout).toMatch(/successfully opened a session\n.*session has successfully been closed/);
    expect(r.status).toBe(0);
    const log = entries();
    const check = log.find((e) => e.type === "grant-check" && e.data.grantId === grant.grantId);
    expect(check?.data).toMatchObject({ verdict: "allowed", accessEndsAt: grant.fields.notAfter, pamTty: "/dev/tty3" });
    const closed = log.filter((e) => e.type === "session-closed");
    expect(closed.map((e) => e.data)).toEqual([
      expect.objectContaining({ reason: "logout", checkSeq: check?.seq, user: user.name, host: HOST }),
    ]);
    expect(closed[0]?.seq).toBeGreaterThan(check?.seq ?? Number.MAX_SAFE_INTEGER);
    expect(readFileSync(pamLog, "utf8")).toMatch(/session-opened: grant [0-9a-f]{32}'s access ends at /);
  });

  it("does not open a grant's session when the line is not below pam_loginuid.so", () => {
    const grant = issuer.mint({ principal: user.name, target: { kind: "host", name: HOST } });
    const r = login(misplaced.name, grant.text);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/successfully authenticated/);
    expect(r.stdout).not.toMatch(/successfully opened a session/);
    expect(readFileSync(pamLog, "utf8")).toMatch(
      /error: pam-misconfigured: the login has no audit session id of its own .*pam_loginuid\.so must come before this line/,
    );
    expect(entries().filter((e) => e.type === "session-closed" && e.data.grantId === grant.grantId)).toEqual([]);
  });
});
