import type { AuditEntry } from "@airgrant/core";
import type { FindingList } from "./finding.js";
import { OtpCounterTrack } from "./otp-counters.js";
import { checkSignerEntry, type SignerLedger } from "./signer-ledger.js";
import type { EntryCheck } from "./stream-log.js";

/**
 * The signer log of a workstation where officers approved or denied grants
 * (`--approver-log`, docs/auditor.md, "Approvals"): checked as the signer
 * log is, entry by entry, and its approval steps matched to the grants the
 * signer log issued. Grants it issued itself are not reconciled here.
 */
export class ApproverLog implements EntryCheck {
  readonly #otpCounters = new OtpCounterTrack();

  constructor(
    private readonly path: string,
    private readonly ledger: SignerLedger,
    private readonly findings: FindingList,
  ) {}

  onEntry(entry: AuditEntry): undefined {
    checkSignerEntry(this.path, entry, this.#otpCounters, this.findings);
    this.ledger.recordApprovalStep(this.path, entry);
    return undefined;
  }
}
