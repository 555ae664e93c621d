import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AuditEntry,
  decodeAuditLine,
  encodeAuditEntry,
  entryTimeSeconds,
  HASH_SUFFIX_BYTES,
} from "./audit-entry.js";
import type { JsonValue } from "./canonical-json.js";
import { sha256Hex } from "./sha256.js";

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
const nearby = fc
  .tuple(
    line,
    fc.array(
      fc.tuple(
        fc.constantFrom("insert", "delete", "replace"),
        fc.nat(),
        fc.oneof(
          fc.constantFrom(
            ...'{}[],:"\\ 0123456789abcdef-.ZT',
            '"seq":',
            '"hash":',
            "\\u0041",
            "\\n",
            "\u00e9",
            "\ud800",
          ),
          fc.string({ unit: "binary", maxLength: 2 }),
        ),
      ),
      { minLength: 1, maxLength: 2 },
    ),
  )
  .map(([text, edits]) => {
    let out = text;
    for (const [kind, at, piece] of edits) {
      const i = at % (out.length + (kind === "insert" ? 1 : 0));
      if (kind === "insert") out = out.slice(0, i) + piece + out.slice(i);
      else if (kind === "delete") out = out.slice(0, i) + out.slice(i + 1);
      else out = out.slice(0, i) + piece + out.slice(i + 1);
    }
    return out;
  });

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
      fc.property(nearby, (text) => {
        const bytes = Buffer.from(text);
        expect([text, verdict(decodeAuditLine(bytes))]).toEqual([text, reference(bytes)]);
      }),
      { numRuns: 20_000 },
    );
  });
});

describe("entryTimeSeconds", () => {
  it("gives what Date.parse gives for every canonical time, years 1 to 9999", () => {
    const times = fc.date({
      min: new Date("0001-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59.999Z"),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(times, (t) => {
        const time = t.toISOString();
        expect([time, entryTimeSeconds(time)]).toEqual([time, Math.floor(Date.parse(time) / 1000)]);
      }),
      { numRuns: 20_000 },
    );
    for (const time of [
      "2000-02-29T23:59:59.999Z",
      "1900-03-01T00:00:00.000Z",
      "0001-01-01T00:00:00.000Z",
      "1969-12-31T23:59:59.999Z",
    ]) {
      expect([time, entryTimeSeconds(time)]).toEqual([time, Math.floor(Date.parse(time) / 1000)]);
    }
  });
});
