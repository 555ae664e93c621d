import { lstatSync, readdirSync, unlinkSync } from "node:fs";
import {
  AirgrantError,
  createExclusiveRecord,
  fsyncDirectory,
  MAX_CLOCK_SKEW,
  readExclusiveRecord,
  writeFileAtomic,
} from "@airgrant/core";
import { inDir } from "./state-paths.js";
import { readStateFile } from "./state-permissions.js";

/**
 * The one-time-use store (docs/verifier.md, "One-time use"): a directory
 * holding one record per use of a grant, named `<grant id hex>.<use number>`.
 * Taking use n is creating its record exclusively (createExclusiveRecord),
 * which the kernel grants to exactly one process however many race for it;
 * the directory is fsync'd before the login is allowed, so a crash cannot
 * give a use back.
 */
export interface UseRecord {
  /** The grant's not-after plus the clock skew in force, in seconds. */
  expires: number;
  usedAt: number;
  /**
   * The grant's not-after, in seconds. A record is kept, and the grant
   * refused once pruned, by `notAfter + MAX_CLOCK_SKEW`: the last moment any
   * bundle could accept it. Without it `expires` stands in for it, which
   * keeps the record as long but lets the watermark refuse fewer grants.
   */
  notAfter?: number;
}

/** `pruned`: the grant's window ends at or below the store's prune watermark, so its records may be gone. */
export type ConsumeResult = { consumed: true; use: number } | { consumed: false; pruned?: true };

const ENTRY_PATTERN = /^([0-9a-f]{32})\.([1-9][0-9]{0,2})$/;
const WATERMARK = ".watermark";
const WATERMARK_FORMAT = "airgrant-prune-watermark-v1";
const PRUNE_INTERVAL_SECONDS = 3600;

/** Why a grant with no use left is refused (`grant-replayed`), whichever way it came in. */
export function replayedMessage(grantIdHex: string, maxUses: number): string {
  return `grant ${grantIdHex} was already used ${maxUses === 1 ? "once" : `${maxUses} times`}`;
}

/**
 * The last second at which a grant could be accepted under any bundle this
 * host may install: a bundle may set a clock skew of up to MAX_CLOCK_SKEW,
 * whatever the one in force when the use was taken.
 */
function windowEndOf(record: { notAfter?: number; expires: number }): number {
  return (record.notAfter ?? record.expires) + MAX_CLOCK_SKEW;
}

/**
 * Take the next free use of a grant, if it has one left. The use is durable
 * only once the store directory is flushed: with `flush: false` the caller
 * must call flushUseStore before it lets anyone in (checkGrant does, after
 * its audit append, so that one journal commit serves both). A grant whose
 * window ends at or below the prune watermark is refused (`pruned`): its
 * records may have been pruned, so the store can no longer count its uses
 * (a clock set back past its window).
 */
export function consumeGrantUse(
  dir: string,
  grantIdHex: string,
  maxUses: number,
  record: UseRecord,
  options: { flush?: boolean } = {},
): ConsumeResult {
  if (windowEndOf(record) <= readPruneWatermark(dir)) return { consumed: false, pruned: true };
  const content = JSON.stringify(record);
  for (let use = 1; use <= maxUses; use++) {
    if (createRecord(dir, useRecordPath(dir, grantIdHex, use), content)) {
      if (options.flush !== false) flushUseStore(dir);
      return { consumed: true, use };
    }
  }
  return { consumed: false };
}

function missingStore(dir: string, cause?: unknown): AirgrantError {
  return new AirgrantError(
    "state-corrupt",
    `the one-time-use store ${dir} is missing, and with it the record of every grant used: restore it, or recreate it (mkdir -m 700) knowing that any unexpired grant can then be used again`,
    { cause },
  );
}

/** Throws `state-corrupt` when the store is missing: a bundle is installed, so uses were recorded there. */
export function requireUseStore(dir: string): void {
  try {
    lstatSync(dir);
  } catch (err) {
    throw missingStore(dir, err);
  }
}

/** installBundle makes the store; a store gone since is never made again here, which would forget every use. */
function createRecord(dir: string, path: string, content: string): boolean {
  try {
    return createExclusiveRecord(path, content, { durable: false });
  } catch (err) {
    if (((err as AirgrantError).cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
      throw missingStore(dir, err);
    }
    throw err;
  }
}

/**
 * Every use record whose grant's window (windowEndOf) ends at or below the
 * watermark has been pruned; 0 before the first prune. Throws `state-corrupt`
 * when the store itself is missing.
 */
export function readPruneWatermark(dir: string): number {
  const path = inDir(dir, WATERMARK);
  let text: string;
  try {
    text = readStateFile(path).toString("utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new AirgrantError("state-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`, {
        cause: err,
      });
    }
    requireUseStore(dir);
    return 0;
  }
  let through: unknown;
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    through = o.format === WATERMARK_FORMAT ? o.prunedThrough : undefined;
  } catch {
    through = undefined;
  }
  if (!Number.isSafeInteger(through) || (through as number) < 0) {
    throw new AirgrantError("state-corrupt", `${path} is damaged; the uses of pruned grants can no longer be told`);
  }
  return through as number;
}

function writePruneWatermark(dir: string, through: number): void {
  writeFileAtomic(inDir(dir, WATERMARK), `${JSON.stringify({ format: WATERMARK_FORMAT, prunedThrough: through })}\n`);
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

function useRecordPath(dir: string, grantIdHex: string, use: number): string {
  return inDir(dir, `${grantIdHex}.${use}`);
}

/** How many uses are recorded, over all grants. */
export function countConsumedUses(dir: string): number {
  return listEntries(dir).length;
}

function windowEndOfRecord(path: string, fallbackLifetime: number): number {
  try {
    const record = JSON.parse(readExclusiveRecord(path)) as Partial<UseRecord>;
    const { expires, notAfter } = record;
    if (typeof expires === "number" && Number.isSafeInteger(expires)) {
      if (notAfter === undefined) return windowEndOf({ expires });
      if (typeof notAfter === "number" && Number.isSafeInteger(notAfter)) return windowEndOf({ expires, notAfter });
    }
  } catch {
    // Not written by consumeGrantUse (edited by hand, say): handled below.
  }
  // Kept for the longest lifetime a grant can have, counted from when the
  // record appeared, and the largest skew.
  return Math.floor(lstatSync(path).mtimeMs / 1000) + fallbackLifetime + MAX_CLOCK_SKEW;
}

/**
 * Remove the uses of grants no bundle could accept any more at `now`
 * (windowEndOf before it): such a grant is refused on its dates before the
 * store is consulted. The watermark moves up first, durably, so that a
 * crash while pruning, or a clock set back afterwards, never leaves a
 * pruned grant acceptable. Returns how many entries went.
 */
export function pruneExpiredUses(dir: string, now: number, maxLifetime: number): number {
  const through = now - 1;
  if (through > readPruneWatermark(dir)) writePruneWatermark(dir, through);
  let removed = 0;
  for (const name of listEntries(dir)) {
    const path = inDir(dir, name);
    let end: number;
    try {
      end = windowEndOfRecord(path, maxLifetime);
    } catch (err) {
      // Another check pruning at the same moment removed it first.
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    if (end > through) continue;
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

/**
 * Prune at most once an hour, so that a busy host does not scan its store
 * at every login: the watermark is the last prune's time (less a second).
 */
export function pruneExpiredUsesOccasionally(dir: string, now: number, maxLifetime: number): number {
  const watermark = readPruneWatermark(dir);
  if (watermark > 0 && now - (watermark + 1) < PRUNE_INTERVAL_SECONDS) return 0;
  return pruneExpiredUses(dir, now, maxLifetime);
}
