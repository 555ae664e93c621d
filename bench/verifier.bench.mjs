// Host-side verification: in-process throughput against the floor no design
// can avoid, and a whole `airgrant-verifier check` process against `node -e 0`.
import { spawnSync } from "node:child_process";
import { verify } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { checkGrant, hostState, installBundle, loadInstalledBundle } from "../packages/verifier/dist/index.js";
import { benchBundle, benchGrant, benchIssuer, fmt, interleave, median, ROOT, workDir } from "./bench-support.mjs";

const N = 1500;
const now = Math.floor(Date.now() / 1000);
const issuer = benchIssuer();
const bundle = benchBundle(issuer, now);
const grants = Array.from({ length: N }, () => benchGrant(issuer, now));
const clock = () => new Date();

// --- ours: checkGrant end to end, as a long-lived caller runs it (parse, signature, checks, one-time store, audit append)
const dir = workDir("verifier");
const state = hostState(join(dir, "state"));
installBundle(state, bundle, clock);
const installed = loadInstalledBundle(state);
const presented = grants.map((g) => new TextEncoder().encode(g.text));
const floorDir = join(dir, "floor");
mkdirSync(floorDir);
const logLine = Buffer.alloc(700, 0x61);
const logFd = openSync(join(floorDir, "log"), "a", 0o600);

function ours(i) {
  const { verdict } = checkGrant({
    state,
    bundle: installed,
    presented: presented[i],
    user: "alice",
    host: "bench.example",
    clock,
  });
  if (!verdict.allowed) throw new Error(`bench grant refused: ${verdict.code}`);
}

// The floor: crypto.verify on the same key and message, one durable file
// create (write, fsync, fsync directory), one durable append of an entry's size.
function floor(i) {
  const g = grants[i];
  if (!verify("sha256", g.body, { key: issuer.publicKey, dsaEncoding: "ieee-p1363" }, g.signature)) throw new Error();
  const fd = openSync(join(floorDir, `u${i}`), "wx", 0o600);
  writeSync(fd, '{"expires":1800000000,"usedAt":1800000000}\n');
  fsyncSync(fd);
  closeSync(fd);
  const d = openSync(floorDir, "r");
  fsyncSync(d);
  closeSync(d);
  writeSync(logFd, logLine);
  fsyncSync(logFd);
}

const { oursMs, floorMs, blockRatios, measured } = interleave(ours, floor, N);
closeSync(logFd);

const perOurs = (oursMs / measured) * 1000;
const perFloor = (floorMs / measured) * 1000;
console.log(`in-process check:  ${fmt(1e6 / perOurs, 0)} grants/s (${fmt(perOurs, 0)} µs each)`);
console.log(
  `floor:             ${fmt(1e6 / perFloor, 0)} /s (${fmt(perFloor, 0)} µs: crypto.verify + durable create + durable append)`,
);
console.log(
  `ratio ours/floor throughput: ${fmt(floorMs / oursMs)} overall, ${fmt(median(blockRatios))} median of ${blockRatios.length} blocks (target >= 0.70)`,
);

// --- cold process: the shipped command against node -e 0, alternating runs,
// medians. Both get only PATH: variables such as NODE_EXTRA_CA_CERTS add tens
// of milliseconds to every node start and would flatter the ratio.
const cli = join(ROOT, "packages/verifier/dist/airgrant-verifier.cjs");
const bareEnv = { PATH: process.env.PATH };
const runs = 25;
const nodeTimes = [];
const cliTimes = [];
const coldGrants = Array.from({ length: runs }, () => benchGrant(issuer, now));
for (let i = 0; i < runs; i++) {
  let s = performance.now();
  spawnSync(process.execPath, ["-e", "0"], { env: bareEnv });
  nodeTimes.push(performance.now() - s);
  s = performance.now();
  const r = spawnSync(
    process.execPath,
    [cli, "check", "--user", "alice", "--host", "bench.example", "--state", state.dir],
    { input: coldGrants[i].text, env: bareEnv },
  );
  cliTimes.push(performance.now() - s);
  if (r.status !== 0) throw new Error(`cold check failed: ${r.stderr}`);
}
const nodeMs = median(nodeTimes);
const cliMs = median(cliTimes);
console.log(`cold 'airgrant-verifier check': ${fmt(cliMs, 1)} ms median of ${runs}; node -e 0: ${fmt(nodeMs, 1)} ms`);
console.log(`ratio check/node: ${fmt(cliMs / nodeMs)} (target <= 2.00)`);
