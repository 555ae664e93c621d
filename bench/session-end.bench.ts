// What the session line of docs/pam.md ("The session ends with the grant")
// adds to a login: pamtester authenticating with a grant, opening the session
// and closing it, under the console login's stack of the same page, with the
// session line (two more verifier starts, and the watcher it starts) and
// without it (pam_loginuid kept). Interleaved, one of each in turn. Needs root
// and pamtester, like test/session-pam.test.ts.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { makeBundleBytes, makeGrantText, makeTestIssuer, testFields } from "@airgrant/testkit";
import {
  cleanUp,
  createThrowawayUser,
  documentedPamLines,
  documentedSessionLines,
  type Removable,
  writePamService,
} from "@airgrant/testkit/system";
import { hostState, installBundle } from "@airgrant/verifier";
import { alternate, report, workDir } from "./bench-support.js";

if (process.getuid?.() !== 0 || spawnSync("sh", ["-c", "command -v pamtester"]).status !== 0) {
  console.error("session-end.bench.ts needs root and pamtester (apt-get install -y pamtester)");
  process.exit(1);
}

const HOST = "bench.example";
const RUNS = 21;
const WARM = 3;
const work = workDir("session-end");
const issuer = makeTestIssuer();
const state = hostState(join(work, "state"));
installBundle(state, makeBundleBytes([issuer]), () => new Date());
const fixtures: Removable[] = [];

try {
  const user = createThrowawayUser("agbench");
  fixtures.push(user);
  const paths = { stateDir: state.dir, logFile: join(work, "airgrant-pam.log"), host: HOST };
  const auth = [...documentedPamLines("login", { ...paths, breakGlassUser: "root" }), "account required pam_permit.so"];
  const session = documentedSessionLines(paths);
  const withLine = writePamService([...auth, ...session]);
  fixtures.push(withLine);
  const withoutLine = writePamService([...auth, ...session.filter((line) => line.includes("pam_loginuid.so"))]);
  fixtures.push(withoutLine);

  const now = Math.floor(Date.now() / 1000);
  function login(service: string): void {
    const grant = makeGrantText(
      testFields(issuer, {
        principal: user.name,
        notBefore: now - 60,
        notAfter: now + 3600,
        target: { kind: "host", name: HOST },
      }),
      [issuer],
    );
    const r = spawnSync("pamtester", [service, user.name, "authenticate", "open_session", "close_session"], {
      input: `${grant}\n`,
      encoding: "utf8",
      timeout: 20_000,
    });
    if (r.status !== 0) throw new Error(`pamtester failed (${r.status}): ${r.stdout}${r.stderr}`);
  }

  const { oursMs, baselineMs } = alternate(
    () => login(withLine.name),
    () => login(withoutLine.name),
    { runs: RUNS, warm: WARM },
  );
  report({
    bench: "session-end-login",
    what: "pamtester login with a grant, session opened and closed, with the session line",
    oursMs,
    baseline: "the same login without the session line",
    baselineMs,
    target: "informational",
    runs: RUNS,
    "added ms": Number((oursMs - baselineMs).toFixed(1)),
  });
} finally {
  cleanUp([...fixtures].reverse().map((f) => f.remove));
}
