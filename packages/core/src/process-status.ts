import { readFileSync } from "node:fs";

/**
 * What /proc says of a process (proc(5)), read where the kernel keeps it:
 * file locks tell a live holder from a dead one by it, and the verifier finds
 * a login's processes by it. Undefined when the process is gone (or this is
 * not Linux).
 */

/** A file under /proc as text, or undefined when it cannot be read. */
export function readProcText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

export interface ProcessStat {
  /** One letter (field 3): R, S, D, Z (a zombie, dead and not yet reaped), T, … */
  state: string;
  /** The parent's pid (field 4). */
  ppid: number;
  /** The controlling terminal's device number (field 7), 0 for none. */
  ttyNr: number;
  /**
   * The start time in clock ticks since boot (field 22), decimal: it tells a
   * process apart from a later one given the same pid.
   */
  startTime: string;
}

/**
 * /proc/PID/stat's fields. The count starts after the command name, which is
 * in parentheses and may itself hold spaces and parentheses.
 */
export function readProcessStat(pid: number | "self"): ProcessStat | undefined {
  const stat = readProcText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const [state, ppid, ttyNr, startTime] = [fields[0], fields[1], fields[4], fields[19]];
  if (state === undefined || ppid === undefined || ttyNr === undefined || startTime === undefined) return undefined;
  if (!/^\d+$/.test(ppid) || !/^-?\d+$/.test(ttyNr) || !/^\d+$/.test(startTime)) return undefined;
  return { state, ppid: Number(ppid), ttyNr: Number(ttyNr), startTime };
}

/** This boot's id (/proc/sys/kernel/random/boot_id), or undefined. */
export function readBootId(): string | undefined {
  const bootId = readProcText("/proc/sys/kernel/random/boot_id")?.trim();
  return bootId !== undefined && /^[0-9a-f-]{36}$/.test(bootId) ? bootId : undefined;
}
