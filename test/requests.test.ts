// Request codes at real login prompts (docs/requests.md, docs/pam.md "Request
// codes at the prompt"): the documented PAM lines through pamtester and
// through a real sshd with the real ssh client answering keyboard-interactive,
// the code read from what the client was shown, grants bound to it signed on
// a SoftHSM2 token. Needs root, pamtester and openssh-server (CI has them):
// fails, never skips, without them.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRequestCode, type RequestCode, requestChallenge, verifyAuditLog } from "@airgrant/core";
import { VERIFIER_BUNDLE } from "@airgrant/testkit";
import {
  cleanUpSuite,
  createThrowawayUser,
  documentedPamLines,
  documentedRequestPamLines,
  documentedSshdConfig,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  type SshdServer,
  sshWithPromptAnswer,
  startSshd,
  writePamService,
} from "@airgrant/testkit/system";
import { openSoftHsmIssuers, type SoftHsmIssuers, type TokenIssuer, trustBundleFor } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "requests-e2e.example";
/** The code line; the ssh client puts `(user@host) ` before a keyboard-interactive prompt's text. */
const CODE_LINE =
  /^(?:\([^)\n]*\) )?airgrant request ([0-9A-Z]{6}-[0-9A-Z]{6}-[0-9A-Z]{6}) for ([a-z0-9_.-]+)@([a-z0-9.-]+)$/m;

let work: string;
let token: SoftHsmIssuers | undefined;
let issuer: TokenIssuer;
let stateDir: string;
let sshd: SshdServer | undefined;
let service: Removable;
let engineer: Removable;
let other: Removable;
let breakGlass: Removable;
const fixtures: Removable[] = [];

function verifier(args: string[], input = "") {
  return spawnSync(process.execPath, [VERIFIER_BUNDLE, ...args], { input, encoding: "utf8" });
}

function pamtester(user: string, answer: string, serviceName = service.name) {
  const r = spawnSync("pamtester", [serviceName, user, "authenticate"], {
    input: `${answer}\n`,
    encoding: "utf8",
    timeout: 20_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The code a prompt showed, checked to be for `user` on HOST. */
function shownCode(text: string, user: string): RequestCode {
  const m = CODE_LINE.exec(text);
  if (m === null) throw new Error(`no request code in ${JSON.stringify(text)}`);
  expect(m[2]).toBe(user);
  expect(m[3]).toBe(HOST);
  return parseRequestCode(m[1] as string);
}

function boundGrant(user: string, code: RequestCode, target = HOST): string {
  return issuer.mint({ principal: user, target: { kind: "host", name: target }, challenge: requestChallenge(code) })
    .text;
}

function checks(): Record<string, unknown>[] {
  return readFileSync(join(stateDir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.type === "grant-check" || entry.type === "request-created")
    .map((entry) => ({ type: entry.type, ...entry.data }));
}

beforeAll(async () => {
  requireRoot("test/requests.test.ts");
  requireCommand("pamtester", "pamtester");
  requireCommand("sshd", "openssh-server");
  requireCommand("ssh", "openssh-client");
  removeStaleFixtures();
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-requests-"));
  token = openSoftHsmIssuers(["ecdsa-p256"]);
  [issuer] = token.issuers as [TokenIssuer];
  stateDir = join(work, "state");
  const bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, trustBundleFor([issuer]));
  const installed = verifier(["install-bundle", bundleFile, "--state", stateDir]);
  if (installed.status !== 0) throw new Error(`install-bundle failed: ${installed.stderr}`);
  engineer = createThrowawayUser("agrq", "/bin/sh");
  fixtures.push(engineer);
  other = createThrowawayUser("agro", "/bin/sh");
  fixtures.push(other);
  breakGlass = createThrowawayUser("agrb", "/bin/sh");
  fixtures.push(breakGlass);
  service = writePamService([
    ...documentedRequestPamLines({
      stateDir,
      logFile: join(work, "pam.log"),
      breakGlassUser: breakGlass.name,
      host: HOST,
    }),
    "@include common-account",
    "session required pam_permit.so",
  ]);
  fixtures.push(service);
  sshd = await startSshd({
    dir: join(work, "sshd"),
    pamService: service.name,
    config: ["PubkeyAuthentication no", ...documentedSshdConfig(breakGlass.name)],
  });
});

afterAll(async () => {
  try {
    await sshd?.stop();
  } finally {
    cleanUpSuite(fixtures, token, work);
  }
});

describe("request codes through pamtester, with the lines of docs/pam.md", () => {
  let code: RequestCode;

  it("shows the account's code with host and account before the prompt, and the same code again", () => {
    const first = pamtester(engineer.name, "no grant yet");
    expect(first.status).not.toBe(0);
    code = shownCode(first.output, engineer.name);
    expect(first.output).toMatch(/redeemable until \d\d:\d\d UTC on this host's clock\n/);
    expect(first.output.indexOf("airgrant request")).toBeLessThan(first.output.indexOf("Password:"));
    expect(shownCode(pamtester(engineer.name, "still none").output, engineer.name)).toEqual(code);
    expect(checks().filter((e) => e.type === "request-created")).toHaveLength(1);
  });

  it("lets a grant bound to the code in once, and shows a new code afterwards", () => {
    const grant = boundGrant(engineer.name, code);
    const allowed = pamtester(engineer.name, grant);
    expect(allowed.output).toContain("successfully authenticated");
    expect(allowed.status).toBe(0);
    const again = pamtester(engineer.name, grant);
    expect(again.status).not.toBe(0);
    expect(shownCode(again.output, engineer.name)).not.toEqual(code);
    expect(
      checks()
        .filter((e) => e.type === "grant-check")
        .map((e) => e.verdict),
    ).toEqual(["malformed-grant", "malformed-grant", "allowed", "request-redeemed"]);
  });

  it("refuses a grant bound to another account's code, and to another host's", () => {
    const theirs = shownCode(pamtester(other.name, "").output, other.name);
    expect(pamtester(engineer.name, boundGrant(engineer.name, theirs)).status).not.toBe(0);
    const elsewhere = join(work, "elsewhere");
    writeFileSync(join(work, "bundle-elsewhere.json"), trustBundleFor([issuer]));
    expect(verifier(["install-bundle", join(work, "bundle-elsewhere.json"), "--state", elsewhere]).status).toBe(0);
    const shown = verifier(["request", "--user", engineer.name, "--host", "db9.example", "--state", elsewhere]);
    const foreign = parseRequestCode((/request (\S+)/.exec(shown.stdout) as RegExpExecArray)[1] as string);
    expect(pamtester(engineer.name, boundGrant(engineer.name, foreign)).status).not.toBe(0);
    const verdicts = checks()
      .filter((e) => e.type === "grant-check")
      .map((e) => e.verdict);
    expect(verdicts.slice(-2)).toEqual(["request-wrong-user", "request-wrong-host"]);
  });

  it("lets exactly one of two logins at the same moment redeem a request", async () => {
    const code = shownCode(pamtester(other.name, "").output, other.name);
    const grants = [boundGrant(other.name, code), boundGrant(other.name, code)];
    const results = await Promise.all(
      grants.map(
        (grant) =>
          new Promise<number | null>((resolve, reject) => {
            const child = spawn("pamtester", [service.name, other.name, "authenticate"], {
              stdio: ["pipe", "ignore", "ignore"],
              timeout: 20_000,
            });
            child.on("error", reject);
            child.on("close", resolve);
            child.stdin.end(`${grant}\n`);
          }),
      ),
    );
    expect(results.filter((s) => s === 0)).toHaveLength(1);
    expect(() => verifyAuditLog(join(stateDir, "audit.log"))).not.toThrow();
  });
});

describe("request codes on the console's login stack", () => {
  it("shows the code with docs/pam.md's line above the break-glass line of /etc/pam.d/login, and lets a bound grant in", () => {
    const paths = { stateDir, logFile: join(work, "pam.log"), breakGlassUser: breakGlass.name, host: HOST };
    const requestLine = documentedRequestPamLines(paths).find((l) => l.includes(" pam-request ")) as string;
    const login = documentedPamLines("login", paths);
    const breakGlassAt = login.findIndex((l) => l.includes("pam_succeed_if.so"));
    const console = writePamService([
      ...login.slice(0, breakGlassAt),
      requestLine,
      ...login.slice(breakGlassAt),
      "@include common-account",
      "session required pam_permit.so",
    ]);
    fixtures.push(console);
    const user = createThrowawayUser("agrc", "/bin/sh");
    fixtures.push(user);
    const code = shownCode(pamtester(user.name, "", console.name).output, user.name);
    const r = pamtester(user.name, boundGrant(user.name, code), console.name);
    expect(r.output).toContain("successfully authenticated");
    expect(r.status).toBe(0);
  });
});

describe("request codes at a real sshd's keyboard-interactive prompt", () => {
  function login(user: string, answer: string, promptFile: string) {
    if (sshd === undefined) throw new Error("sshd is not running");
    return sshWithPromptAnswer({
      dir: work,
      port: sshd.port,
      user,
      answer,
      command: "echo in-as-$(id -un)",
      promptFile,
    });
  }

  it("shows the code as the prompt's text, and lets a grant bound to it in at a later connection", () => {
    const engineerHere = createThrowawayUser("agrs", "/bin/sh");
    fixtures.push(engineerHere);
    const promptFile = join(work, "prompt-1");
    const first = login(engineerHere.name, "no grant yet", promptFile);
    expect(first.status).toBe(255);
    const prompt = readFileSync(promptFile, "utf8");
    const code = shownCode(prompt, engineerHere.name);
    expect(prompt.split("\n")).toEqual([
      expect.stringMatching(new RegExp(`^\\(${engineerHere.name}@127\\.0\\.0\\.1\\) airgrant request `)),
      expect.stringMatching(
        /^give it to the officer; the grant is redeemable until \d\d:\d\d UTC on this host's clock$/,
      ),
      "Password: ",
    ]);
    const r = login(engineerHere.name, boundGrant(engineerHere.name, code), join(work, "prompt-2"));
    expect(shownCode(readFileSync(join(work, "prompt-2"), "utf8"), engineerHere.name)).toEqual(code);
    expect(r.stdout.trim()).toBe(`in-as-${engineerHere.name}`);
    expect(r.status).toBe(0);
  });
});
