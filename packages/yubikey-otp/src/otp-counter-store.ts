/**
 * Where a YubiKey's OTPs stand: the pair that must strictly increase from
 * one accepted OTP to the next (Yubico, "OTPs Explained": the session and
 * usage counters are compared to the last values submitted; the session
 * counter wraps into the usage counter, so the pair orders lexicographically).
 */
export interface OtpCounter {
  readonly usageCounter: number;
  readonly sessionCounter: number;
}

export type CounterAdvance = { readonly accepted: true } | { readonly accepted: false; readonly last: OtpCounter };

/**
 * The last accepted counter of each public id, kept durably. `advance` is
 * one atomic step, across processes where the store is shared: compare with
 * the last accepted counter and, only if the new one is greater, record it.
 */
export interface OtpCounterStore {
  advance(publicId: string, counter: OtpCounter): CounterAdvance;
  /** The last accepted counter, or undefined if this public id never had one. */
  lastAccepted(publicId: string): OtpCounter | undefined;
}

/** Negative, zero or positive as `a` is before, equal to or after `b`. */
export function compareOtpCounters(a: OtpCounter, b: OtpCounter): number {
  return a.usageCounter !== b.usageCounter ? a.usageCounter - b.usageCounter : a.sessionCounter - b.sessionCounter;
}
