// Where this checkout keeps its documents and built commands: tests run the
// commands as a user would, and read the documents' examples so that the
// documents cannot drift from what is proven. This file sits one level below
// testkit/ in its sources and in its build alike.
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** `airgrant-verifier` as tsc builds it. */
export const VERIFIER_CLI = join(REPO_ROOT, "packages/verifier/dist/cli.js");
/** `airgrant-verifier` as one file, the way a host installs it (docs/pam.md, docs/openssh.md). */
export const VERIFIER_BUNDLE = join(REPO_ROOT, "packages/verifier/dist/airgrant-verifier.cjs");
/** `airgrant-signer` as one ES module, the way its bin runs it. */
export const SIGNER_BUNDLE = join(REPO_ROOT, "apps/signer/dist/airgrant-signer.mjs");
/** `airgrant-auditor` as tsc builds it. */
export const AUDITOR_CLI = join(REPO_ROOT, "apps/auditor/dist/cli.js");
