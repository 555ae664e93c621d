// What the syslog line costs a login: a whole `airgrant-verifier pam` process
// as pam_exec runs the installed command (its launcher forks the syslog
// forwarder, the verifier writes the line into its pipe), against the same
// runtime started directly, without its launcher: no forwarder, no line. The
// difference is the launcher, its fork and the write (docs/verifier.md, "Syslog").
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { makeBundleBytes, makeGrantText, makeTestIssuer, testFields, VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import { hostState, installBundle } from "@airgrant/verifier";
import { alternate, report, workDir } from "./bench-support.js";

const RUNS = 61;
const WARM = 3;
const now = Math.floor(Date.now() / 1000);
const issuer = makeTestIssuer();
const state = hostState(join(workDir("syslog"), "state"));
installBundle(state, makeBundleBytes([issuer]), () => new Date());
const runtime = `${VERIFIER_EXECUTABLE}-runtime`;
const pamEnv: NodeJS.ProcessEnv = {
  PAM_TYPE: "auth",
  PAM_USER: "alice",
  PAM_SERVICE: "sshd",
  PAM_RHOST: "192.0.2.10",
  PAM_TTY: "ssh",
};

function pam(program: string): void {
  const grant = makeGrantText(
    testFields(issuer, { notBefore: now - 60, notAfter: now + 3600, target: { kind: "host", name: "bench.example" } }),
    [issuer],
  );
  const r = spawnSync(program, ["pam", "--state", state.dir, "--host", "bench.example"], {
    input: `${grant}\0`,
    env: pamEnv,
  });
  if (r.status !== 0) throw new Error(`pam failed: ${r.stderr}`);
}

const figures = alternate(
  () => pam(VERIFIER_EXECUTABLE),
  () => pam(runtime),
  { runs: RUNS, warm: WARM },
);
report({
  bench: "verifier-pam-syslog",
  what: "airgrant-verifier pam through its launcher, with the syslog line",
  ...figures,
  baseline: "its runtime alone, no syslog line",
  target: "<= 1.05",
});
