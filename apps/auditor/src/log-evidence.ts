import {
  type AuditChainCode,
  type AuditChainHead,
  type AuditEntry,
  CheckpointChecker,
  SealChecker,
  type SealReceipt,
  type TrustedIssuer,
} from "@airgrant/core";
import { KnownHeadCheck, type KnownHeads } from "./known-heads.js";

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

/**
 * The evidence a log carries besides its chain (docs/audit-log.md, 7a to
 * 7c), checked entry by entry in the chain verifier's pass: the seals of a
 * host log whose install receipt the auditor holds (matched by log id),
 * every signed checkpoint when the auditor has the bundle's issuer keys,
 * and the head an earlier audit saw when the auditor kept its output.
 * `verify`, `reconcile` and `report` all check a log through this.
 */
export class LogEvidence {
  #seals: SealChecker | undefined;
  #receipt: SealReceipt | undefined;
  readonly #checkpoints: CheckpointChecker | undefined;
  readonly #known: KnownHeadCheck | undefined;

  constructor(
    private readonly receipts: readonly SealReceipt[],
    issuers: readonly TrustedIssuer[],
    known?: KnownHeads,
  ) {
    this.#checkpoints = issuers.length === 0 ? undefined : new CheckpointChecker(issuers);
    this.#known = known === undefined ? undefined : new KnownHeadCheck(known);
  }

  onEntry(entry: AuditEntry): { code: AuditChainCode; message: string } | undefined {
    if (entry.seq === 1) {
      this.#receipt = this.receipts.find((r) => r.logId === entry.data.logId);
      if (this.#receipt !== undefined) this.#seals = new SealChecker(this.#receipt);
    }
    return this.#checkpoints?.check(entry) ?? this.#seals?.check(entry) ?? this.#known?.onEntry(entry);
  }

  /** After the last entry: a log that ends before the head an earlier audit saw is `truncated`. */
  onEnd(head: AuditChainHead): { code: AuditChainCode; message: string } | undefined {
    return this.#known?.onEnd(head);
  }

  get seals(): SealSummary | undefined {
    const seals = this.#seals;
    if (seals === undefined || this.#receipt === undefined) return undefined;
    const { lastSealedSeq, epoch, epochStartSeq } = seals;
    return { host: this.#receipt.host, lastSealedSeq, epoch, epochStartSeq };
  }

  get checkpoints(): CheckpointSummary | undefined {
    const checkpoints = this.#checkpoints;
    if (checkpoints === undefined || checkpoints.checkpoints === 0) return undefined;
    return { checkpoints: checkpoints.checkpoints, lastCheckpointedSeq: checkpoints.lastCheckpointedSeq };
  }

  get since(): SinceSummary | undefined {
    const known = this.#known;
    const head = known?.head;
    return known === undefined || head === undefined ? undefined : { seq: head.seq, file: known.file };
  }

  /** Puts what was found (seals, checkpoints, an earlier head), once the pass is over, on a log's verdict or summary. */
  recordOn(target: { seals?: SealSummary; checkpoints?: CheckpointSummary; since?: SinceSummary }): void {
    const { seals, checkpoints, since } = this;
    if (seals !== undefined) target.seals = seals;
    if (checkpoints !== undefined) target.checkpoints = checkpoints;
    if (since !== undefined) target.since = since;
  }
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
