import { spawnSync } from "node:child_process";
import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AuditEntry, decodeAuditLine, encodeAuditEntry, GENESIS_PREV, HASH_SUFFIX_BYTES } from "./audit-entry.js";
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
const key = fc.oneof(
  fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/),
  fc.constantFrom("__proto__", "constructor", "1", "10", "-"),
);
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

/** Texts near those `texts` gives: one to `edits` characters put in, taken out or changed for one of `pieces`. */
function near(texts: fc.Arbitrary<string>, pieces: fc.Arbitrary<string>, edits: number): fc.Arbitrary<string> {
  const edit = fc.tuple(fc.constantFrom("insert", "delete", "replace"), fc.nat(), pieces);
  return fc.tuple(texts, fc.array(edit, { minLength: 1, maxLength: edits })).map(([text, list]) => {
    let out = text;
    for (const [kind, at, piece] of list) {
      const i = out.length === 0 ? 0 : at % (out.length + (kind === "insert" ? 1 : 0));
      if (kind === "insert") out = out.slice(0, i) + piece + out.slice(i);
      else if (kind === "delete") out = out.slice(0, i) + out.slice(i + 1);
      else out = out.slice(0, i) + piece + out.slice(i + 1);
    }
    return out;
  });
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

  // The reader is held to the profile's definition (docs/canonical-json.md,
  // "Checking"): a text is canonical when JSON.parse takes it and encoding
  // what it gives writes the same text.
  const definition = (text: string): { value: JsonValue } | undefined => {
    try {
      const value = JSON.parse(text) as JsonValue;
      return canonicalJson(value, "value") === text ? { value } : undefined;
    } catch {
      return undefined;
    }
  };
  const read = (text: string): { value: JsonValue } | undefined => {
    try {
      return { value: parseCanonicalJson(text, "malformed-bundle", "value") };
    } catch {
      return undefined;
    }
  };
  /** A text near a canonical one: characters put in, taken out or changed, from those JSON gives a meaning to and some it does not. */
  const nearby = near(
    value.map((v) => canonicalJson(v, "value")),
    fc.oneof(
      fc.constantFrom(
        ...'{}[],:"\\/ 0123456789-+.eEtrufalsn',
        "\\u0041",
        "\\u001f",
        "\\u001F",
        "\\ud800",
        "\u2028",
        "\u007f",
        "\ud800",
        "\udc00",
        "\u00e9",
        "\t",
        "\n",
      ),
      fc.string({ unit: "binary", maxLength: 2 }),
      fc.integer({ min: 0, max: 0x7f }).map((n) => `\\u${n.toString(16).padStart(4, "0")}`),
      fc.integer({ min: 0, max: 0x1f }).map((n) => String.fromCharCode(n)),
    ),
    3,
  );

  it("reads every canonical text whole, to the value JSON.parse gives, in one pass", () => {
    fc.assert(
      fc.property(value, (v) => {
        const text = canonicalJson(v, "value");
        expect(read(text)).toEqual({ value: JSON.parse(text) });
      }),
      { numRuns: 2000 },
    );
  });

  it("refuses exactly the texts that are not the canonical encoding of what they hold", () => {
    fc.assert(
      fc.property(nearby, (text) => {
        expect([text, read(text)]).toEqual([text, definition(text)]);
      }),
      { numRuns: 20_000 },
    );
  });

  it("makes a member named __proto__ an own member, as JSON.parse does, not the object's prototype", () => {
    const text = '{"__proto__":{"polluted":1},"a":1}';
    const v = parseCanonicalJson(text, "malformed-bundle", "value") as Record<string, JsonValue>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.keys(v)).toEqual(["__proto__", "a"]);
    expect(v).toEqual(JSON.parse(text));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

/**
 * docs/audit-log.md, section 7, as it reads, for a line under the length
 * limit: JSON, the members, a malformed hash, the canonical text of what the
 * line holds, then the hash. decodeAuditLine reads a line in one pass, and
 * must answer the same for every line.
 */
function reference(line: Buffer): { ok: true; entry: AuditEntry } | { ok: false; code: string } {
  const text = line.toString("utf8");
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { ok: false, code: "malformed-entry" };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    return { ok: false, code: "malformed-entry" };
  const { seq, time, type, data, prev, hash } = parsed;
  if (
    typeof seq !== "number" ||
    typeof time !== "string" ||
    typeof type !== "string" ||
    typeof data !== "object" ||
    data === null ||
    Array.isArray(data) ||
    typeof prev !== "string" ||
    typeof hash !== "string"
  ) {
    return { ok: false, code: "malformed-entry" };
  }
  const received =
    line.length >= HASH_SUFFIX_BYTES
      ? sha256Hex(Buffer.concat([line.subarray(0, -HASH_SUFFIX_BYTES), Buffer.from("}")]))
      : "";
  if (received !== hash && !/^[0-9a-f]{64}$/.test(hash)) return { ok: false, code: "malformed-entry" };
  let canonical: string;
  try {
    const encoded = encodeAuditEntry(seq, time, type, data as Record<string, JsonValue>, prev).line.toString("utf8");
    canonical = `${encoded.slice(0, -66)}${hash}"}`;
  } catch {
    return { ok: false, code: "non-canonical-entry" };
  }
  if (text !== canonical) return { ok: false, code: "non-canonical-entry" };
  if (received !== hash) return { ok: false, code: "hash-mismatch" };
  return { ok: true, entry: parsed as unknown as AuditEntry };
}

const hex64 = fc.stringMatching(/^[0-9a-f]{64}$/);
const data: fc.Arbitrary<Record<string, JsonValue>> = fc.dictionary(
  fc.stringMatching(/^[A-Za-z0-9_.-]{1,8}$/),
  fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.string({ unit: "grapheme", maxLength: 8 }),
    fc.array(fc.maxSafeInteger(), { maxLength: 3 }),
    fc.dictionary(fc.stringMatching(/^[a-z]{1,3}$/), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
  ),
  { maxKeys: 5 },
);
const line = fc
  .record({
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
    time: fc.date({
      min: new Date("0001-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    }),
    type: fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/),
    data,
    prev: hex64,
  })
  .map((e) => encodeAuditEntry(e.seq, e.time.toISOString(), e.type, e.data, e.prev).line.toString("utf8"));
/** A line near a good one: characters put in, taken out or changed. */
const nearbyLine = near(
  line,
  fc.oneof(
    fc.constantFrom(...'{}[],:"\\ 0123456789abcdef-.ZT', '"seq":', '"hash":', "\\u0041", "\\n", "\u00e9", "\ud800"),
    fc.string({ unit: "binary", maxLength: 2 }),
  ),
  2,
);

const verdict = (decoded: ReturnType<typeof decodeAuditLine>) =>
  decoded.ok ? { ok: true, entry: decoded.entry } : { ok: false, code: decoded.code };

describe("decodeAuditLine", () => {
  it("reads every line the log writes, to the entry JSON.parse gives", () => {
    fc.assert(
      fc.property(line, (text) => {
        const decoded = decodeAuditLine(Buffer.from(text));
        expect(decoded).toEqual({ ok: true, entry: JSON.parse(text) });
      }),
      { numRuns: 2000 },
    );
  });

  it("answers for every other line what section 7 says, in its order", () => {
    fc.assert(
      fc.property(nearbyLine, (text) => {
        const bytes = Buffer.from(text);
        expect([text, verdict(decodeAuditLine(bytes))]).toEqual([text, reference(bytes)]);
      }),
      { numRuns: 20_000 },
    );
  });
});
