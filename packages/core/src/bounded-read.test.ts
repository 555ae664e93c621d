import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readBounded } from "./bounded-read.js";

const dir = mkdtempSync(join(tmpdir(), "airgrant-read-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readFrom(content: string | Uint8Array, limit: number, stopAt?: number) {
  const path = join(dir, "input");
  writeFileSync(path, content);
  const fd = openSync(path, "r");
  try {
    return readBounded(fd, limit, stopAt);
  } finally {
    closeSync(fd);
  }
}

describe("readBounded", () => {
  it("reads to the end of input within the limit", () => {
    const r = readFrom("AG1-ABC\n", 64);
    expect(Buffer.from(r.bytes).toString()).toBe("AG1-ABC\n");
    expect(r).toMatchObject({ oversized: false, terminated: false });
  });

  it("stops at the stop byte and never returns what follows", () => {
    const r = readFrom("token\u0000junk that must not be read", 64, 0);
    expect(Buffer.from(r.bytes).toString()).toBe("token");
    expect(r.terminated).toBe(true);
    expect(Buffer.from(readFrom("line one\nline two", 64, 0x0a).bytes).toString()).toBe("line one");
  });

  it("reads at most limit + 1 bytes of a flood and says it was cut", () => {
    const r = readFrom(new Uint8Array(10 * 1024 * 1024).fill(0x41), 1024);
    expect(r.bytes.length).toBe(1024);
    expect(r.buffer.length).toBe(1025);
    expect(r).toMatchObject({ oversized: true, terminated: false });
    expect(readFrom("x".repeat(1024), 1024).oversized).toBe(false);
  });
});
