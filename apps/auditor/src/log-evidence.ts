import {
  type AuditChainCode,
  type AuditChainHead,
  type AuditEntry,
  CheckpointChecker,
  type JoinProblem,
  type RangeCheck,
  type RangeStart,
  SealChecker,
  type SealReceipt,
  type SplitCheck,
  type TrustedIssuer,
} from "@airgrant/core";
import { KnownHeadCheck, type KnownHeads, truncation } from "./known-heads.js";
import { type CounterRepeat, type CounterSummary, joinCounters, OtpCounterTrack } from "./otp-counters.js";

/** What the seals of a host log say, when the auditor holds its receipt. */
export interface SealSummary {
  host: string;
  /** Entries whose seal verified. */
  lastSealedSeq: number;
  /** The last epoch seen and the first entry sealed in it. */
  epoch: number;
  epochStartSeq: number;
}

/** What the signed checkpoints of a log say, when the auditor has the trust bundle. */
export interface CheckpointSummary {
  checkpoints: number;
  /** The last entry a valid checkpoint signs; entries after it are vouched for by nothing but the chain. */
  lastCheckpointedSeq: number;
}

/** The head an earlier audit saw in a log (`--since`), which the log still holds. */
export interface SinceSummary {
  seq: number;
  /** The earlier audit's output it came from. */
  file: string;
}

/** What one LogEvidence found, as plain data: one half's, when a large log is split across two workers. */
export interface EvidenceSummary {
  seals?: SealSummary & {
    /** This range's first sealed entry, for the check across the halves' boundary. */
    firstSealed?: { seq: number; epoch: number; prev: string };
  };
  checkpoints?: CheckpointSummary;
  since?: SinceSummary;
  /** The YubiKey OTP counters of a signer log, when it has any. */
  otpCounters?: CounterSummary;
}

/** What LogEvidence is built from; it crosses to workers, so plain data. */
export interface EvidenceInputs {
  receipts: readonly SealReceipt[];
  issuers: readonly TrustedIssuer[];
  known?: KnownHeads | undefined;
  /**
   * Also check that a signer log's YubiKey OTP counters increase (`verify`);
   * `reconcile` leaves it to its ledger, which makes each repeat a finding.
   */
  otpCounters?: boolean;
}

/**
 * The evidence a log carries besides its chain (docs/audit-log.md, 7a to
 * 7c), checked entry by entry in the chain verifier's pass: the seals of a
 * host log whose install receipt the auditor holds (matched by log id),
 * every signed checkpoint when the auditor has the bundle's issuer keys,
 * the head an earlier audit saw when the auditor kept its output, and for
 * `verify` whether a signer log's YubiKey OTP counters increase.
 * `verify`, `reconcile` and `report` all check a log through this; `verify`
 * splits a large log's checks between two workers (`evidenceSplitCheck`).
 */
export class LogEvidence implements RangeCheck<EvidenceSummary> {
  #seals: SealChecker | undefined;
  #receipt: SealReceipt | undefined;
  #firstSealed: { seq: number; epoch: number; prev: string } | undefined;
  readonly #checkpoints: CheckpointChecker | undefined;
  readonly #known: KnownHeadCheck | undefined;
  readonly #receipts: readonly SealReceipt[];
  readonly #otpCounters: OtpCounterTrack | undefined;

  /** `start`: where the entries begin; mid-log (in the log with that id) for a large log's second half. */
  constructor({ receipts, issuers, known, otpCounters }: EvidenceInputs, start?: RangeStart) {
    this.#receipts = receipts;
    this.#otpCounters = otpCounters === true ? new OtpCounterTrack() : undefined;
    this.#checkpoints = issuers.length === 0 ? undefined : new CheckpointChecker(issuers, start?.logId);
    this.#known = known === undefined ? undefined : new KnownHeadCheck(known);
    if (start !== undefined) this.#startIn(start.logId);
  }

  #startIn(logId: unknown): void {
    this.#receipt = this.#receipts.find((r) => r.logId === logId);
    if (this.#receipt !== undefined) this.#seals = new SealChecker(this.#receipt);
    if (typeof logId === "string") this.#known?.startIn(logId);
  }

  /** `bytes`, the entry's line as read, spares the seal check an encoding. */
  onEntry(
    entry: AuditEntry,
    _line?: number,
    bytes?: Uint8Array,
  ): { code: AuditChainCode; message: string } | undefined {
    if (entry.seq === 1) this.#startIn(entry.data.logId);
    this.#otpCounters?.onEntry(entry);
    const problem = this.#checkpoints?.check(entry) ?? this.#seals?.check(entry, bytes) ?? this.#known?.onEntry(entry);
    const seals = this.#seals;
    if (problem === undefined && this.#firstSealed === undefined && seals !== undefined && seals.lastSealedSeq > 0) {
      this.#firstSealed = { seq: seals.lastSealedSeq, epoch: seals.epoch, prev: entry.prev };
    }
    return problem;
  }

  /** After the last entry: a log that ends before the head an earlier audit saw is `truncated`. */
  onEnd(head: AuditChainHead): { code: AuditChainCode; message: string } | undefined {
    return this.#known?.onEnd(head);
  }

  summary(): EvidenceSummary {
    const summary: EvidenceSummary = {};
    const seals = this.#seals;
    if (seals !== undefined && this.#receipt !== undefined) {
      const { lastSealedSeq, epoch, epochStartSeq } = seals;
      summary.seals = { host: this.#receipt.host, lastSealedSeq, epoch, epochStartSeq };
      if (this.#firstSealed !== undefined) summary.seals.firstSealed = this.#firstSealed;
    }
    const checkpoints = this.#checkpoints;
    if (checkpoints !== undefined) {
      summary.checkpoints = {
        checkpoints: checkpoints.checkpoints,
        lastCheckpointedSeq: checkpoints.lastCheckpointedSeq,
      };
    }
    const known = this.#known;
    if (known?.head !== undefined) summary.since = { seq: known.head.seq, file: known.file };
    const counters = this.#otpCounters?.summary();
    if (counters !== undefined && Object.keys(counters.first).length > 0) summary.otpCounters = counters;
    return summary;
  }

  /** Puts what was found (seals, checkpoints, an earlier head, a repeated OTP counter), once the pass is over, on a log's verdict or summary. */
  recordOn(target: EvidenceTarget): void {
    recordEvidence(target, this.summary());
  }
}

/** Where a log's evidence is shown: its verdict (verify) or its summary (reconcile). */
export interface EvidenceTarget {
  seals?: SealSummary;
  checkpoints?: CheckpointSummary;
  since?: SinceSummary;
  otpCounterRepeat?: CounterRepeat;
}

/** An EvidenceSummary as a log's verdict or summary shows it: no checkpoints when there were none. */
export function recordEvidence(
  target: EvidenceTarget,
  { seals, checkpoints, since, otpCounters }: EvidenceSummary,
): void {
  if (otpCounters?.repeat !== undefined) target.otpCounterRepeat = otpCounters.repeat;
  if (seals !== undefined) {
    const { host, lastSealedSeq, epoch, epochStartSeq } = seals;
    target.seals = { host, lastSealedSeq, epoch, epochStartSeq };
  }
  if (checkpoints !== undefined && checkpoints.checkpoints > 0) target.checkpoints = checkpoints;
  if (since !== undefined) target.since = since;
}

/** For the worker that checks one half of a large log (verifyAuditLogChecked). */
export function createRangeCheck(inputs: EvidenceInputs, start: RangeStart): LogEvidence {
  return new LogEvidence(inputs, start);
}

/**
 * Two halves' evidence as one pass would have found it. Only the seals span
 * the boundary: the second half's first seal may not go back to an earlier
 * epoch than the first half's last (keys only move forward).
 */
export function joinEvidence(
  first: EvidenceSummary,
  second: EvidenceSummary,
): { summary: EvidenceSummary; problem?: JoinProblem } {
  const summary: EvidenceSummary = {};
  const since = first.since ?? second.since;
  if (since !== undefined) summary.since = since;
  if (first.otpCounters !== undefined || second.otpCounters !== undefined) {
    const none = { first: {}, last: {} };
    summary.otpCounters = joinCounters(first.otpCounters ?? none, second.otpCounters ?? none);
  }
  if (first.checkpoints !== undefined && second.checkpoints !== undefined) {
    summary.checkpoints = {
      checkpoints: first.checkpoints.checkpoints + second.checkpoints.checkpoints,
      lastCheckpointedSeq: second.checkpoints.lastCheckpointedSeq || first.checkpoints.lastCheckpointedSeq,
    };
  }
  const a = first.seals;
  const b = second.seals;
  if (a === undefined || b === undefined) return { summary };
  if (b.lastSealedSeq === 0) {
    summary.seals = a;
    return { summary };
  }
  const continues = a.lastSealedSeq > 0 && b.epoch === a.epoch;
  summary.seals = {
    host: a.host,
    lastSealedSeq: b.lastSealedSeq,
    epoch: b.epoch,
    epochStartSeq: continues ? a.epochStartSeq : b.epochStartSeq,
  };
  if (a.firstSealed !== undefined) summary.seals.firstSealed = a.firstSealed;
  const firstSealed = b.firstSealed;
  if (a.lastSealedSeq > 0 && firstSealed !== undefined && firstSealed.epoch < a.epoch) {
    return {
      summary,
      problem: {
        seq: firstSealed.seq,
        code: "bad-seal",
        message: `entry ${firstSealed.seq} is sealed in epoch ${firstSealed.epoch}, after epoch ${a.epoch}: keys only move forward`,
        head: { seq: firstSealed.seq - 1, hash: firstSealed.prev },
      },
    };
  }
  return { summary };
}

/** LogEvidence for verifyAuditLogChecked: this thread's for a small log, a worker's per half for a large one. */
export function evidenceSplitCheck(inputs: EvidenceInputs): SplitCheck<EvidenceSummary> {
  return {
    module: new URL(import.meta.url),
    args: inputs,
    local: new LogEvidence(inputs),
    join: joinEvidence,
    onEnd: (summary, head) => (summary.since === undefined ? undefined : truncation(summary.since, head)),
  };
}

/** What a log line adds for its evidence: ", sealed (host …) through entry N; …", ", N signed checkpoint(s), …", ", holds entry N …". */
export function describeEvidence({
  seals,
  checkpoints,
  since,
}: {
  seals?: SealSummary | undefined;
  checkpoints?: CheckpointSummary | undefined;
  since?: SinceSummary | undefined;
}): string {
  const sealed =
    seals === undefined
      ? ", not sealed or no receipt given"
      : `, sealed (host ${seals.host}) through entry ${seals.lastSealedSeq}; entries from ${seals.epochStartSeq} on are in epoch ${seals.epoch}, which the host's current key could still re-seal`;
  const signed =
    checkpoints === undefined
      ? ""
      : `, ${checkpoints.checkpoints} signed checkpoint(s), the last signing entry ${checkpoints.lastCheckpointedSeq}`;
  const held = since === undefined ? "" : `, still holds entry ${since.seq} as the audit in ${since.file} saw it`;
  return `${sealed}${signed}${held}`;
}
