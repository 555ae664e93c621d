import { spawn } from "node:child_process";
import type { Socket } from "node:net";
import type { Admission } from "./admission.js";
import { type PamItems, printableItem } from "./pam-environment.js";

/**
 * One line per login verdict in the host's syslog (docs/verifier.md,
 * "Syslog"), for the site's monitoring; the host audit log stays the record.
 * Node has no client for unix datagram sockets, so the line goes through
 * util-linux `logger`, its fixed argv naming no user data and the line on its
 * stdin. The login never waits for it: a missing logger, a missing /dev/log
 * or a stuck syslog daemon costs the line, never the login or its verdict.
 */

export const LOGGER = "/usr/bin/logger";
export const SYSLOG_TAG = "airgrant-verifier";

/** What logged it: the command whose verdict this is. */
export type SyslogEvent = "check" | "pam" | "ssh-session";

/** `notice` for a login let in, `warning` for a refusal. */
export type SyslogPriority = "notice" | "warning";

/** How many characters a value from outside keeps. */
export const SYSLOG_VALUE_MAX_LENGTH = 64;

/** Everything but printable ASCII, and the space that separates fields. */
const NOT_A_VALUE_CHARACTER = /[^\x21-\x7e]/g;

/** A value as a field carries it: printable ASCII without spaces, cut to SYSLOG_VALUE_MAX_LENGTH. */
export function syslogValue(value: string): string {
  const cut = printableItem(value, SYSLOG_VALUE_MAX_LENGTH).value.replace(NOT_A_VALUE_CHARACTER, "?");
  return cut === "" ? "?" : cut;
}

export interface SyslogVerdict {
  event: SyslogEvent;
  /** The account asked for, as given (PAM_USER, --user). */
  user: string;
  host: string;
  items?: PamItems;
}

/**
 * `event=E verdict=V [grant=ID] user=U host=H [service=S] [rhost=R] [tty=T]
 * [use=N] seq=N`, each value as syslogValue makes it.
 */
export function verdictLine(
  { event, user, host, items }: SyslogVerdict,
  { verdict, auditSeq, use }: Admission,
): string {
  const fields: Array<[string, string | number | undefined]> = [
    ["event", event],
    ["verdict", verdict.code],
    ["grant", verdict.claims?.grantId],
    ["user", user],
    ["host", host],
    ["service", items?.pamService],
    ["rhost", items?.pamRhost],
    ["tty", items?.pamTty],
    ["use", use],
    ["seq", auditSeq],
  ];
  return fields
    .filter((field): field is [string, string | number] => field[1] !== undefined)
    .map(([key, value]) => `${key}=${syslogValue(String(value))}`)
    .join(" ");
}

/** Send a verdict's line: `notice` when allowed, `warning` when refused. */
export function logVerdict(who: SyslogVerdict, admission: Admission): void {
  sendToSyslog(admission.verdict.allowed ? "notice" : "warning", verdictLine(who, admission));
}

function ignore(): void {}

/**
 * Hand one line to syslog (facility authpriv) and return at once. The line
 * is written into a fresh pipe, which takes it whole at once (far below
 * PIPE_BUF), so nothing is left for the event loop; logger reads it after
 * this process has exited if need be, and is not waited for.
 */
export function sendToSyslog(priority: SyslogPriority, line: string): void {
  try {
    const child = spawn(LOGGER, ["-t", SYSLOG_TAG, "-p", `authpriv.${priority}`, `--id=${process.pid}`], {
      // Not the verifier's stdout or stderr: whoever reads those to their end must not wait for logger.
      stdio: ["pipe", "ignore", "ignore"],
      // Not the PAM environment, which users can influence.
      env: {},
    });
    child.on("error", ignore);
    child.unref();
    const stdin = child.stdin;
    if (stdin === null) return;
    stdin.on("error", ignore);
    stdin.write(`${line}\n`);
    (stdin as Socket).unref();
  } catch {
    // A login never fails for its syslog line.
  }
}
