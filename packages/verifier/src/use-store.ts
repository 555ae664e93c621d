import { lstatSync, readdirSync, statSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AirgrantError,
  createExclusiveRecord,
  ensurePrivateDirectory,
  fsyncDirectory,
  readExclusiveRecord,
} from "@airgrant/core";

/**
 * The one-time-use store (docs/verifier.md, "One-time use"): a directory
 * holding one record per use of a grant, named `<grant id hex>.<use number>`.
 * Taking use n is creating its record exclusively (createExclusiveRecord),
 * which the kernel grants to exactly one process however many race for it;
 * the directory is fsync'd before the login is allowed, so a crash cannot
 * give a use back.
 */
export interface UseRecord {
  /** When the entry may be pruned: the grant's not-after plus the clock skew, in seconds. */
  expires: number;
  usedAt: number;
}

export type ConsumeResult = { consumed: true; use: number } | { consumed: false };

const ENTRY_PATTERN = /^([0-9a-f]{32})\.([1-9][0-9]{0,2})$/;
const PRUNE_MARKER = ".pruned";
const PRUNE_INTERVAL_SECONDS = 3600;

/** Why a grant with no use left is refused (`grant-replayed`), whichever way it came in. */
export function replayedMessage(grantIdHex: string, maxUses: number): string {
  return `grant ${grantIdHex} was already used ${maxUses === 1 ? "once" : `${maxUses} times`}`;
}

/**
 * Take the next free use of a grant, if it has one left. The use is durable
 * only once the store directory is flushed: with `flush: false` the caller
 * must call flushUseStore before it lets anyone in (checkGrant does, after
 * its audit append, so that one journal commit serves both).
 */
export function consumeGrantUse(
  dir: string,
  grantIdHex: string,
  maxUses: number,
  record: UseRecord,
  options: { flush?: boolean } = {},
): ConsumeResult {
  const content = JSON.stringify(record);
  for (let use = 1; use <= maxUses; use++) {
    if (createRecord(dir, useRecordPath(dir, grantIdHex, use), content)) {
      if (options.flush !== false) flushUseStore(dir);
      return { consumed: true, use };
    }
  }
  return { consumed: false };
}

/** installBundle makes the store; it is made again here only if it went missing since. */
function createRecord(dir: string, path: string, content: string): boolean {
  try {
    return createExclusiveRecord(path, content, { durable: false });
  } catch (err) {
    if (
      (err as AirgrantError).cause === undefined ||
      ((err as AirgrantError).cause as NodeJS.ErrnoException).code !== "ENOENT"
    ) {
      throw err;
    }
    ensurePrivateDirectory(dir);
    return createExclusiveRecord(path, content, { durable: false });
  }
}

/** Make the uses taken so far durable. */
export function flushUseStore(dir: string): void {
  fsyncDirectory(dir);
}

function listEntries(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => ENTRY_PATTERN.test(name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** Whether a grant still has a use to take, without taking it (the OpenSSH principals check). */
export function hasUseLeft(dir: string, grantIdHex: string, maxUses: number): boolean {
  for (let use = 1; use <= maxUses; use++) {
    try {
      lstatSync(useRecordPath(dir, grantIdHex, use));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return true;
      throw err;
    }
  }
  return false;
}

function useRecordPath(dir: string, grantIdHex: string, use: number): string {
  return join(dir, `${grantIdHex}.${use}`);
}

/** How many uses are recorded, over all grants. */
export function countConsumedUses(dir: string): number {
  return listEntries(dir).length;
}

function expiryOf(path: string, fallbackLifetime: number): number {
  try {
    const record = JSON.parse(readExclusiveRecord(path)) as Partial<UseRecord>;
    if (typeof record.expires === "number" && Number.isFinite(record.expires)) return record.expires;
  } catch {
    // Not written by consumeGrantUse (edited by hand, say): kept for the
    // longest lifetime a grant can have, counted from when it appeared.
  }
  return Math.floor(lstatSync(path).mtimeMs / 1000) + fallbackLifetime;
}

/**
 * Remove uses of grants that have expired: such a grant is refused on its
 * dates before the store is consulted. Returns how many entries went.
 */
export function pruneExpiredUses(dir: string, now: number, maxLifetime: number): number {
  let removed = 0;
  for (const name of listEntries(dir)) {
    const path = join(dir, name);
    let expires: number;
    try {
      expires = expiryOf(path, maxLifetime);
    } catch (err) {
      // Another check pruning at the same moment removed it first.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    if (expires >= now) continue;
    try {
      unlinkSync(path);
      removed++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
  if (removed > 0) fsyncDirectory(dir);
  return removed;
}

/** Prune at most once an hour, so that a busy host does not scan its store at every login. */
export function pruneExpiredUsesOccasionally(dir: string, now: number, maxLifetime: number): number {
  const marker = join(dir, PRUNE_MARKER);
  try {
    if (now - statSync(marker).mtimeMs / 1000 < PRUNE_INTERVAL_SECONDS) return 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const removed = pruneExpiredUses(dir, now, maxLifetime);
  try {
    writeFileSync(marker, "", { mode: 0o600 });
    utimesSync(marker, now, now);
  } catch {
    // The marker only saves work; failing to touch it costs a scan next time.
  }
  return removed;
}
