// Builds a shipped command as one minified CommonJS file: `node
// scripts/bundle-cli.mjs ENTRY OUT [EXTERNAL...]`, from a package's
// directory. Every run of a role command pays its start-up, and Node 20
// starts one CommonJS file in well under half the time it takes to load the
// graph of ES modules tsc emits, and faster than one ES module, which goes
// through the ES module loader (bench/verifier.bench.ts,
// bench/signer.bench.ts). A part loaded only when asked (the signer's QR
// encoder, an `await import`) is in the file but runs only then. Native
// addons stay outside (EXTERNAL), loaded from node_modules with require.
import { chmodSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

const [entry, out, ...external] = process.argv.slice(2);
if (entry === undefined || out === undefined) {
  process.stderr.write("usage: node scripts/bundle-cli.mjs ENTRY OUT [EXTERNAL...]\n");
  process.exit(2);
}
const outfile = resolve(out);
await build({
  entryPoints: [resolve(entry)],
  outfile,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  external,
  // --version reads ../package.json relative to the module, so the bundle
  // gets its own URL.
  define: { "import.meta.url": "__airgrant_module_url" },
  banner: { js: 'const __airgrant_module_url = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
