import { hostname } from "node:os";
import { printableLine, writeErr, writeOut } from "@airgrant/core";
import { loadInstalledBundle } from "./host-state.js";
import { describeCaller } from "./pam-environment.js";
import { sshCaKeyLines } from "./ssh-ca-keys.js";
import { runSshSession } from "./ssh-session.js";
import { hostState } from "./state-paths.js";
import { logVerdict } from "./syslog-line.js";

/**
 * The OpenSSH subcommands of airgrant-verifier (docs/openssh.md); cli.ts
 * parses the arguments and maps thrown errors to exit codes.
 */

interface Output {
  json: boolean;
}

/** One TrustedUserCAKeys line per bundle issuer, its comment naming the key id. */
export function printSshCaKeys(stateDir: string, out: Output): number {
  const bundle = loadInstalledBundle(hostState(stateDir));
  const lines = sshCaKeyLines(bundle);
  if (out.json) writeOut(`${JSON.stringify({ ok: true, code: "ssh-ca-keys", bundleId: bundle.bundleId, lines })}\n`);
  else writeOut(lines.map((line) => `${line}\n`).join(""));
  return 0;
}

export function runSshSessionCommand(values: { host?: string }, stateDir: string, out: Output): number {
  const host = values.host ?? hostname();
  const result = runSshSession({ stateDir, host, env: process.env, clock: () => new Date() });
  for (const check of result.checks) {
    logVerdict({ event: "ssh-session", user: result.pam.user, host, items: result.pam.items }, check);
  }
  const line = printableLine(`${result.message} ${describeCaller(result.pam)}`);
  if (out.json) {
    const checks = result.checks.map(({ verdict, auditSeq, use }) => ({
      code: verdict.code,
      auditSeq,
      ...(verdict.claims === undefined ? {} : { grantId: verdict.claims.grantId }),
      ...(use === undefined ? {} : { use }),
    }));
    writeOut(`${JSON.stringify({ ok: result.allowed, code: result.code, message: result.message, checks })}\n`);
  }
  if (!result.allowed) {
    writeErr(`error: ${result.code}: ${line}\n`);
    return 1;
  }
  if (!out.json) writeOut(`${result.code === "allowed" ? "allowed" : "not-airgrant"}: ${line}\n`);
  return 0;
}
