#!/usr/bin/env node
// The command npm links into node_modules/.bin at `npm ci`, before anything
// is built: it runs the built command, or says how to build it.
import("../dist/airgrant-signer.mjs").catch((err) => {
  if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  process.stderr.write("error: internal: this command is not built yet: run 'npm run build' first\n");
  process.exitCode = 3;
});
