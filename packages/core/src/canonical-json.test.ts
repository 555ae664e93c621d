import { spawnSync } from "node:child_process";
import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeAuditLine, GENESIS_PREV } from "./audit-entry.js";
import {
  CanonicalJsonError,
  canonicalJson,
  encodeCanonicalJson,
  type JsonValue,
  MAX_JSON_DEPTH,
  parseCanonicalJson,
} from "./canonical-json.js";
import { sha256Hex } from "./sha256.js";

// docs/canonical-json.md: one profile for the trust bundle and the audit log.
const key = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
const value: fc.Arbitrary<JsonValue> = fc.letrec<{ v: JsonValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.string({ unit: "grapheme" }),
    fc.string({ unit: "binary" }).filter((s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(key, tie("v"), { maxKeys: 4 }),
  ),
})).v;

const bundleCheck = (text: string) => codeOf(() => parseCanonicalJson(text, "malformed-bundle", "trust bundle"));
/** The audit log's check of `text` as an entry's data: the line's verdict. */
function auditCheck(text: string): string {
  const body = `{"seq":1,"time":"2026-01-01T00:00:00.000Z","type":"t","data":${text},"prev":"${GENESIS_PREV}"`;
  const decoded = decodeAuditLine(Buffer.from(`${body},"hash":"${sha256Hex(Buffer.from(`${body}}`))}"}`));
  return decoded.ok ? "ok" : decoded.code;
}

function nested(levels: number): JsonValue {
  let v: JsonValue = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

describe("canonical JSON", () => {
  it("decodes what it encodes, and both formats accept exactly those bytes", () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 5 }), (v) => {
        const text = canonicalJson(v, "value");
        expect(parseCanonicalJson(text, "malformed-bundle", "value")).toEqual(v);
        expect(auditCheck(text)).toBe("ok");
      }),
    );
  });

  it("refuses, in a bundle and in an audit entry alike, every other encoding of a value", () => {
    const other = [
      '{"a":1,"b":2}'.replace(",", ", "),
      '{"b":1,"a":2}',
      '{"a":1,"a":1}',
      '{"a":1.0}',
      '{"a":1e2}',
      '{"a":-0}',
      '{"a":"\\u0041"}',
      '{"a":"\\/"}',
      '{"a":"\\u001F"}',
      '{"a":"\\ud800"}',
      '{"a b":1}',
      '{"é":1}',
      `{"${"k".repeat(65)}":1}`,
    ];
    for (const text of other) {
      expect([text, bundleCheck(text)]).toEqual([text, "malformed-bundle"]);
      expect([text, auditCheck(text)]).toEqual([text, "non-canonical-entry"]);
    }
  });

  it("holds at most 16 levels of arrays and objects, the outermost counting", () => {
    const deepest = encodeCanonicalJson(nested(MAX_JSON_DEPTH));
    expect(parseCanonicalJson(deepest, "malformed-bundle", "value")).toEqual(nested(MAX_JSON_DEPTH));
    expect(auditCheck(deepest)).toBe("ok");
    const deeper = `{"a":${deepest}}`;
    expect(bundleCheck(deeper)).toBe("malformed-bundle");
    expect(auditCheck(deeper)).toBe("non-canonical-entry");
    expect(codeOf(() => encodeCanonicalJson(nested(MAX_JSON_DEPTH + 1)))).toBe("invalid-json");
  });

  it("has no encoding for a float, an unsafe integer, -0, a lone surrogate or a key outside its alphabet", () => {
    for (const v of [0.5, 2 ** 53, -0, "\ud800", { "a b": 1 }, [undefined as unknown as JsonValue]]) {
      expect(codeOf(() => encodeCanonicalJson(v))).toBe("invalid-json");
      expect(() => canonicalJson(v, "data")).toThrow(CanonicalJsonError);
    }
  });

  it("writes what Python's json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=False) writes", () => {
    const values = fc.sample(fc.dictionary(key, value, { maxKeys: 5 }), { numRuns: 300, seed: 7 });
    const lines = values.map((v) => JSON.stringify(v)).join("\n");
    const python = [
      "import json, sys",
      "for line in sys.stdin.read().split('\\n'):",
      "    v = json.loads(line)",
      "    sys.stdout.buffer.write(json.dumps(v, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode() + b'\\n')",
    ].join("\n");
    const r = spawnSync("python3", ["-c", python], { input: lines, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split("\n").slice(0, -1)).toEqual(values.map((v) => canonicalJson(v, "value")));
  });
});
