import { type AuditEntry, type AuditValue, LOG_RECOVERED_TYPE } from "@airgrant/core";
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

const GRANT_ID_PATTERN = /^[0-9a-f]{32}$/;

/** A bundle the signer exported (a bundle-exported entry): what hosts may have installed. */
export interface ExportedBundle {
  seq: number;
  /** The grant ids it revokes. */
  revoked: ReadonlySet<string>;
}

function isCount(value: AuditValue | undefined, min: number): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
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
      const officer = keptString(entry.data.officer) ?? "";
      this.refusalsByOfficer.set(officer, (this.refusalsByOfficer.get(officer) ?? 0) + 1);
    } else if (entry.type === "bundle-exported") {
      const { bundleId, clockSkew, revokedGrants } = entry.data;
      if (isCount(clockSkew, 0)) this.largestExportedSkew = Math.max(this.largestExportedSkew ?? 0, clockSkew);
      if (typeof bundleId === "string") {
        const revoked = Array.isArray(revokedGrants)
          ? revokedGrants.filter((id): id is string => typeof id === "string" && GRANT_ID_PATTERN.test(id))
          : [];
        this.bundles.set(bundleId, { seq: entry.seq, revoked: new Set(revoked) });
      }
    }
    return undefined;
  }

  /**
   * An accepted OTP's counter (`otpCounter`, docs/signer.md) must be above
   * every earlier one of its YubiKey: one that is not is an OTP accepted
   * twice, a home rolled back or a log edited.
   */
  private checkOtpCounter(entry: AuditEntry): void {
    const { yubikeyId, otpCounter } = entry.data;
    if (typeof yubikeyId !== "string" || !Array.isArray(otpCounter) || otpCounter.length !== 2) return;
    const [usage, session] = otpCounter;
    if (!isCount(usage, 0) || !isCount(session, 0)) return;
    const id = keptString(yubikeyId) ?? "";
    const last = this.#otpCounters.get(id);
    if (last !== undefined && (usage < last.usage || (usage === last.usage && session <= last.session))) {
      this.findings.add({
        code: "otp-counter-not-increasing",
        log: this.path,
        seq: entry.seq,
        ...(typeof entry.data.grantId === "string" && GRANT_ID_PATTERN.test(entry.data.grantId)
          ? { grantId: entry.data.grantId }
          : {}),
        time: entry.time,
        message: `YubiKey ${id}'s OTP counter [${usage},${session}] is not above the [${last.usage},${last.session}] of entry ${last.seq}: an OTP accepted twice, or the signer's home rolled back`,
      });
      return;
    }
    this.#otpCounters.set(id, { usage, session, seq: entry.seq });
  }

  private recordGrant(entry: AuditEntry): void {
    const d = entry.data;
    const grantId = typeof d.grantId === "string" && GRANT_ID_PATTERN.test(d.grantId) ? d.grantId : undefined;
    const user = keptString(d.user);
    const target = keptString(d.target);
    const officer = keptString(d.officer);
    const issuerKeyId = keptString(d.issuerKeyId);
    const { notBefore, notAfter, maxUses } = d;
    const missing = [
      grantId === undefined && "grantId",
      user === undefined && "user",
      target === undefined && "target",
      !isCount(notBefore, 0) && "notBefore",
      !isCount(notAfter, 0) && "notAfter",
      !isCount(maxUses, 1) && "maxUses",
      officer === undefined && "officer",
      issuerKeyId === undefined && "issuerKeyId",
    ].filter((m): m is string => m !== false);
    if (
      grantId === undefined ||
      user === undefined ||
      target === undefined ||
      officer === undefined ||
      issuerKeyId === undefined ||
      !isCount(notBefore, 0) ||
      !isCount(notAfter, 0) ||
      !isCount(maxUses, 1)
    ) {
      this.findings.add({
        code: "malformed-record",
        log: this.path,
        seq: entry.seq,
        ...(grantId === undefined ? {} : { grantId }),
        time: entry.time,
        message: `grant-issued entry lacks or has a bad ${missing.join(", ")}`,
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
      user,
      target,
      notBefore,
      notAfter,
      maxUses,
      officer,
      issuerKeyId,
      uses: [],
    });
  }
}
