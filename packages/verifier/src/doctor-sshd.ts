import { readFileSync, realpathSync } from "node:fs";
import { dirname } from "node:path";
import { AirgrantError, printableLine } from "@airgrant/core";
import type { Finding } from "./doctor-finding.js";
import type { PamReport } from "./doctor-pam.js";
import { directoryFindingsUpFrom, entryFindings, lstatIfPresent } from "./state-permissions.js";

/**
 * Doctor's sshd rules (docs/openssh.md, docs/doctor.md), on sshd's effective
 * configuration as `sshd -T` prints it: sshd resolves Include, defaults and
 * spelling itself, so nothing here parses sshd_config.
 */

export const SSHD = "/usr/sbin/sshd";

/** `sshd -T`'s `keyword value` lines, keywords in lower case; undefined when sshd is not installed. */
export function readSshdConfig(configFile: string | undefined): Map<string, string[]> | { error: string } | undefined {
  let text: string;
  // Loaded here, not at start: the host's executable is a snapshot of what
  // the verifier loads at start, and every login pays for its size
  // (scripts/build-sea.mjs).
  const { execFileSync } = process.getBuiltinModule("node:child_process");
  try {
    text = execFileSync(SSHD, ["-T", ...(configFile === undefined ? [] : ["-f", configFile])], {
      encoding: "utf8",
      env: {},
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") return undefined;
    if (e.code === "EACCES") throw new AirgrantError("doctor-unreadable", `cannot run ${SSHD}: EACCES`);
    const first = (e.stderr ?? "").split("\n").find((l) => l.trim() !== "") ?? String(e.message);
    return { error: printableLine(first).slice(0, 200) };
  }
  const config = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    if (space <= 0) continue;
    const key = line.slice(0, space);
    config.set(key, [...(config.get(key) ?? []), line.slice(space + 1)]);
  }
  return config;
}

/** `type base64` of each key line of an authorized-keys style file: what sshd trusts, comments aside. */
export function caKeysOf(text: string): Set<string> {
  const keys = new Set<string>();
  for (const line of text.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [type, base64] = trimmed.split(/\s+/);
    if (type !== undefined && base64 !== undefined) keys.add(`${type} ${base64}`);
  }
  return keys;
}

export interface SshdInput {
  configFile?: string;
  pam: PamReport["sshd"];
  /** The bundle's issuer keys as `ssh-ca-keys` prints them; undefined without a usable bundle. */
  bundleCaLines?: string[];
}

function caKeysFileFindings(path: string, input: SshdInput, where: string): Finding[] {
  const findings: Finding[] = [];
  const st = lstatIfPresent(path);
  if (st === undefined) {
    return [
      {
        code: "sshd-ca-keys-missing",
        where,
        message: `TrustedUserCAKeys names ${path}, which does not exist: sshd accepts no certificate`,
        fix: `airgrant-verifier ssh-ca-keys --state DIR > ${path}`,
      },
    ];
  }
  const permissions = [
    ...directoryFindingsUpFrom(dirname(realpathSync.native(path))),
    ...entryFindings(path, st, "file", false).filter((f) => f.refused),
  ];
  for (const p of permissions) {
    findings.push({
      code: "sshd-ca-keys-unsafe",
      where: p.path,
      message: `${p.path} ${p.problem}: whoever can change the CA keys file chooses whose certificates sshd accepts`,
      fix: p.fix,
    });
  }
  if (input.bundleCaLines === undefined) return findings;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new AirgrantError("doctor-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  const inFile = caKeysOf(text);
  const wanted = caKeysOf(input.bundleCaLines.join("\n"));
  const missing = [...wanted].filter((k) => !inFile.has(k)).length;
  const extra = [...inFile].filter((k) => !wanted.has(k)).length;
  const ours = [...wanted].some((k) => inFile.has(k));
  if (!ours && !input.pam.sessionLine) return findings;
  if (missing > 0 || extra > 0) {
    findings.push({
      code: "sshd-ca-keys-stale",
      where: path,
      message: `${path} is not the installed bundle's issuer keys: ${missing} issuer key(s) missing, whose certificates sshd refuses; ${extra} other key(s), whose certificates sshd lets authenticate and the session line then refuses (unknown-issuer)`,
      fix: `airgrant-verifier ssh-ca-keys --state DIR > ${path}`,
    });
  }
  if (ours && !input.pam.sessionLine) {
    findings.push({
      code: "ssh-session-missing",
      where: path,
      message:
        "sshd trusts the bundle's issuers but the sshd PAM service has no ssh-session line: certificates log in without airgrant's rules and as often as they like",
      fix: "put the ssh-session line first in the session section of /etc/pam.d/sshd (docs/openssh.md)",
    });
  }
  return findings;
}

/**
 * The KRL sshd reads at every public-key authentication (`airgrant-signer
 * krl`, docs/openssh.md, "Revocation"): while it is missing sshd refuses every
 * key, and whoever can write it can revoke or un-revoke certificates.
 */
function revokedKeysFindings(path: string, where: string): Finding[] {
  const st = lstatIfPresent(path);
  if (st === undefined) {
    return [
      {
        code: "sshd-revoked-keys-missing",
        where,
        message: `RevokedKeys names ${path}, which does not exist: sshd refuses every public-key login, certificates and break-glass keys alike`,
        fix: `carry the signer's 'airgrant-signer krl --out FILE' here as ${path}, or remove RevokedKeys`,
      },
    ];
  }
  return [
    ...directoryFindingsUpFrom(dirname(realpathSync.native(path))),
    ...entryFindings(path, st, "file", false).filter((f) => f.refused),
  ].map((p) => ({
    code: "sshd-revoked-keys-unsafe",
    where: p.path,
    message: `${p.path} ${p.problem}: whoever can change the revocation list can let a revoked certificate in again`,
    fix: p.fix,
  }));
}

/** Every finding in sshd's effective configuration. */
export function sshdFindings(input: SshdInput): Finding[] {
  const config = readSshdConfig(input.configFile);
  const source = input.configFile ?? "sshd -T";
  if (config === undefined) return [];
  if ("error" in config) {
    return [
      {
        code: "sshd-config-invalid",
        where: source,
        message: `sshd -T refuses the configuration: ${config.error}`,
        fix: "correct sshd_config until 'sshd -t' is silent",
      },
    ];
  }
  const findings: Finding[] = [];
  const value = (key: string) => config.get(key)?.[0] ?? "";
  const usesAirgrant = input.pam.grantLine || input.pam.sessionLine;
  if (usesAirgrant && value("usepam") !== "yes") {
    findings.push({
      code: "sshd-use-pam",
      where: source,
      message: "UsePAM is not yes: sshd never runs the airgrant lines of its PAM service",
      fix: "set 'UsePAM yes' in sshd_config",
    });
  }
  if (
    input.pam.grantLine &&
    value("kbdinteractiveauthentication") !== "yes" &&
    value("passwordauthentication") !== "yes"
  ) {
    findings.push({
      code: "sshd-no-prompt",
      where: source,
      message:
        "KbdInteractiveAuthentication and PasswordAuthentication are both no: no grant can be typed at sshd's prompt",
      fix: "set 'KbdInteractiveAuthentication yes' in sshd_config (docs/pam.md)",
    });
  }
  if (/airgrant-verifier/.test(value("authorizedprincipalscommand"))) {
    findings.push({
      code: "sshd-principals-command",
      where: source,
      message:
        "AuthorizedPrincipalsCommand still runs airgrant-verifier, which has no principals command any more: sshd refuses every certificate",
      fix: "remove AuthorizedPrincipalsCommand and AuthorizedPrincipalsCommandUser: the session line checks everything",
    });
  }
  const revokedKeys = value("revokedkeys");
  if (revokedKeys !== "" && revokedKeys !== "none") findings.push(...revokedKeysFindings(revokedKeys, source));
  const caKeys = value("trustedusercakeys");
  if (caKeys === "" || caKeys === "none") {
    if (input.pam.sessionLine) {
      findings.push({
        code: "sshd-ca-keys-unset",
        where: source,
        message:
          "the sshd PAM service has an ssh-session line but TrustedUserCAKeys is not set: no certificate can log in",
        fix: "set 'TrustedUserCAKeys /etc/ssh/airgrant_ca_keys' (docs/openssh.md), or remove the session line",
      });
    }
    return findings;
  }
  findings.push(...caKeysFileFindings(caKeys, input, source));
  return findings;
}
