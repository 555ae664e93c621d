// Where this checkout keeps its documents and built commands: tests run the
// commands as a user would, and read the documents' examples so that the
// documents cannot drift from what is proven. This file sits one level below
// testkit/ in its sources and in its build alike.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** `airgrant-verifier` as tsc builds it. */
export const VERIFIER_CLI = join(REPO_ROOT, "packages/verifier/dist/cli.js");
/** `airgrant-verifier` as one file, the way a host installs it (docs/pam.md, docs/openssh.md). */
export const VERIFIER_BUNDLE = join(REPO_ROOT, "packages/verifier/dist/airgrant-verifier.cjs");
/**
 * `airgrant-verifier` as a host installs it (docs/verifier.md): the static
 * launcher, which starts the single executable beside it with a clean environment.
 */
export const VERIFIER_EXECUTABLE = join(REPO_ROOT, "packages/verifier/dist/airgrant-verifier");

/** The Node runtime the executable is built from, which scripts/build-sea.mjs keeps: for its `node -e 0`. */
export function verifierRuntimeNode(): string {
  const cache = join(REPO_ROOT, "node_modules/.cache/airgrant-sea");
  const runtime = readdirSync(cache).find((name) => name.startsWith("node-"));
  if (runtime === undefined) throw new Error(`no Node runtime in ${cache}: run npm run build`);
  return join(cache, runtime);
}
/** `airgrant-signer` as one CommonJS file, the way its bin runs it. */
export const SIGNER_BUNDLE = join(REPO_ROOT, "apps/signer/dist/airgrant-signer.cjs");
/** `airgrant-auditor` as tsc builds it. */
export const AUDITOR_CLI = join(REPO_ROOT, "apps/auditor/dist/cli.js");
