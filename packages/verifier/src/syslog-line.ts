import { fstatSync, writeSync } from "node:fs";
import type { Admission } from "./admission.js";
import { type PamItems, printableItem } from "./pam-environment.js";

/**
 * One line per login verdict in the host's syslog (docs/verifier.md,
 * "Syslog"), for the site's monitoring; the host audit log stays the record.
 * Node has no client for unix datagram sockets, and forking this runtime
 * costs a login milliseconds, so the installed command's launcher
 * (native/clean-start.c) forks a small syslog forwarder beside the verifier:
 * the verifier writes each line into the forwarder's pipe and never waits
 * for it. No pipe (the verifier not started by its launcher), no /dev/log or
 * a stuck syslog daemon cost the line, never the login or its verdict.
 */

/** What logged it: the command whose verdict this is. */
export type SyslogEvent = "check" | "pam" | "ssh-session";

/** `notice` for a login let in, `warning` for a refusal. */
export type SyslogPriority = "notice" | "warning";

/** Facility authpriv (10) times 8, plus the level. */
const PRIORITY: Record<SyslogPriority, number> = { notice: 85, warning: 84 };

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

/**
 * The write end of the forwarder's pipe, which the launcher names in
 * AIRGRANT_SYSLOG_FD; only ever a pipe, so that a number from elsewhere
 * cannot point the line into one of the verifier's own files.
 */
function forwarderPipe(): number | undefined {
  const named = process.env.AIRGRANT_SYSLOG_FD;
  if (named === undefined || !/^[0-9]{1,4}$/.test(named)) return undefined;
  const fd = Number(named);
  try {
    return fstatSync(fd).isFIFO() ? fd : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Hand one line to syslog and return at once: `<PRI>` and the line, written
 * whole into the forwarder's pipe (far below PIPE_BUF, into a pipe nobody
 * else writes), which the forwarder reads and sends to /dev/log.
 */
export function sendToSyslog(priority: SyslogPriority, line: string): void {
  const fd = forwarderPipe();
  if (fd === undefined) return;
  try {
    writeSync(fd, `<${PRIORITY[priority]}>${line}\n`);
  } catch {
    // A login never fails for its syslog line (EPIPE: the forwarder is gone).
  }
}
