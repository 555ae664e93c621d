import { AirgrantError, readAuditHeadEntry, writeFileAtomic } from "@airgrant/core";
import { sealKeyEpochStart } from "./host-log.js";
import type { HostState } from "./state-paths.js";
import { lstatIfPresent, readStateFile } from "./state-permissions.js";
import { readPruneWatermark } from "./use-store.js";

/**
 * The host's time floor (docs/requests.md, "Time floor"): the latest time
 * its state shows has passed. Each part only moves forward: the host log's
 * last entry, the sealing key's epoch (the key never moves back), the prune
 * watermark, and `time-floor`, which holds the floor whenever a check finds
 * the clock behind it, before that check's entry, dated by the clock, can
 * bring the log's last time down.
 */
export interface TimeFloor {
  /** Seconds since the epoch. */
  time: number;
  /** What set it, for messages. */
  what: string;
}

const FLOOR_FORMAT = "airgrant-time-floor-v1";

function heldFloor(state: HostState): number | undefined {
  if (lstatIfPresent(state.timeFloorPath) === undefined) return undefined;
  let floor: unknown;
  try {
    const o = JSON.parse(readStateFile(state.timeFloorPath).toString("utf8")) as Record<string, unknown>;
    floor = o.format === FLOOR_FORMAT ? o.floor : undefined;
  } catch {
    floor = undefined;
  }
  if (!Number.isSafeInteger(floor) || (floor as number) < 0) {
    throw new AirgrantError("state-corrupt", `${state.timeFloorPath} is damaged; the host's time floor cannot be told`);
  }
  return floor as number;
}

/**
 * The host log's last entry: a log that cannot be read cannot be written
 * either, and every check is refused (`audit-unwritable`), or it is damaged
 * (`audit-log-corrupt`).
 */
function lastHostEntry(state: HostState): ReturnType<typeof readAuditHeadEntry> {
  try {
    return readAuditHeadEntry(state.auditLogPath);
  } catch (err) {
    if (err instanceof AirgrantError && err.code === "audit-log-corrupt") throw err;
    const errno = (err as NodeJS.ErrnoException).code ?? ((err as AirgrantError).cause as NodeJS.ErrnoException)?.code;
    throw new AirgrantError("audit-unwritable", `cannot read the host log ${state.auditLogPath}: ${errno}`, {
      cause: err,
    });
  }
}

/** The floor and what set it; undefined for a state that has seen no time yet. */
export function readTimeFloor(state: HostState): TimeFloor | undefined {
  const floors: TimeFloor[] = [];
  const head = lastHostEntry(state);
  if (head !== undefined) {
    floors.push({ time: Math.floor(Date.parse(head.time) / 1000), what: `the host log's entry ${head.seq}` });
  }
  const seal = sealKeyEpochStart(state);
  if (seal !== undefined) floors.push({ time: seal, what: "the sealing key's epoch" });
  const watermark = lstatIfPresent(state.usedDir) === undefined ? 0 : readPruneWatermark(state.usedDir);
  if (watermark > 0) floors.push({ time: watermark + 1, what: "the one-time store's prune watermark" });
  const held = heldFloor(state);
  if (held !== undefined) floors.push({ time: held, what: "the time floor held in time-floor" });
  return floors.reduce<TimeFloor | undefined>((a, b) => (a === undefined || b.time > a.time ? b : a), undefined);
}

/** Keep `floor` in `time-floor` when it is above what the file holds. */
function holdTimeFloor(state: HostState, floor: number): void {
  const held = heldFloor(state);
  if (held !== undefined && held >= floor) return;
  writeFileAtomic(state.timeFloorPath, `${JSON.stringify({ format: FLOOR_FORMAT, floor })}\n`);
}

/**
 * The time a check judges by: the clock, or the floor when the clock is
 * behind it, which it holds first; `behind` is by how many seconds, and
 * `clock` dates the check's entry at that time, so a clock set back does
 * not date the log backwards.
 */
export function judgingTime(state: HostState, clock: () => Date): { now: number; behind: number; clock: () => Date } {
  const clockNow = Math.floor(clock().getTime() / 1000);
  const floor = readTimeFloor(state);
  if (floor === undefined || clockNow >= floor.time) return { now: clockNow, behind: 0, clock };
  holdTimeFloor(state, floor.time);
  const now = floor.time;
  return { now, behind: now - clockNow, clock: () => new Date(now * 1000) };
}
