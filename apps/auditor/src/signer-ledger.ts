import { type AuditEntry, LOG_RECOVERED_TYPE, readAuditData } from "@airgrant/core";
import { type FindingList, keptString, logRecoveredFinding } from "./finding.js";
import { SignerChainIndex } from "./signer-chain-index.js";
import type { EntryCheck } from "./stream-log.js";

/** One use of a grant seen on a host: a small record, never the entry. */
export interface GrantUse {
  /** Index of the host log in the order given. */
  log: number;
  seq: number;
  /** Milliseconds since the epoch, from the entry's time. */
  time: number;
  host: string;
  user: string;
}

/** What the signer log says about one grant it issued (docs/signer.md, "What is logged"), and its uses. */
export interface IssuedGrant {
  grantId: string;
  /** The grant-issued entry's sequence number in the signer log. */
  seq: number;
  /** Milliseconds since the epoch, from the entry's time. */
  time: number;
  user: string;
  /** `host` or `group:NAME`. */
  target: string;
  notBefore: number;
  notAfter: number;
  maxUses: number;
  officer: string;
  issuerKeyId: string;
  uses: GrantUse[];
}

/** A bundle the signer exported (a bundle-exported entry): what hosts may have installed. */
export interface ExportedBundle {
  seq: number;
  /** The grant ids it revokes. */
  revoked: ReadonlySet<string>;
}

/**
 * Reads the signer log in the chain verifier's pass: every grant-issued
 * entry as a small record keyed by grant id, the hash prefix of every entry
 * (for host anchors), officers' refusals, and the clock skews of the bundles
 * exported.
 */
export class SignerLedger implements EntryCheck {
  readonly grants = new Map<string, IssuedGrant>();
  readonly chain = new SignerChainIndex();
  /** grant-refused entries per officer (refusals before an officer is known count under ""). */
  readonly refusalsByOfficer = new Map<string, number>();
  /** Bundles exported, by bundle id. */
  readonly bundles = new Map<string, ExportedBundle>();
  /** The largest clockSkew among bundle-exported entries, seconds; undefined when none. */
  largestExportedSkew: number | undefined;
  /** Each YubiKey's highest OTP counter so far, and the entry that recorded it. */
  readonly #otpCounters = new Map<string, { usage: number; session: number; seq: number }>();

  constructor(
    private readonly path: string,
    private readonly findings: FindingList,
  ) {}

  onEntry(entry: AuditEntry): undefined {
    this.chain.add(entry.seq, entry.hash);
    if (entry.type === "grant-issued" || entry.type === "grant-refused") this.checkOtpCounter(entry);
    if (entry.type === LOG_RECOVERED_TYPE) this.findings.add(logRecoveredFinding(this.path, entry));
    else if (entry.type === "grant-issued") this.recordGrant(entry);
    else if (entry.type === "grant-refused") {
      const officer = keptString(readAuditData("grant-refused", entry.data).record.officer) ?? "";
      this.refusalsByOfficer.set(officer, (this.refusalsByOfficer.get(officer) ?? 0) + 1);
    } else if (entry.type === "bundle-exported") {
      const { bundleId, clockSkew, revokedGrants } = readAuditData("bundle-exported", entry.data).record;
      if (clockSkew !== undefined) this.largestExportedSkew = Math.max(this.largestExportedSkew ?? 0, clockSkew);
      if (bundleId !== undefined) this.bundles.set(bundleId, { seq: entry.seq, revoked: new Set(revokedGrants ?? []) });
    }
    return undefined;
  }

  /**
   * An accepted OTP's counter (`otpCounter`, docs/signer.md) must be above
   * every earlier one of its YubiKey: one that is not is an OTP accepted
   * twice, a home rolled back or a log edited.
   */
  private checkOtpCounter(entry: AuditEntry): void {
    const { yubikeyId, otpCounter } = readAuditData("grant-refused", entry.data).record;
    const grantId =
      entry.type === "grant-issued" ? readAuditData("grant-issued", entry.data).record.grantId : undefined;
    if (yubikeyId === undefined || otpCounter === undefined) return;
    const [usage, session] = otpCounter;
    const id = keptString(yubikeyId) ?? "";
    const last = this.#otpCounters.get(id);
    if (last !== undefined && (usage < last.usage || (usage === last.usage && session <= last.session))) {
      this.findings.add({
        code: "otp-counter-not-increasing",
        log: this.path,
        seq: entry.seq,
        ...(grantId === undefined ? {} : { grantId }),
        time: entry.time,
        message: `YubiKey ${id}'s OTP counter [${usage},${session}] is not above the [${last.usage},${last.session}] of entry ${last.seq}: an OTP accepted twice, or the signer's home rolled back`,
      });
      return;
    }
    this.#otpCounters.set(id, { usage, session, seq: entry.seq });
  }

  private recordGrant(entry: AuditEntry): void {
    const { record, problems } = readAuditData("grant-issued", entry.data);
    const { grantId, user, target, notBefore, notAfter, maxUses, officer, issuerKeyId } = record;
    if (
      grantId === undefined ||
      user === undefined ||
      target === undefined ||
      notBefore === undefined ||
      notAfter === undefined ||
      maxUses === undefined ||
      officer === undefined ||
      issuerKeyId === undefined
    ) {
      this.findings.add({
        code: "malformed-record",
        log: this.path,
        seq: entry.seq,
        ...(grantId === undefined ? {} : { grantId }),
        time: entry.time,
        message: `grant-issued entry has ${problems.join(", ").slice(0, 300)}`,
      });
      return;
    }
    const earlier = this.grants.get(grantId);
    if (earlier !== undefined) {
      this.findings.add({
        code: "duplicate-grant",
        log: this.path,
        seq: entry.seq,
        grantId,
        time: entry.time,
        message: `grant ${grantId} was already issued at entry ${earlier.seq}; uses are matched to the first`,
      });
      return;
    }
    this.grants.set(grantId, {
      grantId,
      seq: entry.seq,
      time: Date.parse(entry.time),
      user: keptString(user) ?? "",
      target: keptString(target) ?? "",
      notBefore,
      notAfter,
      maxUses,
      officer: keptString(officer) ?? "",
      issuerKeyId,
      uses: [],
    });
  }
}
