import { randomBytes } from "node:crypto";
import {
  AirgrantError,
  type AuditEntry,
  type AuditValue,
  appendAuditEntry,
  DEFAULT_SEAL_EPOCH_SECONDS,
  evolveSealKey,
  fromHex,
  type SealReceipt,
  sealEpochAt,
  sealMember,
  toHex,
  withFileLock,
  writeFileAtomic,
} from "@airgrant/core";
import type { HostState } from "./state-paths.js";
import { checkStatePermissions, readStateFile } from "./state-permissions.js";

/**
 * The host's audit log, sealed (docs/audit-log.md, "Sealing"): every entry
 * the verifier writes goes through appendHostEntry, which seals it with the
 * current epoch's key from `seal.key` and moves that key forward, erasing
 * the old one, when an epoch has passed.
 */

const SEAL_STATE_FORMAT = "airgrant-seal-key-v1";

interface SealState {
  start: number;
  epochSeconds: number;
  epoch: number;
  key: Uint8Array;
}

function writeSealState(state: HostState, seal: SealState): void {
  const text = JSON.stringify({
    format: SEAL_STATE_FORMAT,
    start: seal.start,
    epochSeconds: seal.epochSeconds,
    epoch: seal.epoch,
    key: toHex(seal.key),
  });
  writeFileAtomic(state.sealKeyPath, `${text}\n`);
}

function readSealState(state: HostState): SealState | undefined {
  let text: string;
  try {
    text = readStateFile(state.sealKeyPath).toString("utf8");
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === "ENOENT") return undefined;
    throw new AirgrantError("state-unreadable", `cannot read ${state.sealKeyPath}: ${errno}`);
  }
  const corrupt = () =>
    new AirgrantError("state-corrupt", `${state.sealKeyPath} is damaged; the log can no longer be sealed`);
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw corrupt();
  }
  const { format, start, epochSeconds, epoch, key } = o;
  if (
    format !== SEAL_STATE_FORMAT ||
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(epochSeconds) ||
    (epochSeconds as number) < 1 ||
    !Number.isSafeInteger(epoch) ||
    typeof key !== "string"
  ) {
    throw corrupt();
  }
  return {
    start: start as number,
    epochSeconds: epochSeconds as number,
    epoch: epoch as number,
    key: fromHex(key, 32, "state-corrupt", "seal key"),
  };
}

function currentEpoch(seal: SealState, clock: () => Date): number {
  const now = Math.floor(clock().getTime() / 1000);
  return Math.max(seal.epoch, sealEpochAt(seal.start, seal.epochSeconds, now));
}

/**
 * The key moved forward to `epoch` (never back, whatever the clock says),
 * the old one gone from disk when this returns. Called under the log's lock.
 */
function moveSealKeyForward(state: HostState, seal: SealState, epoch: number): SealState {
  if (epoch <= seal.epoch) return seal;
  let key = seal.key;
  for (let e = seal.epoch; e < epoch; e++) key = evolveSealKey(key);
  const moved = { ...seal, epoch, key };
  writeSealState(state, moved);
  return moved;
}

/**
 * The seal for an entry, called under the log's lock: the key moves forward
 * to the current epoch first, and the old key is gone from disk before the
 * entry is written.
 */
function sealer(state: HostState, clock: () => Date): (unsealed: AuditEntry) => Record<string, AuditValue> {
  return (unsealed) => {
    const seal = readSealState(state);
    if (seal === undefined) return {};
    const moved = moveSealKeyForward(state, seal, currentEpoch(seal, clock));
    return sealMember(moved.key, moved.epoch, unsealed);
  };
}

/**
 * Move the sealing key forward to the current epoch although nothing is
 * logged, erasing the older keys (docs/audit-log.md, "Sealing"): run at every
 * verifier start and from the packaged timer, so that a host idle for days
 * does not keep a key that could re-seal days of entries. Returns the epoch
 * the key is at, or undefined when the log is not sealed. Takes the log's
 * lock only when the key must move.
 */
export function advanceSealKey(state: HostState, clock: () => Date): number | undefined {
  checkStatePermissions(state);
  const seal = readSealState(state);
  if (seal === undefined) return undefined;
  if (currentEpoch(seal, clock) === seal.epoch) return seal.epoch;
  return withFileLock(`${state.auditLogPath}.lock`, () => {
    const latest = readSealState(state);
    return latest === undefined ? undefined : moveSealKeyForward(state, latest, currentEpoch(latest, clock)).epoch;
  });
}

/**
 * The earliest time (seconds) the sealing key on disk can have been made at:
 * the start of its epoch; undefined when the log is not sealed. The key
 * never moves back, so a clock earlier than this has been set back.
 */
export function sealKeyEpochStart(state: HostState): number | undefined {
  const seal = readSealState(state);
  return seal === undefined ? undefined : seal.start + seal.epoch * seal.epochSeconds;
}

/** Append an entry to the host log, sealed when sealing has started. */
export function appendHostEntry(
  state: HostState,
  type: string,
  data: Record<string, AuditValue>,
  clock: () => Date,
): AuditEntry {
  return appendAuditEntry(state.auditLogPath, type, data, { clock, seal: sealer(state, clock) });
}

/**
 * Start sealing with a fresh first key, unless it has started already.
 * Returns what the receipt needs, or undefined when sealing was running.
 */
export function startSealing(
  state: HostState,
  clock: () => Date,
  epochSeconds = DEFAULT_SEAL_EPOCH_SECONDS,
): Pick<SealReceipt, "start" | "epochSeconds" | "key"> | undefined {
  if (readSealState(state) !== undefined) return undefined;
  const key = new Uint8Array(randomBytes(32));
  const start = Math.floor(clock().getTime() / 1000);
  writeSealState(state, { start, epochSeconds, epoch: 0, key });
  return { start, epochSeconds, key };
}
