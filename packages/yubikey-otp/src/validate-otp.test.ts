import { AirgrantError } from "@airgrant/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeAesDecryptor } from "./aes-block-decryptor.js";
import { generateOtp } from "./generate-otp.js";
import { MODHEX_ALPHABET } from "./modhex.js";
import { type CounterAdvance, compareOtpCounters, type OtpCounter, type OtpCounterStore } from "./otp-counter-store.js";
import { type OtpKey, validateOtp } from "./validate-otp.js";

/** The store contract without a file, so these tests are about validation alone. */
function memoryStore(): OtpCounterStore & { advances: number } {
  const counters = new Map<string, OtpCounter>();
  return {
    advances: 0,
    advance(publicId, counter): CounterAdvance {
      this.advances++;
      const last = counters.get(publicId);
      if (last !== undefined && compareOtpCounters(counter, last) <= 0) return { accepted: false, last };
      counters.set(publicId, counter);
      return { accepted: true };
    },
    lastAccepted: (publicId) => counters.get(publicId),
  };
}

const aesKey = new Uint8Array(Buffer.from("ecde18dbe76fbd0c33330f1c354871db", "hex"));
const privateId = new Uint8Array(Buffer.from("8792ebfe26cc", "hex"));
const PUBLIC_ID = "vvccccdteffu";
const enrolled: OtpKey = { privateId, decryptor: nodeAesDecryptor(aesKey) };
const keys = (publicId: string): OtpKey | undefined => (publicId === PUBLIC_ID ? enrolled : undefined);

function otp(usageCounter: number, sessionCounter: number, change: Partial<Parameters<typeof generateOtp>[0]> = {}) {
  return generateOtp({
    aesKey,
    publicId: PUBLIC_ID,
    privateId,
    usageCounter,
    sessionCounter,
    timestamp: 0x123456,
    random: 0xbeef,
    ...change,
  });
}

describe("validateOtp", () => {
  it("accepts a good OTP once and returns its fields", () => {
    const store = memoryStore();
    const verdict = validateOtp(otp(3, 7), keys, store);
    expect(verdict).toMatchObject({
      ok: true,
      publicId: PUBLIC_ID,
      token: { usageCounter: 3, sessionCounter: 7, timestamp: 0x123456, random: 0xbeef, capsLock: false },
    });
    expect(store.lastAccepted(PUBLIC_ID)).toEqual({ usageCounter: 3, sessionCounter: 7 });
    expect(validateOtp(otp(3, 7), keys, store)).toMatchObject({ ok: false, code: "otp-replayed" });
  });

  it("accepts OTPs typed with caps lock on, in upper case with a trailing newline", () => {
    const verdict = validateOtp(`${otp(1, 0, { capsLock: true }).toUpperCase()}\n`, keys, memoryStore());
    expect(verdict).toMatchObject({ ok: true, token: { usageCounter: 1, capsLock: true } });
  });

  it("orders by usage counter, then session counter, ignoring the caps lock bit", () => {
    const store = memoryStore();
    const steps: [number, number, boolean, boolean][] = [
      [5, 10, true, true],
      [5, 10, false, false], // same pair, caps lock off: still a replay
      [5, 9, false, false],
      [5, 11, false, true],
      [4, 255, false, false],
      [6, 0, false, true],
      [6, 0, false, false],
      [0x7fff, 255, false, true],
      [0x7fff, 255, true, false],
    ];
    for (const [usage, session, capsLock, accepted] of steps) {
      const verdict = validateOtp(otp(usage, session, { capsLock }), keys, store);
      expect({ usage, session, ok: verdict.ok, code: verdict.ok ? undefined : verdict.code }).toEqual({
        usage,
        session,
        ok: accepted,
        code: accepted ? undefined : "otp-replayed",
      });
    }
  });

  it("keeps counters per public id", () => {
    const store = memoryStore();
    const otherKeys = (publicId: string): OtpKey | undefined =>
      publicId === PUBLIC_ID || publicId === "" ? enrolled : undefined;
    expect(validateOtp(otp(9, 0), otherKeys, store).ok).toBe(true);
    expect(validateOtp(otp(1, 0, { publicId: "" }), otherKeys, store).ok).toBe(true);
  });

  it("refuses an unknown public id without decrypting", () => {
    const store = memoryStore();
    const verdict = validateOtp(otp(1, 0, { publicId: "cccccccccccc" }), keys, store);
    expect(verdict).toMatchObject({ ok: false, code: "otp-unknown-key" });
    expect(store.advances).toBe(0);
  });

  it("refuses an OTP made with another AES key as a bad CRC", () => {
    const store = memoryStore();
    const verdict = validateOtp(otp(1, 0, { aesKey: new Uint8Array(16) }), keys, store);
    expect(verdict).toMatchObject({ ok: false, code: "otp-bad-crc" });
    expect(store.advances).toBe(0);
  });

  it("refuses an OTP with another private id, and does not advance the counter", () => {
    const store = memoryStore();
    const verdict = validateOtp(otp(1, 0, { privateId: new Uint8Array(6) }), keys, store);
    expect(verdict).toMatchObject({ ok: false, code: "otp-wrong-private-id" });
    expect(store.advances).toBe(0);
    expect(validateOtp(otp(1, 0), keys, store).ok).toBe(true);
  });

  it("refuses malformed text as a verdict", () => {
    expect(validateOtp("not an otp", keys, memoryStore())).toMatchObject({ ok: false, code: "otp-malformed" });
    expect(validateOtp("", keys, memoryStore())).toMatchObject({ ok: false, code: "otp-malformed" });
  });

  it("throws for a broken environment rather than returning a verdict", () => {
    const failingToken: OtpKey = {
      privateId,
      decryptor: {
        decryptBlock: () => {
          throw new AirgrantError("token-not-found", "token removed");
        },
      },
    };
    expect(() => validateOtp(otp(1, 0), () => failingToken, memoryStore())).toThrow(/token removed/);
    const shortOutput: OtpKey = { privateId, decryptor: { decryptBlock: () => new Uint8Array(8) } };
    expect(() => validateOtp(otp(1, 0), () => shortOutput, memoryStore())).toThrow(AirgrantError);
    const badEnrolment: OtpKey = { privateId: new Uint8Array(5), decryptor: enrolled.decryptor };
    expect(() => validateOtp(otp(1, 0), () => badEnrolment, memoryStore())).toThrow(AirgrantError);
  });

  it("returns a refusal for any text whatever, never throws, never accepts", () => {
    const known = (publicId: string): OtpKey | undefined => (publicId.length <= 16 ? enrolled : undefined);
    const modhexish = fc.string({ unit: fc.constantFrom(...MODHEX_ALPHABET.split("")), minLength: 30, maxLength: 50 });
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 100 }), fc.string({ unit: "binary", maxLength: 70 }), modhexish),
        (text) => {
          const verdict = validateOtp(text, known, memoryStore());
          expect(verdict.ok).toBe(false);
          if (!verdict.ok) {
            expect(["otp-malformed", "otp-unknown-key", "otp-bad-crc", "otp-wrong-private-id"]).toContain(verdict.code);
            expect(verdict.message).toMatch(/\S/);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never accepts a good OTP with one character changed", () => {
    const good = otp(2, 2);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: good.length - 1 }),
        fc.constantFrom(...MODHEX_ALPHABET.split("")),
        (index, letter) => {
          fc.pre(good.charAt(index) !== letter);
          const changed = good.slice(0, index) + letter + good.slice(index + 1);
          expect(validateOtp(changed, keys, memoryStore()).ok).toBe(false);
        },
      ),
    );
  });
});
