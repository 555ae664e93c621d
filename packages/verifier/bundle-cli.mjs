// Builds the shipped command: one minified CommonJS file. A host runs it at
// every login, and Node 20 starts a single CommonJS file in well under half
// the time it takes to load the ES modules tsc emits (bench/verifier.bench).
import { chmodSync } from "node:fs";
import { build } from "esbuild";

const outfile = new URL("./dist/airgrant-verifier.cjs", import.meta.url).pathname;
await build({
  entryPoints: [new URL("./dist/cli.js", import.meta.url).pathname],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  // --version reads ../package.json relative to the module: give the bundle its own URL.
  define: { "import.meta.url": "__airgrant_module_url" },
  banner: { js: 'const __airgrant_module_url = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
