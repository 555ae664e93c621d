// What a host's login waits for: a whole `airgrant-verifier check` process
// (grant on stdin) and a whole `airgrant-verifier pam` process as pam_exec
// runs it (PAM_* environment, the grant and a NUL on stdin), the installed
// command (its launcher and the single executable), each against `node -e 0`
// of the Node runtime that executable is built from, the floor of any check
// written for Node, in turn. Both sides get only the environment named
// here: variables such as NODE_EXTRA_CA_CERTS add tens of milliseconds to
// every node start and would flatter the ratio. And what the syslog line
// costs a login: `pam` through the launcher (which forks the syslog forwarder; the
// verifier writes the line into its pipe) against the same runtime started
// directly, without its launcher: no forwarder, no line (docs/verifier.md,
// "Syslog").

import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import {
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  testFields,
  VERIFIER_EXECUTABLE,
  verifierRuntimeNode,
} from "@airgrant/testkit";
import { hostState, installBundle } from "@airgrant/verifier";
import { alternate, interleave, readFromDisk, report, workDir } from "./bench-support.js";

const RUNS = 41;
const WARM = 3;
const now = Math.floor(Date.now() / 1000);
const issuer = makeTestIssuer();
const state = hostState(join(workDir("verifier"), "state"));
installBundle(state, makeBundleBytes([issuer]), () => new Date());
const node = verifierRuntimeNode();
const runtime = `${VERIFIER_EXECUTABLE}-runtime`;
const size = (path: string) => Number((statSync(path).size / 2 ** 20).toFixed(1));
const sizes = {
  "executable MiB": size(runtime),
  "launcher MiB": size(VERIFIER_EXECUTABLE),
};
// check, pam, then pam through the launcher and through the runtime alone.
const grants = Array.from({ length: 4 * (RUNS + WARM) }, () =>
  makeGrantText(
    testFields(issuer, { notBefore: now - 60, notAfter: now + 3600, target: { kind: "host", name: "bench.example" } }),
    [issuer],
  ),
);

/** Each run presents a grant of its own: a grant is good for one use. */
function grantAt(i: number): string {
  const grant = grants[i];
  if (grant === undefined) throw new RangeError(`no grant ${i}`);
  return grant;
}

function run(args: string[], input: string, env: NodeJS.ProcessEnv, program = VERIFIER_EXECUTABLE): void {
  const r = spawnSync(program, [...args, "--state", state.dir, "--host", "bench.example"], {
    input,
    env,
  });
  if (r.status !== 0) throw new Error(`${args[0]} failed: ${r.stderr}`);
}

readFromDisk(node, runtime, VERIFIER_EXECUTABLE);

const bare: NodeJS.ProcessEnv = { PATH: process.env.PATH };
// What pam_exec passes: the PAM environment (here none) and the PAM items, nothing else.
const pamEnv: NodeJS.ProcessEnv = {
  PAM_TYPE: "auth",
  PAM_USER: "alice",
  PAM_SERVICE: "sshd",
  PAM_RHOST: "192.0.2.10",
  PAM_TTY: "ssh",
};
// check and pam in the same rounds: timed one after the other, the second
// would meet a longer log and a machine further along its drift.
const [check, pam] = interleave(
  [
    {
      ours: (i) => run(["check", "--user", "alice"], grantAt(i), bare),
      baseline: () => spawnSync(node, ["-e", "0"], { env: bare }),
    },
    {
      ours: (i) => run(["pam"], `${grantAt(RUNS + WARM + i)}\0`, pamEnv),
      baseline: () => spawnSync(node, ["-e", "0"], { env: pamEnv }),
    },
  ],
  { runs: RUNS, warm: WARM },
);
if (check === undefined || pam === undefined) throw new Error("interleave returned too few medians");
report({
  bench: "verifier-check-process",
  what: "airgrant-verifier check, whole process",
  ...check,
  baseline: "node -e 0",
  target: "<= 1.3",
  ...sizes,
});
report({
  bench: "verifier-pam-process",
  what: "airgrant-verifier pam as pam_exec runs it, whole process",
  ...pam,
  baseline: "node -e 0",
  target: "<= 1.3",
  ...sizes,
});

const syslog = alternate(
  (i) => run(["pam"], `${grantAt(2 * (RUNS + WARM) + i)}\0`, pamEnv),
  (i) => run(["pam"], `${grantAt(3 * (RUNS + WARM) + i)}\0`, pamEnv, runtime),
  { runs: RUNS, warm: WARM },
);
report({
  bench: "verifier-pam-syslog",
  what: "airgrant-verifier pam through its launcher, with the syslog line",
  ...syslog,
  baseline: "its runtime alone, no syslog line",
  target: "<= 1.05",
});
