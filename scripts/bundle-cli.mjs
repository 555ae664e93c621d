// Builds a shipped command as one minified file: `node
// scripts/bundle-cli.mjs [--esm] ENTRY OUT [EXTERNAL...]`, from a package's
// directory. Every run of a role command pays its start-up, and Node 20
// starts one file in well under half the time it takes to load the graph of
// ES modules tsc emits (bench/verifier.bench.ts, bench/signer.bench.ts).
// CommonJS by default, the fastest to start; --esm for a command that loads
// a part only when asked (the signer's QR encoder, an `await import`).
// Native addons stay outside (EXTERNAL), loaded from node_modules.
import { chmodSync } from "node:fs";
import { resolve } from "node:path";
import { build } from "esbuild";

const args = process.argv.slice(2);
const esm = args[0] === "--esm";
const [entry, out, ...external] = esm ? args.slice(1) : args;
if (entry === undefined || out === undefined) {
  process.stderr.write("usage: node scripts/bundle-cli.mjs [--esm] ENTRY OUT [EXTERNAL...]\n");
  process.exit(2);
}
const outfile = resolve(out);
await build({
  entryPoints: [resolve(entry)],
  outfile,
  bundle: true,
  platform: "node",
  format: esm ? "esm" : "cjs",
  target: "node20",
  minify: true,
  external,
  // CommonJS: --version reads ../package.json relative to the module, so
  // the bundle gets its own URL. ES module: the CommonJS packages bundled in
  // (pngjs) call require, which an ES module has to make.
  ...(esm
    ? {
        banner: {
          js: 'import { createRequire as __airgrantRequire } from "node:module"; const require = __airgrantRequire(import.meta.url);',
        },
      }
    : {
        define: { "import.meta.url": "__airgrant_module_url" },
        banner: { js: 'const __airgrant_module_url = require("node:url").pathToFileURL(__filename).href;' },
      }),
  logLevel: "warning",
});
chmodSync(outfile, 0o755);
