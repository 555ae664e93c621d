import { lstatSync } from "node:fs";
import { basename } from "node:path";
import type { Finding } from "./doctor-finding.js";
import { type PamEntry, type PamType, pamServices, readPamStack } from "./pam-stack.js";

/**
 * Doctor's PAM rules (docs/pam.md, docs/openssh.md, docs/doctor.md): every
 * service in the PAM directory whose stack holds an airgrant line, that line
 * where its page puts it, with the words its page gives it.
 */

/** The pam_exec options (pam_exec(8)); the first other argument is the command. */
const PAM_EXEC_OPTIONS = new Set(["debug", "expose_authtok", "seteuid", "quiet", "quiet_log", "stdout"]);

/** The shipped executable or today's bundle run by node. */
const VERIFIER_PROGRAM = /(^|\/)airgrant-verifier(\.cjs)?$/;

const GRANT_CONTROL = "[success=done ignore=ignore default=die]";
const BREAK_GLASS_CONTROL = "[success=1 default=ignore]";

export interface AirgrantLine {
  entry: PamEntry;
  /** `pam`, `ssh-session`, … */
  subcommand: string;
  /** pam_exec's own options, before the command. */
  options: string[];
  /** `--state`'s value on the line, if any. */
  stateDir?: string;
}

/** The airgrant line an entry is: pam_exec running airgrant-verifier (or node running its bundle). */
export function airgrantLine(entry: PamEntry): AirgrantLine | undefined {
  if (basename(entry.module) !== "pam_exec.so") return undefined;
  const commandAt = entry.args.findIndex((arg) => !PAM_EXEC_OPTIONS.has(arg) && !/^(log|type)=/.test(arg));
  if (commandAt < 0) return undefined;
  const command = entry.args.slice(commandAt);
  const program = command.findIndex((arg) => VERIFIER_PROGRAM.test(arg));
  // The executable itself, or the script its interpreter (node) runs.
  if (program < 0 || program > 1) return undefined;
  const subcommand = command[program + 1];
  if (subcommand === undefined) return undefined;
  const rest = command.slice(program + 2);
  const line: AirgrantLine = { entry, subcommand, options: entry.args.slice(0, commandAt) };
  rest.forEach((arg, i) => {
    if (arg === "--state" && rest[i + 1] !== undefined) line.stateDir = rest[i + 1] as string;
    else if (arg.startsWith("--state=")) line.stateDir = arg.slice("--state=".length);
  });
  return line;
}

/** The set of `value=action` pairs of a control, so that their order does not matter. */
function controlPairs(control: string): string {
  if (!control.startsWith("[")) return control;
  return control.slice(1, -1).split(" ").filter(Boolean).sort().join(" ");
}

function sameControl(a: string, b: string): boolean {
  return controlPairs(a) === controlPairs(b);
}

function where(entry: PamEntry): string {
  return `${entry.file}:${entry.line}`;
}

function moduleIs(entry: PamEntry, name: string): boolean {
  return basename(entry.module) === name;
}

/**
 * What every airgrant line needs, whichever its section: `--state` naming
 * the state doctor checks, and an owner-only log= file, except on a
 * pam-request line, whose output pam_exec's `stdout` sends to the user instead.
 */
function lineFindings(line: AirgrantLine, stateDir: string): Finding[] {
  const findings: Finding[] = [];
  const at = where(line.entry);
  if (line.stateDir === undefined) {
    findings.push({
      code: "pam-state",
      where: at,
      message: `the ${line.subcommand} line has no --state: the state directory of a login check comes from its line only`,
      fix: `add --state ${stateDir} after '${line.subcommand}'`,
    });
  } else if (line.stateDir !== stateDir) {
    findings.push({
      code: "pam-state",
      where: at,
      message: `the ${line.subcommand} line checks logins against ${line.stateDir}, not ${stateDir}, the state doctor checked`,
      fix: `run airgrant-verifier doctor --state ${line.stateDir}, or correct the line`,
    });
  }
  if (line.subcommand === "pam-request") return findings;
  const log = line.options.find((option) => option.startsWith("log="))?.slice("log=".length);
  if (log === undefined) {
    findings.push({
      code: "pam-log",
      where: at,
      message: "the line has no log= file: pam_exec sends the verifier's verdict lines to /dev/null",
      fix: "add log=/var/log/airgrant-pam.log (docs/pam.md) before the command",
    });
    return findings;
  }
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(log);
  } catch {
    st = undefined;
  }
  // About the file, which several lines may name: one finding for it.
  if (st === undefined) {
    findings.push({
      code: "pam-log",
      where: log,
      message: `${log}, a log= file, does not exist: pam_exec creates it readable by everyone`,
      fix: `install -m 600 -o root -g root /dev/null ${log}`,
    });
  } else if (!st.isFile() || st.uid !== 0 || (st.mode & 0o077) !== 0) {
    findings.push({
      code: "pam-log",
      where: log,
      message: `${log}, a log= file, is not a file only root can read (uid ${st.uid}, mode 0${(st.mode & 0o7777).toString(8)}): it names every user and verdict`,
      fix: `chown root:root ${log} && chmod 600 ${log}`,
    });
  }
  return findings;
}

function grantLineFindings(stack: PamEntry[], index: number, line: AirgrantLine): Finding[] {
  const findings: Finding[] = [];
  const { entry } = line;
  const at = where(entry);
  if (!sameControl(entry.control, GRANT_CONTROL)) {
    findings.push({
      code: "pam-control",
      where: at,
      message: `the pam line's control is ${entry.control}: only ${GRANT_CONTROL} makes a grant the one way in and lets pam_setcred pass (docs/pam.md, "Why these control values")`,
      fix: `write the line as 'auth ${GRANT_CONTROL} pam_exec.so expose_authtok …'`,
    });
  }
  if (!line.options.includes("expose_authtok")) {
    findings.push({
      code: "pam-expose-authtok",
      where: at,
      message: "the pam line has no expose_authtok: the verifier reads nothing on stdin and refuses every grant",
      fix: "add expose_authtok after pam_exec.so",
    });
  }
  const above = stack.slice(0, index);
  for (const env of above.filter((e) => moduleIs(e, "pam_env.so"))) {
    findings.push({
      code: "pam-env-above",
      where: where(env),
      message: `pam_env runs above the pam line (${at}): whoever sets PAM environment variables before it (NODE_OPTIONS, OPENSSL_CONF) runs code as root`,
      fix: "move pam_env.so out of the auth section, or below the airgrant lines",
    });
  }
  const unix = above.find((e) => moduleIs(e, "pam_unix.so"));
  if (unix !== undefined) {
    findings.push({
      code: "pam-line-order",
      where: at,
      message: `pam_unix (${where(unix)}) runs before the pam line: it asks for a password first`,
      fix: "put the two airgrant lines in place of '@include common-auth', followed by it (docs/pam.md)",
    });
  }
  const previous = stack[index - 1];
  const breakGlass =
    previous !== undefined &&
    moduleIs(previous, "pam_succeed_if.so") &&
    sameControl(previous.control, BREAK_GLASS_CONTROL) &&
    previous.args.includes("user");
  if (!breakGlass) {
    findings.push({
      code: "pam-no-breakglass",
      where: at,
      message:
        "no break-glass pam_succeed_if line right above the pam line: when the state or the bundle is broken nobody can log in",
      fix: `add 'auth ${BREAK_GLASS_CONTROL} pam_succeed_if.so quiet user ingroup airgrant-breakglass' right above it (docs/pam.md, "Break-glass accounts")`,
    });
  }
  return findings;
}

function sessionLineFindings(stack: PamEntry[], index: number, line: AirgrantLine): Finding[] {
  const findings: Finding[] = [];
  const { entry } = line;
  const at = where(entry);
  if (index > 0) {
    const first = stack[0] as PamEntry;
    findings.push({
      code: "ssh-session-not-first",
      where: at,
      message: `the ssh-session line is not first in the session section (${basename(first.module)} at ${where(first)} runs before it): a module before it can change SSH_AUTH_INFO_0`,
      fix: "move it above every other session line (docs/openssh.md)",
    });
  }
  if (!sameControl(entry.control, "requisite")) {
    findings.push({
      code: "ssh-session-control",
      where: at,
      message: `the ssh-session line's control is ${entry.control}, not requisite: a refused certificate's session goes on through the stack`,
      fix: "write it as 'session requisite pam_exec.so …'",
    });
  }
  if (!line.options.includes("type=open_session")) {
    findings.push({
      code: "ssh-session-type",
      where: at,
      message:
        "the ssh-session line has no type=open_session: pam_exec runs it when the session closes too, which refuses",
      fix: "add type=open_session after pam_exec.so",
    });
  }
  return findings;
}

/** The `session` line (docs/pam.md, "The session ends with the grant"): below pam_loginuid.so, run at open and close. */
function sessionEndFindings(stack: PamEntry[], index: number, line: AirgrantLine): Finding[] {
  const findings: Finding[] = [];
  const at = where(line.entry);
  if (!stack.slice(0, index).some((e) => moduleIs(e, "pam_loginuid.so"))) {
    findings.push({
      code: "session-end-order",
      where: at,
      message:
        "the session line does not run after pam_loginuid.so: the login has no audit session of its own, and a grant's session does not open",
      fix: "put it right after 'session required pam_loginuid.so' (docs/pam.md, \"The session ends with the grant\")",
    });
  }
  const type = line.options.find((option) => option.startsWith("type="));
  if (type !== undefined) {
    findings.push({
      code: "session-end-type",
      where: at,
      message: `the session line has ${type}: pam_exec then runs it only ${type === "type=open_session" ? "when the session opens, and a logout is never logged" : "at that PAM call, and no grant's session opens"}`,
      fix: `remove ${type} from the line`,
    });
  }
  return findings;
}

/** sshd's PAM service: OpenSSH starts PAM with its program name. */
const SSHD_SERVICE = "sshd";

/** The services whose grant logins the session line ends (docs/pam.md). */
const LOGIN_SERVICES = new Set([SSHD_SERVICE, "login"]);

/** Where each subcommand's line belongs. */
const SECTION_OF: Record<string, PamType> = {
  pam: "auth",
  "pam-request": "auth",
  "ssh-session": "session",
  session: "session",
};

export interface PamReport {
  findings: Finding[];
  /** Whether sshd's service (`sshd`) holds a pam line in auth and an ssh-session line in session. */
  sshd: { grantLine: boolean; sessionLine: boolean };
}

/** Every finding in the PAM directory's stacks for the state directory doctor checks. */
export function pamFindings(pamDir: string, stateDir: string): PamReport {
  const findings: Finding[] = [];
  const sshd = { grantLine: false, sessionLine: false };
  let anyLine = false;
  for (const service of pamServices(pamDir)) {
    let admits: PamEntry | undefined;
    let ends = false;
    for (const type of ["auth", "account", "session", "password"] as const) {
      const stack = readPamStack(pamDir, service, type);
      stack.forEach((entry, index) => {
        const line = airgrantLine(entry);
        if (line === undefined) return;
        anyLine = true;
        const belongs = SECTION_OF[line.subcommand];
        if (belongs !== type) {
          findings.push({
            code: "pam-wrong-section",
            where: where(entry),
            message: `'airgrant-verifier ${line.subcommand}' runs in the ${type} section of ${service}: ${belongs === undefined ? "it is no PAM entry point" : `it belongs in ${belongs}`}, and fails every login here`,
            fix: belongs === undefined ? "remove the line" : `move the line to the ${belongs} section`,
          });
          return;
        }
        if (line.subcommand === "ssh-session" && service !== SSHD_SERVICE) {
          findings.push({
            code: "pam-wrong-section",
            where: where(entry),
            message: `'airgrant-verifier ssh-session' runs in the session section of ${service}, which is not sshd: it finds no SSH_AUTH_INFO_0 there and refuses every session`,
            fix: `move the line into ${SSHD_SERVICE}'s own session section, not a file other services include (docs/openssh.md)`,
          });
          return;
        }
        findings.push(...lineFindings(line, stateDir));
        if (line.subcommand === "session") {
          findings.push(...sessionEndFindings(stack, index, line));
          ends = true;
          return;
        }
        if (line.subcommand === "pam-request") {
          if (!line.options.includes("stdout")) {
            findings.push({
              code: "pam-request-stdout",
              where: where(entry),
              message: "the pam-request line has no stdout: pam_exec shows nobody the request code",
              fix: 'add stdout after pam_exec.so (docs/pam.md, "Request codes at the prompt")',
            });
          }
          return;
        }
        admits ??= entry;
        if (line.subcommand === "pam") {
          findings.push(...grantLineFindings(stack, index, line));
          if (service === SSHD_SERVICE) sshd.grantLine = true;
        } else {
          findings.push(...sessionLineFindings(stack, index, line));
          if (service === SSHD_SERVICE) sshd.sessionLine = true;
        }
      });
    }
    if (admits !== undefined && !ends && LOGIN_SERVICES.has(service)) {
      findings.push({
        code: "session-end-missing",
        where: where(admits),
        message: `${service} lets logins in with grants but its session section has no session line: their sessions outlast their grants`,
        fix: "add the session line right after 'session required pam_loginuid.so' (docs/pam.md, \"The session ends with the grant\")",
      });
    }
  }
  if (!anyLine) {
    findings.push({
      code: "pam-not-configured",
      where: pamDir,
      message: "no PAM service runs airgrant-verifier: no login uses a grant",
      fix: "add the lines of docs/pam.md (and for certificates docs/openssh.md)",
    });
  }
  return { findings, sshd };
}
