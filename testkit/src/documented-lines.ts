// The configuration lines docs/pam.md, docs/openssh.md and docs/install.md
// give, as the end-to-end tests run them: the tests read them from the
// documents, so the documents cannot drift from what is proven. For pam.md
// and openssh.md this checkout's built verifier and the test's scratch files
// stand in for the installed paths; install.md's are run as written.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT, VERIFIER_EXECUTABLE } from "./repo-paths.js";

/** Where a test's host keeps what the documents put under /var. */
export interface HostPaths {
  stateDir: string;
  logFile: string;
  /** Added after each `--state`: the host the test's grants name. */
  host: string;
}

export interface DocumentedLinesOptions extends HostPaths {
  /** Put in the break-glass line as `user in NAME` instead of the group. */
  breakGlassUser: string;
}

export interface DocumentedOpenSshOptions extends HostPaths {
  /** Stands for /etc/ssh/airgrant_ca_keys. */
  caKeysFile: string;
}

/** The lines of the first code block after `marker` in docs/`file`. */
function codeBlock(file: string, marker: string): string[] {
  const doc = readFileSync(join(REPO_ROOT, "docs", file), "utf8");
  const at = doc.indexOf(marker);
  const start = at < 0 ? -1 : doc.indexOf("```\n", at + marker.length);
  const end = start < 0 ? -1 : doc.indexOf("```", start + 4);
  if (end < 0) throw new Error(`docs/${file} has no code block after '${marker.trim()}'`);
  return doc
    .slice(start + 4, end)
    .trimEnd()
    .split("\n");
}

/** A documented line with this checkout's paths; `documentedLog` is the log= file the document names. */
function localise(line: string, paths: HostPaths, documentedLog: string): string {
  return line
    .replace("/usr/sbin/airgrant-verifier", VERIFIER_EXECUTABLE)
    .replace(`log=${documentedLog}`, `log=${paths.logFile}`)
    .replace("--state /var/lib/airgrant", `--state ${paths.stateDir} --host ${paths.host}`);
}

/** The lines docs/pam.md gives for /etc/pam.d/`file`. */
export function documentedPamLines(file: "sshd" | "login" | "sudo", options: DocumentedLinesOptions): string[] {
  return codeBlock("pam.md", `\n### /etc/pam.d/${file}\n`).map((line) =>
    localise(
      line.replace("user ingroup airgrant-breakglass", `user in ${options.breakGlassUser}`),
      options,
      "/var/log/airgrant-pam.log",
    ),
  );
}

/** docs/pam.md's /etc/pam.d/sshd with the request code line, "Request codes at the prompt". */
export function documentedRequestPamLines(options: DocumentedLinesOptions): string[] {
  return codeBlock("pam.md", "\n### Request codes at the prompt\n").map((line) =>
    localise(
      line.replace("user ingroup airgrant-breakglass", `user in ${options.breakGlassUser}`),
      options,
      "/var/log/airgrant-pam.log",
    ),
  );
}

/** The sshd_config lines docs/pam.md asks for; the break-glass group's `Match` names `breakGlassUser` instead. */
export function documentedSshdConfig(breakGlassUser: string): string[] {
  return codeBlock("pam.md", "and in `/etc/ssh/sshd_config`:\n").map((line) =>
    line.replace("Match Group *,!airgrant-breakglass", `Match User *,!${breakGlassUser}`),
  );
}

/** The sshd_config lines of docs/openssh.md. */
export function documentedOpenSshConfig(options: DocumentedOpenSshOptions): string[] {
  return codeBlock("openssh.md", "\n## sshd_config\n").map((line) => localiseOpenSsh(line, options));
}

/** The session line docs/openssh.md puts first in /etc/pam.d/sshd's session section. */
export function documentedOpenSshSessionLine(options: DocumentedOpenSshOptions): string {
  const lines = codeBlock("openssh.md", "\n## PAM: /etc/pam.d/sshd\n");
  if (lines.length !== 1) throw new Error("docs/openssh.md's PAM block should be the one session line");
  return localiseOpenSsh(lines[0] as string, options);
}

/** The sshd_config line of docs/openssh.md, "Revocation", with the test's KRL file for /etc/ssh/airgrant_revoked.krl. */
export function documentedRevokedKeysLine(krlFile: string): string {
  const lines = codeBlock("openssh.md", "\n## Revocation\n");
  if (lines.length !== 1) throw new Error("docs/openssh.md's Revocation block should be the one RevokedKeys line");
  return (lines[0] as string).replace("/etc/ssh/airgrant_revoked.krl", krlFile);
}

function localiseOpenSsh(line: string, options: DocumentedOpenSshOptions): string {
  return localise(line.replace("/etc/ssh/airgrant_ca_keys", options.caKeysFile), options, "/var/log/airgrant-ssh.log");
}

/** The lines of the first code block after `marker` in docs/install.md, as an administrator types them. */
export function documentedInstallLines(marker: string): string[] {
  return codeBlock("install.md", marker);
}

/** docs/pam.md's session lines ("The session ends with the grant"): pam_loginuid, then airgrant's. */
export function documentedSessionLines(paths: HostPaths): string[] {
  return codeBlock("pam.md", "\n### The session ends with the grant\n").map((line) =>
    localise(line, paths, "/var/log/airgrant-pam.log"),
  );
}
