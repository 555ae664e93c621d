// The PAM lines docs/pam.md gives, as the end-to-end tests run them: the
// tests read them from the document, so the document cannot drift from what
// is proven.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const VERIFIER_CLI = join(ROOT, "packages/verifier/dist/airgrant-verifier.cjs");

export interface DocumentedLinesOptions {
  stateDir: string;
  logFile: string;
  /** Put in the break-glass line as `user in NAME` instead of the group. */
  breakGlassUser: string;
  /** Added to the pam_exec line: the host the test's grants name. */
  host: string;
}

/** The lines docs/pam.md gives for /etc/pam.d/`file`, with this checkout's paths and the test's scratch files. */
export function documentedPamLines(file: "sshd" | "login" | "sudo", options: DocumentedLinesOptions): string[] {
  const doc = readFileSync(join(ROOT, "docs/pam.md"), "utf8");
  const heading = `### /etc/pam.d/${file}\n\n\`\`\`\n`;
  const start = doc.indexOf(heading);
  const end = doc.indexOf("```", start + heading.length);
  if (start < 0 || end < 0) throw new Error(`docs/pam.md has no /etc/pam.d/${file} block`);
  return doc
    .slice(start + heading.length, end)
    .trimEnd()
    .split("\n")
    .map((line) =>
      line
        .replace("user ingroup airgrant-breakglass", `user in ${options.breakGlassUser}`)
        .replace("/usr/bin/node", process.execPath)
        .replace("/usr/lib/airgrant/verifier/dist/airgrant-verifier.cjs", VERIFIER_CLI)
        .replace("log=/var/log/airgrant-pam.log", `log=${options.logFile}`)
        .replace("--state /var/lib/airgrant", `--state ${options.stateDir} --host ${options.host}`),
    );
}

/** The sshd_config lines docs/pam.md asks for; the break-glass group's `Match` names `breakGlassUser` instead. */
export function documentedSshdConfig(breakGlassUser: string): string[] {
  const doc = readFileSync(join(ROOT, "docs/pam.md"), "utf8");
  const heading = "and in `/etc/ssh/sshd_config`:\n\n```\n";
  const start = doc.indexOf(heading);
  const end = doc.indexOf("```", start + heading.length);
  if (start < 0 || end < 0) throw new Error("docs/pam.md has no sshd_config block");
  return doc
    .slice(start + heading.length, end)
    .trimEnd()
    .split("\n")
    .map((line) => line.replace("Match Group *,!airgrant-breakglass", `Match User *,!${breakGlassUser}`));
}
