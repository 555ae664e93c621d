// The sshd_config and PAM lines docs/openssh.md gives, as test/openssh.test.ts
// runs them: read from the document, so that it cannot drift from what is
// proven.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const VERIFIER_CLI = join(ROOT, "packages/verifier/dist/airgrant-verifier.cjs");

export interface DocumentedOpenSshOptions {
  stateDir: string;
  /** Stands for /etc/ssh/airgrant_ca_keys. */
  caKeysFile: string;
  /** Stands for /var/log/airgrant-ssh.log. */
  logFile: string;
  /** Added after each `--state`: the host the test's bundle serves. */
  host: string;
}

/** The first code block after `heading` in docs/openssh.md. */
function block(heading: string): string[] {
  const doc = readFileSync(join(ROOT, "docs/openssh.md"), "utf8");
  const at = doc.indexOf(`\n${heading}\n`);
  const start = doc.indexOf("```\n", at);
  const end = doc.indexOf("```", start + 4);
  if (at < 0 || start < 0 || end < 0) throw new Error(`docs/openssh.md has no code block under '${heading}'`);
  return doc
    .slice(start + 4, end)
    .trimEnd()
    .split("\n");
}

function localise(line: string, options: DocumentedOpenSshOptions): string {
  return line
    .replace("/usr/bin/node", process.execPath)
    .replace("/usr/lib/airgrant/verifier/dist/airgrant-verifier.cjs", VERIFIER_CLI)
    .replace("/etc/ssh/airgrant_ca_keys", options.caKeysFile)
    .replace("log=/var/log/airgrant-ssh.log", `log=${options.logFile}`)
    .replace("--state /var/lib/airgrant", `--state ${options.stateDir} --host ${options.host}`);
}

/** The sshd_config lines of docs/openssh.md. */
export function documentedOpenSshConfig(options: DocumentedOpenSshOptions): string[] {
  return block("## sshd_config").map((line) => localise(line, options));
}

/** The session line docs/openssh.md puts first in /etc/pam.d/sshd's session section. */
export function documentedOpenSshSessionLine(options: DocumentedOpenSshOptions): string {
  const lines = block("## PAM: /etc/pam.d/sshd");
  if (lines.length !== 1) throw new Error("docs/openssh.md's PAM block should be the one session line");
  return localise(lines[0] as string, options);
}
