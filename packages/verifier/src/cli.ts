#!/usr/bin/env node
import { fstatSync } from "node:fs";
import { hostname } from "node:os";
import type { ParseArgsConfig } from "node:util";
import { startupSnapshot } from "node:v8";
import {
  type AirgrantError,
  type CommandLine,
  isoSeconds,
  isoTime,
  packageVersion,
  printableLine,
  readAuditHead,
  readBounded,
  runCommandLine,
  type TrustBundle,
  usageError,
  writeErr,
  writeOut,
} from "@airgrant/core";
import { type Admission, admitGrant } from "./admission.js";
import { requireUnsignallableIdentity } from "./caller-identity.js";
import { DEFAULT_PAM_DIR, printDoctorReport, runDoctor } from "./doctor.js";
import { decodeGrantClaims, MAX_GRANT_INPUT_BYTES } from "./grant-claims.js";
import { bundleExpired } from "./grant-rules.js";
import { advanceSealKey } from "./host-log.js";
import { installBundle, loadInstalledBundle } from "./host-state.js";
import { superviseSessions } from "./login-session.js";
import { runPamCheck } from "./pam-check.js";
import { describeCaller } from "./pam-environment.js";
import { printRequest, runPamRequest, showRequest } from "./request-cli.js";
import { runSessionCommand, runSessionWatchCommand } from "./session-cli.js";
import { startSessionWatcher } from "./session-watcher.js";
import { printSshCaKeys, runSshSessionCommand } from "./ssh-cli.js";
import { DEFAULT_STATE_DIR, hostState, resolveStateDir } from "./state-paths.js";
import { logVerdict } from "./syslog-line.js";
import { readBundleFile, runUpdate } from "./update-cli.js";
import { countConsumedUses } from "./use-store.js";

const USAGE = `usage: airgrant-verifier <command> [options]

Verify airgrant access grants offline on this host.

commands:
  install-bundle FILE [--receipt OUT]
                               validate and install the trust bundle; the first install
                               starts sealing the host log and writes the auditor's receipt
  update FILE...               apply signed trust bundles (a chain: in trust version order),
                               each signed by the installed roots; as root
  check --user U [--host H]    read a grant on stdin; exit 0 if allowed (and use it), 1 if not
  request --user U [--host H]  show the account's pending request code, making one if it has
                               none (docs/requests.md)
  status                       show the bundle in use, its issuers, uses recorded, log head
  pam [--host H]               for pam_exec.so expose_authtok: check the grant on stdin for
                               $PAM_USER (auth only); exit 0 if allowed (docs/pam.md)
  pam-request [--host H]       for pam_exec.so stdout, before the pam line: show $PAM_USER's
                               request code at the prompt (docs/pam.md)
  ssh-ca-keys                  print the bundle's issuer keys for sshd's TrustedUserCAKeys
  ssh-session [--host H]       for pam_exec.so type=open_session in sshd's session stack: check
                               the certificate in $SSH_AUTH_INFO_0 and take its use (docs/openssh.md)
  session [--warn-before S]    for pam_exec.so in the session stack after pam_loginuid.so: end the
                               session of a grant's login when its access ends, warning S seconds
                               before (default 300); log its logout (docs/pam.md)
  doctor [--pam-dir DIR] [--sshd-config FILE]
                               check the state, the PAM stacks (default /etc/pam.d) and sshd's
                               configuration (sshd -T); one line per finding, exit 0 if none

options:
  --state DIR   state directory (default: $AIRGRANT_STATE, else /var/lib/airgrant;
                pam ignores $AIRGRANT_STATE, since PAM lets users set variables)
  --json        print the result as one JSON object on stdout
  --help        show this help
  --version     show the version

exit status: 0 allowed/ok, 1 denied, 2 usage or input error, 3 environment error`;

/**
 * Commands run by sshd or PAM at login: their state directory comes from the
 * configured command line only, never from an environment users can influence.
 */
const LOGIN_COMMANDS = new Set(["pam", "pam-request", "ssh-session", "session", "session-watch"]);

const OPTIONS = {
  state: { type: "string" },
  receipt: { type: "string" },
  user: { type: "string" },
  host: { type: "string" },
  "pam-dir": { type: "string" },
  "sshd-config": { type: "string" },
  "warn-before": { type: "string" },
} satisfies ParseArgsConfig["options"];

const CLI: CommandLine = {
  name: "airgrant-verifier",
  usage: USAGE,
  version: packageVersion(new URL("../package.json", import.meta.url)),
};

interface Output {
  json: boolean;
}

function usage(message: string): AirgrantError {
  return usageError(CLI, message);
}

function runInstallBundle(positionals: string[], values: { receipt?: string }, stateDir: string, out: Output): number {
  const [file, ...rest] = positionals;
  if (file === undefined || rest.length > 0) throw usage("install-bundle takes one FILE");
  const { bundle, receiptPath } = installBundle(
    hostState(stateDir),
    readBundleFile(file),
    () => new Date(),
    values.receipt === undefined ? {} : { receiptPath: values.receipt },
  );
  const result = {
    ok: true,
    code: "bundle-installed",
    bundleId: bundle.bundleId,
    issuers: bundle.issuers.length,
    ...(receiptPath === undefined ? {} : { sealReceipt: receiptPath }),
  };
  if (out.json) writeOut(`${JSON.stringify(result)}\n`);
  else {
    writeOut(`installed trust bundle ${bundle.bundleId} (${bundle.issuers.length} issuer(s)) in ${stateDir}\n`);
    if (receiptPath !== undefined) {
      writeOut(
        `the host log is now sealed; give ${receiptPath} to the auditor and delete it from this host (airgrant-auditor verify --key)\n`,
      );
    }
  }
  return 0;
}

function runCheck(values: { user?: string; host?: string }, stateDir: string, out: Output): number {
  if (values.user === undefined) throw usage("check needs --user");
  const state = hostState(stateDir);
  const bundle = loadInstalledBundle(state);
  const host = values.host ?? hostname();
  // From a terminal, Enter ends the grant; from a pipe, the end of input. A
  // terminal is told by fstat (a character device), not by process.stdin,
  // whose stream costs every check a few milliseconds to set up.
  const input = readBounded(0, MAX_GRANT_INPUT_BYTES, fstatSync(0).isCharacterDevice() ? 0x0a : undefined);
  const admission = admitGrant({
    state,
    bundle,
    claims: decodeGrantClaims(input.bytes, input.oversized),
    presented: input.bytes,
    oversized: input.oversized,
    caller: { user: values.user },
    host,
    clock: () => new Date(),
  });
  logVerdict({ event: "check", user: values.user, host }, admission);
  const { message } = admission.verdict;
  return printVerdict(admission, message, printableLine(message), out);
}

function runPam(values: { host?: string }, stateDir: string, out: Output): number {
  const host = values.host ?? hostname();
  const result = runPamCheck({ stateDir, host, env: process.env, clock: () => new Date() });
  logVerdict({ event: "pam", user: result.pam.user, host, items: result.pam.items }, result);
  return printVerdict(result, result.message, printableLine(`${result.message} ${describeCaller(result.pam)}`), out);
}

/**
 * A check's verdict as `check` and `pam` print it: with --json one object
 * on stdout (`message` as the verdict says it); then `allowed: LINE`, or
 * `error: <code>: LINE` on stderr and exit 1.
 */
function printVerdict({ verdict, auditSeq }: Admission, message: string, line: string, out: Output): number {
  if (out.json) {
    const claims = verdict.claims;
    const json = {
      ok: verdict.allowed,
      code: verdict.code,
      message: printableLine(message),
      auditSeq,
      ...(claims === undefined ? {} : { grantId: claims.grantId, principal: claims.principals[0] }),
    };
    writeOut(`${JSON.stringify(json)}\n`);
  }
  if (!verdict.allowed) {
    writeErr(`error: ${verdict.code}: ${line}\n`);
    return 1;
  }
  if (!out.json) writeOut(`allowed: ${line}\n`);
  return 0;
}

function runDoctorCommand(
  positionals: string[],
  values: { "pam-dir"?: string; "sshd-config"?: string },
  stateDir: string,
  out: Output,
): number {
  if (positionals.length > 0) throw usage("doctor takes no arguments");
  const findings = runDoctor({
    stateDir,
    pamDir: values["pam-dir"] ?? DEFAULT_PAM_DIR,
    ...(values["sshd-config"] === undefined ? {} : { sshdConfig: values["sshd-config"] }),
    clock: () => new Date(),
  });
  return printDoctorReport(findings, out.json);
}

/** What status says of a signed bundle's trust: its version, roots and expiry. */
function trustLines(bundle: TrustBundle): string[] {
  const trust = bundle.signedTrust;
  if (trust === undefined) return ["signed trust:    none (a version 1 bundle)"];
  const expired = bundleExpired(bundle, Math.floor(Date.now() / 1000)) ? "EXPIRED " : "";
  return [
    `signed trust:    trust version ${trust.trustVersion}, ${trust.roots.threshold} of ${trust.roots.keys.length} root key(s) ${trust.roots.keys.map((k) => k.keyId).join(",")}`,
    `expires:         ${expired}${isoSeconds(trust.expires)} (on expiry: ${trust.onExpiry})`,
  ];
}

function runStatus(stateDir: string, out: Output): number {
  const state = hostState(stateDir);
  const bundle = loadInstalledBundle(state);
  const consumed = countConsumedUses(state.usedDir);
  const head = readAuditHead(state.auditLogPath);
  if (out.json) {
    const issuers = bundle.issuers.map(({ keyId, algorithm, notBefore, notAfter, targets }) => ({
      keyId,
      algorithm,
      notBefore,
      notAfter,
      targets,
    }));
    const status = {
      ok: true,
      stateDir,
      bundleId: bundle.bundleId,
      ...(bundle.signedTrust === undefined
        ? {}
        : {
            trustVersion: bundle.signedTrust.trustVersion,
            expires: bundle.signedTrust.expires,
            onExpiry: bundle.signedTrust.onExpiry,
            roots: bundle.signedTrust.roots.keys.map((k) => k.keyId),
            rootThreshold: bundle.signedTrust.roots.threshold,
          }),
      issuers,
      consumedUses: consumed,
      logHead: head ?? null,
    };
    writeOut(`${JSON.stringify(status)}\n`);
    return 0;
  }
  const lines = [
    `state directory: ${stateDir}`,
    `trust bundle:    ${bundle.bundleId} (created ${isoTime(bundle.created * 1000)})`,
    ...trustLines(bundle),
    `policy:          max lifetime ${bundle.maxLifetime} s, clock skew ${bundle.clockSkew} s, ${bundle.requiredSignatures} signature(s) required, ${bundle.revokedGrants.length} revoked`,
    "issuers:",
    ...bundle.issuers.map(
      (i) =>
        `  ${i.keyId} ${i.algorithm} valid ${isoTime(i.notBefore * 1000)} to ${isoTime(i.notAfter * 1000)} for ${i.targets.join(",")}`,
    ),
    `uses recorded:   ${consumed}`,
    `audit log head:  ${head === undefined ? "(empty)" : `seq ${head.seq} ${head.hash}`}`,
  ];
  writeOut(`${lines.join("\n")}\n`);
  return 0;
}

function main(argv: string[]): number {
  return runCommandLine(CLI, argv, OPTIONS, ({ values, positionals }) => {
    const out: Output = { json: values.json === true };
    const [command, ...rest] = positionals;
    // pam_exec runs the command with the PAM environment, which users can
    // influence (pam_env user_readenv): the state directory of a login check
    // comes from the PAM configuration line only.
    const stateDir = LOGIN_COMMANDS.has(command ?? "")
      ? (values.state ?? DEFAULT_STATE_DIR)
      : resolveStateDir(values.state);
    // Before any state is touched: the user a login check judges must not be able to stop it (docs/pam.md).
    requireUnsignallableIdentity();
    // Doctor changes nothing, the sealing key included.
    if (command === "doctor") return runDoctorCommand(rest, values, stateDir, out);
    // Every start moves the sealing key to the current epoch, logged or not (docs/audit-log.md, "Sealing").
    advanceSealKey(hostState(stateDir), () => new Date());
    // Every start but the watcher's own also sees that each session of a grant's login has a watcher (docs/verifier.md, "When a session ends").
    if (command !== "session-watch") {
      superviseSessions(hostState(stateDir), () => new Date(), startSessionWatcher(stateDir));
    }
    switch (command) {
      case "install-bundle":
        return runInstallBundle(rest, values, stateDir, out);
      case "update":
        if (rest.length === 0) throw usage("update takes one or more FILEs");
        return runUpdate(rest, stateDir, out);
      case "check":
        if (rest.length > 0) throw usage("check takes no arguments; the grant is read from stdin");
        return runCheck(values, stateDir, out);
      case "request":
        if (rest.length > 0) throw usage("request takes no arguments");
        if (values.user === undefined) throw usage("request needs --user");
        return printRequest(
          showRequest({ stateDir, host: values.host ?? hostname(), user: values.user, clock: () => new Date() }),
          out.json,
        );
      case "pam-request":
        if (rest.length > 0 || values.user !== undefined) throw usage("pam-request takes the user from PAM_USER");
        return runPamRequest(stateDir, values.host ?? hostname(), out.json);
      case "status":
        return runStatus(stateDir, out);
      case "pam":
        if (rest.length > 0) throw usage("pam takes no arguments; the grant is read from stdin");
        if (values.user !== undefined) throw usage("pam takes the user from PAM_USER, not --user");
        return runPam(values, stateDir, out);
      case "ssh-ca-keys":
        if (rest.length > 0) throw usage("ssh-ca-keys takes no arguments");
        return printSshCaKeys(stateDir, out);
      case "ssh-session":
        if (rest.length > 0 || values.user !== undefined) throw usage("ssh-session takes the user from PAM_USER");
        return runSshSessionCommand(values, stateDir, out);
      case "session":
        if (rest.length > 0 || values.user !== undefined) throw usage("session takes the user from PAM_USER");
        return runSessionCommand(CLI, values, stateDir, out);
      case "session-watch":
        return runSessionWatchCommand(CLI, rest, stateDir);
      case undefined:
        throw usage("no command given");
      default:
        throw usage(`unknown command '${command}'`);
    }
  });
}

// Every command here is synchronous, its output written with write(2), so it
// exits at once: a natural exit would have Node tear down the heap first,
// about 2 ms of every login (bench/verifier.bench.ts).
const run = (): void => {
  process.exit(main(process.argv.slice(2)));
};
// The host's single executable is a start-up snapshot of this module
// (scripts/build-sea.mjs): there main runs when the snapshot starts, not
// while it is made.
if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(run);
else run();
