import { type AuditEntry, readAuditData, unsliced } from "@airgrant/core";
import { keptString } from "./finding.js";

/** A YubiKey OTP counter as the signer logs it (`otpCounter`: `[usage, session]`), and where. */
export interface CounterAt {
  usage: number;
  session: number;
  seq: number;
  /** The hash of the entry before, for a problem reported across two halves of a log. */
  prev: string;
}

/** A counter that is not above an earlier one of its YubiKey. */
export interface CounterRepeat {
  yubikeyId: string;
  at: CounterAt;
  earlier: CounterAt;
  grantId?: string;
}

/** Each YubiKey's first and highest counter in a stretch of a signer log; plain data, for joining two halves. */
export interface CounterSummary {
  first: Record<string, CounterAt>;
  last: Record<string, CounterAt>;
  /** The first repeat in the stretch. */
  repeat?: CounterRepeat;
}

function below(a: CounterAt, b: CounterAt): boolean {
  return a.usage < b.usage || (a.usage === b.usage && a.session <= b.session);
}

export function repeatMessage({ yubikeyId, at, earlier }: CounterRepeat): string {
  return `YubiKey ${yubikeyId}'s OTP counter [${at.usage},${at.session}] is not above the [${earlier.usage},${earlier.session}] of entry ${earlier.seq}: an OTP accepted twice, or the signer's home rolled back`;
}

/**
 * An accepted OTP's counter (`otpCounter` on grant-issued and grant-refused,
 * docs/signer.md) must be above every earlier one of its YubiKey: one that
 * is not is an OTP accepted twice, a home rolled back or a log edited.
 * `reconcile` makes each repeat a finding; `verify` refuses a log with one.
 */
export class OtpCounterTrack {
  readonly #first = new Map<string, CounterAt>();
  readonly #last = new Map<string, CounterAt>();
  #repeat: CounterRepeat | undefined;

  /** The repeat this entry is, if it is one. */
  onEntry(entry: AuditEntry): CounterRepeat | undefined {
    if (entry.type !== "grant-issued" && entry.type !== "grant-refused") return undefined;
    const record =
      entry.type === "grant-issued"
        ? readAuditData("grant-issued", entry.data).record
        : readAuditData("grant-refused", entry.data).record;
    const { yubikeyId, otpCounter } = record;
    if (yubikeyId === undefined || otpCounter === undefined) return undefined;
    const id = keptString(yubikeyId) ?? "";
    const at: CounterAt = { usage: otpCounter[0], session: otpCounter[1], seq: entry.seq, prev: unsliced(entry.prev) };
    const earlier = this.#last.get(id);
    if (earlier !== undefined && below(at, earlier)) {
      const grantId = "grantId" in record ? record.grantId : undefined;
      const repeat: CounterRepeat = { yubikeyId: id, at, earlier, ...(grantId === undefined ? {} : { grantId }) };
      this.#repeat ??= repeat;
      return repeat;
    }
    if (!this.#first.has(id)) this.#first.set(id, at);
    this.#last.set(id, at);
    return undefined;
  }

  summary(): CounterSummary {
    const summary: CounterSummary = {
      first: Object.fromEntries(this.#first),
      last: Object.fromEntries(this.#last),
    };
    if (this.#repeat !== undefined) summary.repeat = this.#repeat;
    return summary;
  }
}

/** Two stretches' counters as one pass would have found them: the second's first counters come after the first's last. */
export function joinCounters(a: CounterSummary, b: CounterSummary): CounterSummary {
  const joined: CounterSummary = { first: { ...b.first, ...a.first }, last: { ...a.last, ...b.last } };
  // The first repeat: the first stretch's own, else the earliest in the second, across the boundary or within.
  let repeat = a.repeat ?? b.repeat;
  if (a.repeat === undefined) {
    for (const [id, at] of Object.entries(b.first)) {
      const earlier = Object.hasOwn(a.last, id) ? a.last[id] : undefined;
      if (earlier !== undefined && below(at, earlier) && (repeat === undefined || at.seq < repeat.at.seq)) {
        repeat = { yubikeyId: id, at, earlier };
      }
    }
  }
  if (repeat !== undefined) joined.repeat = repeat;
  return joined;
}
