import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "./durable-file.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "airgrant-durable-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("replaces a file whole, flushed or not, owner-only unless told, and leaves no temporary file", () => {
    const path = join(dir, "record.json");
    writeFileSync(path, "old");
    writeFileAtomic(path, "new, flushed\n");
    expect(readFileSync(path, "utf8")).toBe("new, flushed\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileAtomic(path, "new again, not flushed\n", { durable: false });
    expect(readFileSync(path, "utf8")).toBe("new again, not flushed\n");
    writeFileAtomic(path, "readable by others\n", { mode: 0o644 });
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(readdirSync(dir)).toEqual(["record.json"]);
  });

  it("refuses a directory that cannot take the file, leaving nothing behind", () => {
    const path = join(dir, "missing", "record.json");
    expect(() => writeFileAtomic(path, "x", { durable: false })).toThrowError(
      expect.objectContaining({ code: "state-unwritable" }),
    );
    expect(readdirSync(dir)).toEqual([]);
  });
});
