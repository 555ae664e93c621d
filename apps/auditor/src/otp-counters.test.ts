import type { AuditEntry } from "@airgrant/core";
import { describe, expect, it } from "vitest";
import { joinCounters, OtpCounterTrack } from "./otp-counters.js";

function issued(seq: number, yubikeyId: string, otpCounter: [number, number]): AuditEntry {
  return {
    seq,
    time: "2026-12-01T00:00:00.000Z",
    type: "grant-issued",
    data: { yubikeyId, otpCounter, grantId: seq.toString(16).padStart(32, "0") },
    prev: `${seq - 1}`.padStart(64, "0"),
    hash: `${seq}`.padStart(64, "0"),
  };
}

/** One pass over `entries`, and the same split at every point and joined, must find the same first repeat. */
function firstRepeatEverySplit(entries: AuditEntry[]): Array<number | undefined> {
  const whole = new OtpCounterTrack();
  for (const e of entries) whole.onEntry(e);
  const answers = [whole.summary().repeat?.at.seq];
  for (let cut = 1; cut < entries.length; cut++) {
    const [a, b] = [new OtpCounterTrack(), new OtpCounterTrack()];
    for (const e of entries.slice(0, cut)) a.onEntry(e);
    for (const e of entries.slice(cut)) b.onEntry(e);
    answers.push(joinCounters(a.summary(), b.summary()).repeat?.at.seq);
  }
  return answers;
}

describe("OTP counters across a signer log", () => {
  it("finds the first counter not above its key's last, in one pass or split in two anywhere", () => {
    const entries = [
      issued(2, "k1", [1, 1]),
      issued(3, "k2", [5, 0]),
      issued(4, "k1", [1, 2]),
      issued(5, "k2", [4, 9]),
      issued(6, "k1", [1, 2]),
    ];
    const answers = firstRepeatEverySplit(entries);
    expect(answers).toEqual(answers.map(() => 5));
  });

  it("finds none where every key's counters increase", () => {
    const entries = [
      issued(2, "k1", [1, 1]),
      issued(3, "k2", [0, 7]),
      issued(4, "k1", [2, 0]),
      issued(5, "k2", [0, 8]),
    ];
    expect(firstRepeatEverySplit(entries)).toEqual(entries.map(() => undefined));
  });
});
