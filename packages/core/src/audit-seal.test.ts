import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type AuditEntry, type AuditValue, encodeAuditEntry } from "./audit-entry.js";
import { appendAuditEntry } from "./audit-log.js";
import {
  decodeSealReceipt,
  encodeSealReceipt,
  evolveSealKey,
  SealChecker,
  sealEpochAt,
  sealMember,
  sealTag,
} from "./audit-seal.js";
import { verifyAuditLog } from "./verify-audit-log.js";

const dir = mkdtempSync(join(tmpdir(), "airgrant-seal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const START = 1_800_000_000;
const EPOCH = 900;
const KEY0 = new Uint8Array(32).fill(0x42);

/** A host log of `n` entries, one a minute, sealed as appendHostEntry seals: the key moved to each entry's epoch. */
function sealedLog(name: string, n: number): { path: string; logId: string; keys: Uint8Array[] } {
  const path = join(dir, name);
  const keys: Uint8Array[] = [KEY0];
  let now = START;
  for (let i = 0; i < n; i++) {
    now += 60;
    const clock = () => new Date(now * 1000);
    const epoch = sealEpochAt(START, EPOCH, now);
    while (keys.length <= epoch) keys.push(evolveSealKey(keys[keys.length - 1] as Uint8Array));
    appendAuditEntry(
      path,
      "grant-check",
      { verdict: "allowed", n: i },
      {
        clock,
        seal: (unsealed) => sealMember(keys[epoch] as Uint8Array, epoch, unsealed),
      },
    );
  }
  const logId = JSON.parse(readFileSync(path, "utf8").split("\n")[0] as string).data.logId as string;
  return { path, logId, keys };
}

/** The seals checked from each line's bytes, and the same verdict from each entry encoded again without its seal. */
function verifyWith(path: string, logId: string) {
  const receipt = { logId, host: "h", start: START, epochSeconds: EPOCH, key: KEY0, firstSealedSeq: 2 };
  const checker = new SealChecker(receipt);
  const report = verifyAuditLog(path, { onEntry: (e, _line, bytes) => checker.check(e, bytes) });
  const encoded = new SealChecker(receipt);
  expect(verifyAuditLog(path, { onEntry: (e) => encoded.check(e) })).toEqual(report);
  return { report, checker };
}

/** Rewrite entry `seq`'s data and re-chain everything after it, re-sealing with `key` in `epoch` where given. */
function forge(path: string, seq: number, reseal?: { key: Uint8Array; epoch: number }): void {
  const lines = readFileSync(path, "utf8").trimEnd().split("\n");
  let prev = "";
  const out: string[] = [];
  for (const [i, text] of lines.entries()) {
    const e = JSON.parse(text) as AuditEntry;
    if (i + 1 < seq) {
      out.push(text);
      prev = e.hash;
      continue;
    }
    const { seal: _, ...data } = e.data as Record<string, AuditValue>;
    if (i + 1 === seq) data.verdict = "grant-replayed";
    const unsealed = encodeAuditEntry(e.seq, e.time, e.type, data, prev).entry;
    const sealed =
      reseal === undefined
        ? e.data.seal === undefined
          ? {}
          : { seal: e.data.seal }
        : sealMember(reseal.key, reseal.epoch, unsealed);
    const { entry, line } = encodeAuditEntry(e.seq, e.time, e.type, { ...data, ...sealed }, prev);
    out.push(line.toString());
    prev = entry.hash;
  }
  writeFileSync(path, `${out.join("\n")}\n`);
}

describe("forward-secure sealing", () => {
  it("verifies every seal across epochs with the first key alone", () => {
    const { path, logId, keys } = sealedLog("good.log", 60);
    expect(keys.length).toBe(5);
    const { report, checker } = verifyWith(path, logId);
    expect(report).toMatchObject({ ok: true, entries: 61 });
    expect(checker.lastSealedSeq).toBe(61);
    expect(checker.epoch).toBe(4);
  });

  it("catches an earlier entry rewritten and re-sealed with the host's current key", () => {
    const { path, logId, keys } = sealedLog("forged.log", 60);
    // Root on the host in epoch 4 has key 4 only; it rewrites entry 10 (epoch 0) and re-chains.
    forge(path, 10, { key: keys[4] as Uint8Array, epoch: 4 });
    expect(verifyAuditLog(path)).toMatchObject({ ok: true });
    expect(verifyWith(path, logId).report).toMatchObject({ ok: false, code: "bad-seal", seq: 10 });
  });

  it("catches a rewrite that keeps the old seals", () => {
    const { path, logId } = sealedLog("kept.log", 20);
    forge(path, 5);
    expect(verifyWith(path, logId).report).toMatchObject({ ok: false, code: "bad-seal", seq: 5 });
  });

  it("cannot protect the current epoch from its own key: the documented limit", () => {
    const { path, logId, keys } = sealedLog("current.log", 60);
    const lastEpochStart = verifyWith(path, logId).checker.epochStartSeq;
    forge(path, lastEpochStart + 1, { key: keys[4] as Uint8Array, epoch: 4 });
    expect(verifyWith(path, logId).report).toMatchObject({ ok: true });
  });

  it("refuses unsealed entries, keys going back, and a receipt of another log", () => {
    const { path, logId } = sealedLog("mixed.log", 20);
    appendAuditEntry(path, "grant-check", { verdict: "allowed" }, { clock: () => new Date((START + 5000) * 1000) });
    expect(verifyWith(path, logId).report).toMatchObject({ ok: false, code: "bad-seal", seq: 22 });
    const back = sealedLog("back.log", 20);
    appendAuditEntry(
      back.path,
      "grant-check",
      { verdict: "allowed" },
      {
        clock: () => new Date((START + 5000) * 1000),
        seal: (u) => sealMember(KEY0, 0, u),
      },
    );
    expect(verifyWith(back.path, back.logId).report).toMatchObject({ ok: false, code: "bad-seal", seq: 22 });
    const { path: other } = sealedLog("other.log", 3);
    expect(verifyWith(other, logId).report).toMatchObject({ ok: false, code: "bad-seal", seq: 1 });
  });

  it("finds the seal member in the line's bytes wherever it sits, and is not fooled by a nested one", () => {
    const path = join(dir, "positions.log");
    const decoy = { epoch: 0, tag: "0".repeat(64) };
    const variants: Record<string, AuditValue>[] = [
      {},
      { a: 1 },
      { z: "after" },
      { a: 1, z: "after" },
      { a: { seal: decoy }, z: "after" },
      { nested: { seal: decoy }, tail: [{ seal: decoy }] },
      { a: [[{ seal: decoy }]] },
      // Keys of digits only, which an object lists first: still before the seal.
      { "10": { seal: decoy }, "9": 1, z: { seal: decoy } },
    ];
    for (const data of variants) {
      appendAuditEntry(path, "grant-check", data, {
        clock: () => new Date((START + 60) * 1000),
        seal: (unsealed) => sealMember(KEY0, 0, unsealed),
      });
    }
    const logId = JSON.parse(readFileSync(path, "utf8").split("\n")[0] as string).data.logId as string;
    expect(verifyWith(path, logId).report).toMatchObject({ ok: true, entries: 9 });
    // A nested copy of entry 6's very seal member, added after it was sealed: both ways refuse it.
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    const sixth = JSON.parse(lines[5] as string) as AuditEntry;
    const copied = { ...sixth.data, b: { seal: sixth.data.seal as AuditValue } };
    lines[5] = encodeAuditEntry(6, sixth.time, sixth.type, copied, sixth.prev).line.toString();
    writeFileSync(path, `${lines.slice(0, 6).join("\n")}\n`);
    expect(verifyWith(path, logId).report).toMatchObject({ ok: false, code: "bad-seal", seq: 6 });
  });

  it("never verifies a tag that is not hex, whose member has other bytes than a hex one", () => {
    for (const tag of ['"'.repeat(64), "G".repeat(64), "é".repeat(64), "0".repeat(63), "0".repeat(65)]) {
      const path = join(dir, `tag-${tag.length}-${tag.charCodeAt(0)}.log`);
      appendAuditEntry(
        path,
        "grant-check",
        { a: 1, seal: { epoch: 0, tag }, z: 2 },
        {
          clock: () => new Date((START + 60) * 1000),
        },
      );
      const logId = JSON.parse(readFileSync(path, "utf8").split("\n")[0] as string).data.logId as string;
      expect(verifyWith(path, logId).report).toMatchObject({ ok: false, code: "bad-seal", seq: 2 });
    }
  });

  it("tags with HMAC-SHA256 of the label and the unsealed hash (RFC 2104), for keys of any length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (key, digest) => {
        const hash = Buffer.from(digest).toString("hex");
        const hmac = createHmac("sha256", key).update("airgrant seal v1\u0000").update(hash).digest("hex");
        expect(sealTag(key, hash)).toBe(hmac);
      }),
    );
    expect(() => sealTag(KEY0, "not a hash")).toThrow(/64 hex digits/);
  });

  it("round-trips a receipt", () => {
    const receipt = {
      logId: "ab".repeat(16),
      host: "db1",
      start: START,
      epochSeconds: EPOCH,
      key: KEY0,
      firstSealedSeq: 2,
    };
    expect(decodeSealReceipt(encodeSealReceipt(receipt))).toEqual(receipt);
  });

  it("decodes any text and any mutation of a receipt to a receipt or to malformed-receipt, never anything else", () => {
    const good = encodeSealReceipt({
      logId: "ab".repeat(16),
      host: "db1",
      start: START,
      epochSeconds: EPOCH,
      key: KEY0,
      firstSealedSeq: 2,
    });
    const check = (text: string) => {
      try {
        decodeSealReceipt(text);
      } catch (err) {
        expect((err as { code?: string }).code).toBe("malformed-receipt");
      }
    };
    fc.assert(fc.property(fc.string({ maxLength: 400 }), check));
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.string({ maxLength: 3 }), (at, inserted) =>
        check(`${good.slice(0, at)}${inserted}${good.slice(at + 1)}`),
      ),
    );
  });
});
