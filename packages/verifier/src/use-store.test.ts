import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AirgrantError, MAX_CLOCK_SKEW } from "@airgrant/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  consumeGrantUse,
  countConsumedUses,
  pruneExpiredUses,
  pruneExpiredUsesOccasionally,
  readPruneWatermark,
} from "./use-store.js";

const ID_A = "a".repeat(32);
const ID_B = "b".repeat(32);
let dir: string;
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "airgrant-uses-")), "used");
  mkdirSync(dir, { mode: 0o700 });
});
afterEach(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof AirgrantError ? err.code : String(err);
  }
  return undefined;
}

describe("one-time-use store", () => {
  it("gives out exactly maxUses uses of a grant, numbered, as symbolic links", () => {
    const record = { expires: 2000, usedAt: 1000 };
    expect(consumeGrantUse(dir, ID_A, 2, record)).toEqual({ consumed: true, use: 1 });
    expect(consumeGrantUse(dir, ID_A, 2, record)).toEqual({ consumed: true, use: 2 });
    expect(consumeGrantUse(dir, ID_A, 2, record)).toEqual({ consumed: false });
    expect(consumeGrantUse(dir, ID_B, 1, record)).toEqual({ consumed: true, use: 1 });
    expect(countConsumedUses(dir)).toBe(3);
    expect(lstatSync(join(dir, `${ID_A}.1`)).isSymbolicLink()).toBe(true);
  });

  it("never makes a missing store again: the uses it held would be forgotten", () => {
    expect(consumeGrantUse(dir, ID_A, 1, { expires: 2000, usedAt: 1000 }).consumed).toBe(true);
    // The attack of a user who can write the state directory: move the store aside, present the grant again.
    renameSync(dir, `${dir}.old`);
    expect(codeOf(() => consumeGrantUse(dir, ID_A, 1, { expires: 2000, usedAt: 1000 }))).toBe("state-corrupt");
    expect(() => lstatSync(dir)).toThrow();
  });

  it("keeps a record until no bundle could accept its grant: not-after plus the largest skew", () => {
    consumeGrantUse(dir, ID_A, 1, { expires: 1000, usedAt: 900, notAfter: 1000 });
    consumeGrantUse(dir, ID_B, 1, { expires: 2 ** 32, usedAt: 900, notAfter: 2 ** 32 });
    symlinkSync("not json", join(dir, `${"c".repeat(32)}.1`));
    const appeared = Math.floor(lstatSync(join(dir, `${"c".repeat(32)}.1`)).mtimeMs / 1000);
    expect(pruneExpiredUses(dir, 1000 + MAX_CLOCK_SKEW, 600)).toBe(0);
    expect(pruneExpiredUses(dir, 1001 + MAX_CLOCK_SKEW, 600)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([".watermark", `${ID_B}.1`, `${"c".repeat(32)}.1`]);
    expect(pruneExpiredUses(dir, appeared + 601 + MAX_CLOCK_SKEW, 600)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([".watermark", `${ID_B}.1`]);
  });

  it("a use taken under skew 0 is not pruned before a bundle with the largest skew would refuse the grant", () => {
    // The attack: used under skew 0 (expires = not-after), a bundle with skew 3600 installed, an hour on the prune runs.
    const notAfter = 10_000;
    expect(consumeGrantUse(dir, ID_A, 1, { expires: notAfter, usedAt: 9_000 }).consumed).toBe(true);
    const anHourLater = notAfter + MAX_CLOCK_SKEW - 1; // Under skew 3600 the grant is accepted until here.
    expect(pruneExpiredUsesOccasionally(dir, anHourLater, 600)).toBe(0);
    expect(consumeGrantUse(dir, ID_A, 1, { expires: notAfter + MAX_CLOCK_SKEW, usedAt: anHourLater })).toEqual({
      consumed: false,
    });
  });

  it("refuses a grant whose window ends at or below the prune watermark, also with its records gone", () => {
    consumeGrantUse(dir, ID_A, 1, { expires: 1000, usedAt: 900, notAfter: 1000 });
    const pruneAt = 1000 + MAX_CLOCK_SKEW + 1;
    expect(pruneExpiredUses(dir, pruneAt, 600)).toBe(1);
    expect(readPruneWatermark(dir)).toBe(pruneAt - 1);
    expect(JSON.parse(readFileSync(join(dir, ".watermark"), "utf8"))).toEqual({
      format: "airgrant-prune-watermark-v1",
      prunedThrough: pruneAt - 1,
    });
    // The clock set back into the grant's window: its record is gone, the watermark still refuses it.
    expect(consumeGrantUse(dir, ID_A, 1, { expires: 1000, usedAt: 950, notAfter: 1000 })).toEqual({
      consumed: false,
      pruned: true,
    });
    // A grant whose window ends one second later is still counted by its records.
    expect(consumeGrantUse(dir, ID_B, 1, { expires: 1001, usedAt: 950, notAfter: 1001 })).toEqual({
      consumed: true,
      use: 1,
    });
    // The watermark never goes back, whatever the clock says.
    expect(pruneExpiredUses(dir, 500, 600)).toBe(0);
    expect(readPruneWatermark(dir)).toBe(pruneAt - 1);
  });

  it("prunes at most once an hour", () => {
    consumeGrantUse(dir, ID_A, 1, { expires: 1000, usedAt: 900 });
    consumeGrantUse(dir, ID_B, 1, { expires: 4000, usedAt: 900 });
    expect(pruneExpiredUsesOccasionally(dir, 5000, 600)).toBe(1);
    expect(pruneExpiredUsesOccasionally(dir, 5000 + 3599, 600)).toBe(0);
    expect(pruneExpiredUsesOccasionally(dir, 5000 + 3600, 600)).toBe(1);
    expect(countConsumedUses(dir)).toBe(0);
  });

  it("refuses a damaged watermark or one replaced by a symbolic link", () => {
    symlinkSync("/etc/hostname", join(dir, ".watermark"));
    expect(codeOf(() => consumeGrantUse(dir, ID_A, 1, { expires: 2000, usedAt: 1000 }))).toBe("state-unreadable");
    rmSync(join(dir, ".watermark"));
    writeFileSync(join(dir, ".watermark"), '{"format":"airgrant-prune-watermark-v1","prunedThrough":"soon"}\n');
    expect(codeOf(() => consumeGrantUse(dir, ID_A, 1, { expires: 2000, usedAt: 1000 }))).toBe("state-corrupt");
  });

  it("counts nothing in a store that does not exist yet", () => {
    expect(countConsumedUses(join(dir, "nowhere"))).toBe(0);
  });
});
