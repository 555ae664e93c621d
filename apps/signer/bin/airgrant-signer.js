#!/usr/bin/env node
// The command npm links into node_modules/.bin at `npm ci`, before anything
// is built: it runs the built command, or says how to build it. Required,
// not imported: importing a CommonJS file makes Node parse all of it first
// to find its exports.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const built = fileURLToPath(new URL("../dist/airgrant-signer.cjs", import.meta.url));
if (existsSync(built)) {
  createRequire(import.meta.url)(built);
} else {
  process.stderr.write("error: internal: this command is not built yet: run 'npm run build' first\n");
  process.exitCode = 3;
}
