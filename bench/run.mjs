// Runs every bench/*.bench.mjs in its own process, one after another, so
// that one benchmark's heap and page cache do not colour the next.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const benches = readdirSync(here)
  .filter((f) => f.endsWith(".bench.mjs"))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
// Scratch directories other runs (another session's) still use are left alone.
const work = join(here, ".work");
const before = new Set(existsSync(work) ? readdirSync(work) : []);
let failed = 0;
for (const file of benches) {
  console.log(`\n== ${file}`);
  const r = spawnSync(process.execPath, ["--expose-gc", join(here, file)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
for (const name of existsSync(work) ? readdirSync(work) : []) {
  if (!before.has(name)) rmSync(join(work, name), { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
