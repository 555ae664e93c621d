import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { toHex } from "./hex.js";
import { sha256 } from "./sha256.js";

const { vectors } = JSON.parse(readFileSync(new URL("../../../test/vectors/sha256.json", import.meta.url), "utf8")) as {
  vectors: { name: string; message: string; repeat: number; sha256: string }[];
};

describe("sha256 against FIPS 180-2 examples", () => {
  it.each(vectors)("$name", (v) => {
    expect(toHex(sha256(new TextEncoder().encode(v.message.repeat(v.repeat))))).toBe(v.sha256);
  });
});
