import {
  type AuditChainCode,
  type AuditEntry,
  CheckpointChecker,
  SealChecker,
  type SealReceipt,
  type TrustedIssuer,
} from "@airgrant/core";

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

/**
 * The evidence a log carries besides its chain (docs/audit-log.md, 7a and
 * 7b), checked entry by entry in the chain verifier's pass: the seals of a
 * host log whose install receipt the auditor holds (matched by log id), and
 * every signed checkpoint when the auditor has the bundle's issuer keys.
 * `verify`, `reconcile` and `report` all check a log through this.
 */
export class LogEvidence {
  #seals: SealChecker | undefined;
  #receipt: SealReceipt | undefined;
  readonly #checkpoints: CheckpointChecker | undefined;

  constructor(
    private readonly receipts: readonly SealReceipt[],
    issuers: readonly TrustedIssuer[],
  ) {
    this.#checkpoints = issuers.length === 0 ? undefined : new CheckpointChecker(issuers);
  }

  onEntry(entry: AuditEntry): { code: AuditChainCode; message: string } | undefined {
    if (entry.seq === 1) {
      this.#receipt = this.receipts.find((r) => r.logId === entry.data.logId);
      if (this.#receipt !== undefined) this.#seals = new SealChecker(this.#receipt);
    }
    return this.#checkpoints?.check(entry) ?? this.#seals?.check(entry);
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

  /** Puts what was found (seals, checkpoints), once the pass is over, on a log's verdict or summary. */
  recordOn(target: { seals?: SealSummary; checkpoints?: CheckpointSummary }): void {
    const { seals, checkpoints } = this;
    if (seals !== undefined) target.seals = seals;
    if (checkpoints !== undefined) target.checkpoints = checkpoints;
  }
}

/** ", sealed (host …) through entry N; …" and ", N signed checkpoint(s), …": what a log line adds for its evidence. */
export function describeEvidence(seals: SealSummary | undefined, checkpoints: CheckpointSummary | undefined): string {
  const sealed =
    seals === undefined
      ? ", not sealed or no receipt given"
      : `, sealed (host ${seals.host}) through entry ${seals.lastSealedSeq}; entries from ${seals.epochStartSeq} on are in epoch ${seals.epoch}, which the host's current key could still re-seal`;
  const signed =
    checkpoints === undefined
      ? ""
      : `, ${checkpoints.checkpoints} signed checkpoint(s), the last signing entry ${checkpoints.lastCheckpointedSeq}`;
  return `${sealed}${signed}`;
}
