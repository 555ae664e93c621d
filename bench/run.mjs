// Runs every bench/*.bench.mjs in its own process, one after another, so
// that one benchmark's heap and page cache do not colour the next.
// `node bench/run.mjs [NAME...] [--json]`: only the benches whose file names
// hold a NAME; with --json, one JSON document of every figure on stdout.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const json = process.argv.includes("--json");
const only = process.argv.slice(2).filter((arg) => arg !== "--json");
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".bench.mjs"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
// Scratch directories other runs (another session's) still use are left alone.
const work = join(here, ".work");
const before = new Set(existsSync(work) ? readdirSync(work) : []);
let failed = 0;
const figures = [];
for (const file of benches) {
  if (!json) console.log(`\n== ${file}`);
  const r = spawnSync(process.execPath, ["--expose-gc", join(here, file), ...(json ? ["--json"] : [])], {
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
