// What the two-person rule costs a login (docs/two-person.md): a whole
// `airgrant-verifier check` process, the installed command, given a grant
// with the issuer's signature and two officers' approvals on a host whose
// signed bundle needs two, against the same command given a grant with the
// issuer's signature alone on a host whose signed bundle needs none, in
// turn. Both bundles name the same keys; only the policy differs.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  makeGrantText,
  makeSignedBundleBytes,
  makeTestIssuer,
  testFields,
  trustedApprover,
  VERIFIER_EXECUTABLE,
} from "@airgrant/testkit";
import { hostState, installBundle } from "@airgrant/verifier";
import { alternate, report, workDir } from "./bench-support.js";

const RUNS = 41;
const WARM = 3;
const HOST = "bench.example";
const now = Math.floor(Date.now() / 1000);
const issuer = makeTestIssuer();
const root = makeTestIssuer();
const [bob, carol] = [makeTestIssuer(), makeTestIssuer()];
const approvers = [trustedApprover(bob, "bob"), trustedApprover(carol, "carol")].sort((a, b) =>
  a.keyId < b.keyId ? -1 : 1,
);

function host(name: string, approvals: number): string {
  const state = hostState(join(workDir("approvals"), name));
  const bundle = makeSignedBundleBytes([issuer], {
    trustVersion: 1,
    roots: [root],
    threshold: 1,
    expires: now + 86_400,
    overrides: { created: now - 60, approvals: { approvers, policy: [{ target: HOST, approvals }] } },
  });
  installBundle(state, bundle, () => new Date());
  return state.dir;
}

const twoNeeded = host("two-needed", 2);
const noneNeeded = host("none-needed", 0);
const fields = () =>
  testFields(issuer, { notBefore: now - 60, notAfter: now + 3600, target: { kind: "host", name: HOST } });
const approved = Array.from({ length: RUNS + WARM }, () => makeGrantText(fields(), [issuer, bob, carol]));
const single = Array.from({ length: RUNS + WARM }, () => makeGrantText(fields(), [issuer]));

function check(stateDir: string, grant: string | undefined): void {
  if (grant === undefined) throw new RangeError("no grant left");
  const r = spawnSync(VERIFIER_EXECUTABLE, ["check", "--user", "alice", "--state", stateDir, "--host", HOST], {
    input: grant,
    env: { PATH: process.env.PATH },
  });
  if (r.status !== 0) throw new Error(`check failed: ${r.stderr}`);
}

const timed = alternate(
  (i) => check(twoNeeded, approved[i]),
  (i) => check(noneNeeded, single[i]),
  { runs: RUNS, warm: WARM },
);
report({
  bench: "verifier-check-two-approvals",
  what: "airgrant-verifier check of a grant with two approvals (three signatures), whole process",
  ...timed,
  baseline: "the same check of a one-signature grant, no approvals needed",
  target: "<= 1.1",
  "grant characters": approved[0]?.length ?? 0,
});
