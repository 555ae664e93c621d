// Runs every bench/*.bench.ts in its own process, one after another, so
// that one benchmark's heap and page cache do not colour the next.
// `node --import tsx bench/run.ts [NAME...] [--json]` (what `npm run bench`
// runs): only the benches whose file names hold a NAME; with --json, one
// JSON document of every figure on stdout.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./bench-support.js";

const here = join(ROOT, "bench");
const json = process.argv.includes("--json");
const only = process.argv.slice(2).filter((arg) => arg !== "--json");
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
if (benches.length === 0) {
  console.error(`no bench/*.bench.ts file name holds ${only.join(" or ")}`);
  process.exit(1);
}
// Scratch directories other runs (another session's) still use are left alone.
const work = join(here, ".work");
const before = new Set(existsSync(work) ? readdirSync(work) : []);
let failed = 0;
const figures: unknown[] = [];
for (const file of benches) {
  if (!json) console.log(`\n== ${file}`);
  const args = ["--expose-gc", "--import", "tsx", join(here, file), ...(json ? ["--json"] : [])];
  // From the root, where `--import tsx` finds the root's tsx.
  const r = spawnSync(process.execPath, args, {
    cwd: ROOT,
    stdio: ["ignore", json ? "pipe" : "inherit", "inherit"],
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) failed++;
  if (json) {
    for (const line of r.stdout.split("\n")) if (line.startsWith("{")) figures.push(JSON.parse(line));
  }
}
if (json) {
  const run = { date: new Date().toISOString(), node: process.version, figures };
  process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
}
for (const name of existsSync(work) ? readdirSync(work) : []) {
  if (!before.has(name)) rmSync(join(work, name), { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
