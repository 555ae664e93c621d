// A PAM login's check as pam_exec runs it: a whole `airgrant-verifier pam`
// process (PAM_* environment, the grant and a NUL on stdin) against
// `node -e 0`, the floor of any check written for Node.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { hostState, installBundle } from "../packages/verifier/dist/index.js";
import { benchBundle, benchGrant, benchIssuer, fmt, median, ROOT, workDir } from "./bench-support.mjs";

const now = Math.floor(Date.now() / 1000);
const issuer = benchIssuer();
const state = hostState(join(workDir("pam"), "state"));
installBundle(state, benchBundle(issuer, now), () => new Date());

const cli = join(ROOT, "packages/verifier/dist/airgrant-verifier.cjs");
// What pam_exec passes: the PAM environment (here none) and the PAM items, nothing else.
const env = {
  PAM_TYPE: "auth",
  PAM_USER: "alice",
  PAM_SERVICE: "sshd",
  PAM_RHOST: "192.0.2.10",
  PAM_TTY: "ssh",
};

function pamCheck(grant) {
  const started = performance.now();
  const r = spawnSync(process.execPath, [cli, "pam", "--state", state.dir, "--host", "bench.example"], {
    input: `${grant.text}\0`,
    env,
  });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`pam check failed: ${r.stderr}`);
  return ms;
}

function nodeFloor() {
  const started = performance.now();
  spawnSync(process.execPath, ["-e", "0"], { env });
  return performance.now() - started;
}

// Warm the page cache for both, then alternate one of each so that drift in
// the machine hits both alike.
const WARM = 3;
const RUNS = 41;
const grants = Array.from({ length: WARM + RUNS }, () => benchGrant(issuer, now));
for (let i = 0; i < WARM; i++) {
  nodeFloor();
  pamCheck(grants[i]);
}
const nodeTimes = [];
const pamTimes = [];
const ratios = [];
for (let i = WARM; i < WARM + RUNS; i++) {
  const n = nodeFloor();
  const p = pamCheck(grants[i]);
  nodeTimes.push(n);
  pamTimes.push(p);
  ratios.push(p / n);
}
const nodeMs = median(nodeTimes);
const pamMs = median(pamTimes);
console.log(
  `cold 'airgrant-verifier pam': ${fmt(pamMs, 1)} ms median of ${RUNS} (max ${fmt(Math.max(...pamTimes), 1)}); node -e 0: ${fmt(nodeMs, 1)} ms`,
);
console.log(
  `ratio pam/node: ${fmt(pamMs / nodeMs)} (medians), ${fmt(median(ratios))} median of pairs (target <= 2.00; a login needs well under 1 s)`,
);
