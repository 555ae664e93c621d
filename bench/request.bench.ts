// A whole PAM login (pamtester) through the lines of docs/pam.md, "Request
// codes at the prompt": the request code shown by `pam-request`, then a
// grant bound to it checked and redeemed by `pam`. Against the same login
// without airgrant, a password checked by pam_unix, and, as a third figure,
// the login with only the `pam` line (no code shown). Interleaved, one of
// each in turn; the request each login redeems is made, and its grant
// signed, before the login is timed. Needs root and pamtester.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseRequestCode, requestChallenge } from "@airgrant/core";
import { makeBundleBytes, makeGrantText, makeTestIssuer, testFields, VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import {
  cleanUp,
  createThrowawayUser,
  documentedPamLines,
  documentedRequestPamLines,
  type Removable,
  writePamService,
} from "@airgrant/testkit/system";
import { hostState, installBundle } from "@airgrant/verifier";
import { median, report, workDir } from "./bench-support.js";

if (process.getuid?.() !== 0 || spawnSync("pamtester", ["--version"]).error !== undefined) {
  console.error("request.bench.ts needs root and pamtester (apt-get install -y pamtester)");
  process.exit(1);
}

const HOST = "bench.example";
const work = workDir("request");
const issuer = makeTestIssuer();
const state = hostState(join(work, "state"));
installBundle(state, makeBundleBytes([issuer], { created: Math.floor(Date.now() / 1000) - 86_400 }), () => new Date());

const fixtures: Removable[] = [];
const removeFixtures = () => cleanUp([...fixtures].reverse().map((f) => f.remove));
process.on("SIGINT", () => {
  removeFixtures();
  process.exit(130);
});

function grantFor(user: string, code?: ReturnType<typeof parseRequestCode>): string {
  const now = Math.floor(Date.now() / 1000);
  return makeGrantText(
    testFields(issuer, {
      principal: user,
      target: { kind: "host", name: HOST },
      notBefore: now - 60,
      notAfter: now + 900,
      ...(code === undefined ? {} : { challenge: requestChallenge(code) }),
    }),
    [issuer],
  );
}

/** The request the next login shows and redeems, made as `request` makes it. */
function pendingCode(user: string): ReturnType<typeof parseRequestCode> {
  const out = execFileSync(
    VERIFIER_EXECUTABLE,
    ["request", "--user", user, "--host", HOST, "--state", state.dir, "--json"],
    {
      encoding: "utf8",
    },
  );
  return parseRequestCode(JSON.parse(out).request);
}

function login(service: string, user: string, answer: string): number {
  const started = performance.now();
  const r = spawnSync("pamtester", [service, user, "authenticate"], { input: `${answer}\n`, encoding: "utf8" });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`pamtester ${service} failed: ${r.stdout}${r.stderr}`);
  return ms;
}

try {
  const user = createThrowawayUser("agrqb", "/bin/sh");
  fixtures.push(user);
  const password = randomBytes(12).toString("base64url");
  execFileSync("chpasswd", { input: `${user.name}:${password}\n` });
  const paths = { stateDir: state.dir, logFile: join(work, "pam.log"), breakGlassUser: "nobody-here", host: HOST };
  const tail = ["account required pam_permit.so"];
  const requests = writePamService([...documentedRequestPamLines(paths), ...tail]);
  fixtures.push(requests);
  const grantOnly = writePamService([...documentedPamLines("sshd", paths), ...tail]);
  fixtures.push(grantOnly);
  const plain = writePamService(["auth required pam_unix.so", ...tail]);
  fixtures.push(plain);

  const WARM = 3;
  const RUNS = 21;
  const shown: number[] = [];
  const unshown: number[] = [];
  const passwords: number[] = [];
  for (let i = 0; i < WARM + RUNS; i++) {
    const bound = grantFor(user.name, pendingCode(user.name));
    const unbound = grantFor(user.name);
    const p = login(plain.name, user.name, password);
    const s = login(requests.name, user.name, bound);
    const u = login(grantOnly.name, user.name, unbound);
    if (i < WARM) continue;
    passwords.push(p);
    shown.push(s);
    unshown.push(u);
  }
  report({
    bench: "request-code-login",
    what: "pamtester login that shows the request code and redeems a grant bound to it",
    oursMs: median(shown),
    baseline: "the same login without airgrant, a password checked by pam_unix",
    baselineMs: median(passwords),
    target: "informational",
    runs: RUNS,
    "grant line only (no code shown), ms": Number(median(unshown).toFixed(1)),
  });
} finally {
  removeFixtures();
}
