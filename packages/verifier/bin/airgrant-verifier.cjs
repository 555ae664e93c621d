#!/usr/bin/env node
// The command npm links into node_modules/.bin at `npm ci`, before anything
// is built: it runs the built command, or says how to build it. Hosts run
// dist/airgrant-verifier.cjs itself (docs/pam.md).
try {
  require.resolve("../dist/airgrant-verifier.cjs");
} catch {
  process.stderr.write("error: internal: this command is not built yet: run 'npm run build' first\n");
  process.exit(3);
}
require("../dist/airgrant-verifier.cjs");
