import { lstatSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { consumeGrantUse, countConsumedUses, pruneExpiredUses, pruneExpiredUsesOccasionally } from "./use-store.js";

const ID_A = "a".repeat(32);
const ID_B = "b".repeat(32);
let dir: string;
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "airgrant-uses-")), "used");
});
afterEach(() => rmSync(join(dir, ".."), { recursive: true, force: true }));

describe("one-time-use store", () => {
  it("gives out exactly maxUses uses of a grant, numbered, and creates its directory owner-only", () => {
    const record = { expires: 2000, usedAt: 1000 };
    expect(consumeGrantUse(dir, ID_A, 2, record)).toEqual({ consumed: true, use: 1 });
    expect(consumeGrantUse(dir, ID_A, 2, record)).toEqual({ consumed: true, use: 2 });
    expect(consumeGrantUse(dir, ID_A, 2, record)).toEqual({ consumed: false });
    expect(consumeGrantUse(dir, ID_B, 1, record)).toEqual({ consumed: true, use: 1 });
    expect(countConsumedUses(dir)).toBe(3);
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(dir, `${ID_A}.1`)).isSymbolicLink()).toBe(true);
  });

  it("prunes only uses whose grant has expired, keeping what it cannot read for the longest lifetime", () => {
    consumeGrantUse(dir, ID_A, 1, { expires: 1000, usedAt: 900 });
    consumeGrantUse(dir, ID_B, 1, { expires: 2 ** 32, usedAt: 900 });
    symlinkSync("not json", join(dir, `${"c".repeat(32)}.1`));
    const appeared = Math.floor(lstatSync(join(dir, `${"c".repeat(32)}.1`)).mtimeMs / 1000);
    expect(pruneExpiredUses(dir, 1000, 600)).toBe(0);
    expect(pruneExpiredUses(dir, 1001, 600)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([`${ID_B}.1`, `${"c".repeat(32)}.1`]);
    expect(pruneExpiredUses(dir, appeared + 601, 600)).toBe(1);
    expect(readdirSync(dir)).toEqual([`${ID_B}.1`]);
  });

  it("prunes at most once an hour", () => {
    consumeGrantUse(dir, ID_A, 1, { expires: 1000, usedAt: 900 });
    expect(pruneExpiredUsesOccasionally(dir, 5000, 600)).toBe(1);
    consumeGrantUse(dir, ID_B, 1, { expires: 1000, usedAt: 900 });
    expect(pruneExpiredUsesOccasionally(dir, 5000 + 3599, 600)).toBe(0);
    expect(pruneExpiredUsesOccasionally(dir, 5000 + 3600, 600)).toBe(1);
    expect(countConsumedUses(dir)).toBe(0);
  });

  it("counts nothing in a store that does not exist yet", () => {
    expect(countConsumedUses(join(dir, "nowhere"))).toBe(0);
  });
});
