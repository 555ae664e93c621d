import { type ApprovalRequirement, type AuditEntry, LOG_RECOVERED_TYPE, readAuditData } from "@airgrant/core";
import { type FindingList, keptString, logRecoveredFinding } from "./finding.js";
import { OtpCounterTrack, repeatMessage } from "./otp-counters.js";
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
  /** The grant's min-trust-version, when it has one. */
  minTrustVersion?: number;
  /** Approvals the pending grant was made for (grant --approvals), when it was one. */
  approvalsNeeded?: number;
  /** The SHA-256 of the body the pending grant's approvals sign, when it was one. */
  bodySha256?: string;
  /** grant-approved entries for it in the signer log and the approver logs, in the order read, one per key (docs/two-person.md). */
  approvals: GrantApproval[];
  /** Its first grant-denied entry in those logs, when an officer denied it. */
  denied?: GrantStep;
  /** Serials of the OpenSSH certificates the signer log records for it: its grant-issued `sshCertificate`, then grant-certified entries. */
  certificates: { serial: string; seq: number }[];
  /** The request code's 18 symbols, for a grant bound to a host's request (docs/requests.md). */
  request?: string;
  /** Its first grant-revoked entry, when the signer revoked it. */
  revoked?: { seq: number; time: number };
  /** The trust version of the first signed bundle exported that revokes it. */
  revokedIn?: number;
  uses: GrantUse[];
}

/** A grant-approved or grant-denied entry matched to a grant: who, in which log and entry. */
export interface GrantStep {
  officer: string;
  /** The path of the signer or approver log holding the entry. */
  log: string;
  seq: number;
}

/** A grant-approved entry matched to a grant, with the approval key it names. */
export interface GrantApproval extends GrantStep {
  keyId: string;
}

/** Approvals, and certificates, kept per grant: a grant needs at most 3 approvals, and a hostile log must not grow one record without bound. */
const APPROVALS_KEPT = 16;
const CERTIFICATES_KEPT = 16;

/** A bundle the signer exported (a bundle-exported entry): what hosts may have installed. */
export interface ExportedBundle {
  seq: number;
  /** The grant ids it revokes. */
  revoked: ReadonlySet<string>;
  /** A signed bundle's trust version. */
  trustVersion?: number;
  /** Its approvalPolicy, when it has one. */
  approvalPolicy?: ApprovalRequirement[];
}

/** An issuer key's life as the signer log tells it (docs/auditor.md, "Issuer keys"). */
export interface IssuerKeyPeriod {
  keyId: string;
  /** The issuer-initialised or issuer-rotated entry that made it the key grants are signed with. */
  since?: { seq: number; time: string };
  /** The issuer-rotated entry that retired it: its seq, and the last second a grant of the key may start. */
  retired?: { seq: number; time: string; retireAt: number };
}

/**
 * Reads the signer log in the chain verifier's pass: every grant-issued
 * entry as a small record keyed by grant id (with its revocation, when a
 * grant-revoked entry follows it), the hash prefix of every entry (for host
 * anchors), officers' refusals, and the clock skews of the bundles exported.
 */
export class SignerLedger implements EntryCheck {
  readonly grants = new Map<string, IssuedGrant>();
  readonly chain = new SignerChainIndex();
  /** grant-refused entries per officer (refusals before an officer is known count under ""). */
  readonly refusalsByOfficer = new Map<string, number>();
  /** grant-approved and grant-denied entries per officer, in the signer and approver logs, whoever issued the grant. */
  readonly approvalsByOfficer = new Map<string, number>();
  readonly denialsByOfficer = new Map<string, number>();
  /** Approval keys (approver-enrolled, in the signer and approver logs) by key id: their officer. */
  readonly approverOfficers = new Map<string, string>();
  /** Bundles exported, by bundle id. */
  readonly bundles = new Map<string, ExportedBundle>();
  /** The largest clockSkew among bundle-exported entries, seconds; undefined when none. */
  largestExportedSkew: number | undefined;
  /** The highest trust version of a signed bundle exported, and the first entry exporting it. */
  newestExported: { trustVersion: number; seq: number } | undefined;
  /** Issuer keys by key id, in the order the log first names them. */
  readonly issuerKeys = new Map<string, IssuerKeyPeriod>();
  readonly #otpCounters = new OtpCounterTrack();

  constructor(
    private readonly path: string,
    private readonly findings: FindingList,
  ) {}

  onEntry(entry: AuditEntry): undefined {
    this.chain.add(entry.seq, entry.hash);
    checkSignerEntry(this.path, entry, this.#otpCounters, this.findings);
    this.recordApprovalStep(this.path, entry);
    if (entry.type === "grant-issued") this.recordGrant(entry);
    else if (entry.type === "grant-revoked") {
      const { grantId } = readAuditData("grant-revoked", entry.data).record;
      const grant = grantId === undefined ? undefined : this.grants.get(grantId);
      if (grant !== undefined) grant.revoked ??= { seq: entry.seq, time: Date.parse(entry.time) };
    } else if (entry.type === "grant-refused") {
      const officer = keptString(readAuditData("grant-refused", entry.data).record.officer) ?? "";
      this.refusalsByOfficer.set(officer, (this.refusalsByOfficer.get(officer) ?? 0) + 1);
    } else if (entry.type === "bundle-exported") {
      this.recordExport(entry);
    } else if (entry.type === "grant-certified") {
      const { grantId, sshCertificate } = readAuditData("grant-certified", entry.data).record;
      const grant = grantId === undefined ? undefined : this.grants.get(grantId);
      if (grant !== undefined && sshCertificate !== undefined) addCertificate(grant, sshCertificate.serial, entry.seq);
    } else if (entry.type === "issuer-initialised") {
      const { keyId } = readAuditData("issuer-initialised", entry.data).record;
      if (keyId !== undefined) this.issuerKey(keyId).since ??= { seq: entry.seq, time: entry.time };
    } else if (entry.type === "issuer-rotated") {
      const { keyId, retiredKeyId, retireAt } = readAuditData("issuer-rotated", entry.data).record;
      if (keyId !== undefined) this.issuerKey(keyId).since ??= { seq: entry.seq, time: entry.time };
      if (retiredKeyId !== undefined && retireAt !== undefined) {
        this.issuerKey(retiredKeyId).retired ??= { seq: entry.seq, time: entry.time, retireAt };
      }
    }
    return undefined;
  }

  /**
   * An officer's enrolment, approval or denial, from the signer log or an
   * approver log (docs/auditor.md, "Approvals"): counted per officer, and
   * matched to a grant of this log by grant id and, when both name one,
   * body hash, so a step for another body under the same id is not this
   * grant's.
   */
  recordApprovalStep(log: string, entry: AuditEntry): void {
    if (entry.type === "approver-enrolled") {
      const { keyId, officer } = readAuditData("approver-enrolled", entry.data).record;
      const name = keptString(officer);
      if (keyId !== undefined && name !== undefined) this.approverOfficers.set(keyId, name);
    } else if (entry.type === "grant-approved") {
      const { grantId, officer, keyId, bodySha256 } = readAuditData("grant-approved", entry.data).record;
      const name = keptString(officer) ?? "";
      this.approvalsByOfficer.set(name, (this.approvalsByOfficer.get(name) ?? 0) + 1);
      const grant = this.grantOfStep(grantId, bodySha256);
      if (
        grant !== undefined &&
        keyId !== undefined &&
        grant.approvals.length < APPROVALS_KEPT &&
        !grant.approvals.some((a) => a.keyId === keyId)
      ) {
        grant.approvals.push({ officer: name, keyId, log, seq: entry.seq });
      }
    } else if (entry.type === "grant-denied") {
      const { grantId, officer, bodySha256 } = readAuditData("grant-denied", entry.data).record;
      const name = keptString(officer) ?? "";
      this.denialsByOfficer.set(name, (this.denialsByOfficer.get(name) ?? 0) + 1);
      const grant = this.grantOfStep(grantId, bodySha256);
      if (grant !== undefined) grant.denied ??= { officer: name, log, seq: entry.seq };
    }
  }

  private grantOfStep(grantId: string | undefined, bodySha256: string | undefined): IssuedGrant | undefined {
    const grant = grantId === undefined ? undefined : this.grants.get(grantId);
    if (grant?.bodySha256 !== undefined && bodySha256 !== undefined && grant.bodySha256 !== bodySha256)
      return undefined;
    return grant;
  }

  private issuerKey(keyId: string): IssuerKeyPeriod {
    let key = this.issuerKeys.get(keyId);
    if (key === undefined) {
      key = { keyId };
      this.issuerKeys.set(keyId, key);
    }
    return key;
  }

  private recordExport(entry: AuditEntry): void {
    const { bundleId, clockSkew, revokedGrants, trustVersion, issuerKeyId, approvalPolicy } = readAuditData(
      "bundle-exported",
      entry.data,
    ).record;
    if (clockSkew !== undefined) this.largestExportedSkew = Math.max(this.largestExportedSkew ?? 0, clockSkew);
    if (issuerKeyId !== undefined) this.issuerKey(issuerKeyId);
    if (bundleId !== undefined) {
      this.bundles.set(bundleId, {
        seq: entry.seq,
        revoked: new Set(revokedGrants ?? []),
        ...(trustVersion === undefined ? {} : { trustVersion }),
        ...(approvalPolicy === undefined ? {} : { approvalPolicy: approvalPolicy.flatMap(parsePolicyEntry) }),
      });
    }
    if (trustVersion === undefined) return;
    if (this.newestExported === undefined || trustVersion > this.newestExported.trustVersion) {
      this.newestExported = { trustVersion, seq: entry.seq };
    }
    for (const grantId of revokedGrants ?? []) {
      const grant = this.grants.get(grantId);
      if (grant !== undefined) grant.revokedIn ??= trustVersion;
    }
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
      ...(record.minTrustVersion === undefined ? {} : { minTrustVersion: record.minTrustVersion }),
      ...(record.approvalsNeeded === undefined ? {} : { approvalsNeeded: record.approvalsNeeded }),
      ...(record.bodySha256 === undefined ? {} : { bodySha256: record.bodySha256 }),
      approvals: [],
      certificates:
        record.sshCertificate === undefined ? [] : [{ serial: record.sshCertificate.serial, seq: entry.seq }],
      ...(record.request === undefined ? {} : { request: record.request }),
      uses: [],
    });
  }
}

function addCertificate(grant: IssuedGrant, serial: string, seq: number): void {
  if (grant.certificates.length < CERTIFICATES_KEPT && !grant.certificates.some((c) => c.serial === serial)) {
    grant.certificates.push({ serial, seq });
  }
}

/** What every signer log, the signer's or an approver workstation's, is checked for entry by entry: OTP counters and torn appends. */
export function checkSignerEntry(path: string, entry: AuditEntry, otp: OtpCounterTrack, findings: FindingList): void {
  const repeat = otp.onEntry(entry);
  if (repeat !== undefined) {
    findings.add({
      code: "otp-counter-not-increasing",
      log: path,
      seq: repeat.at.seq,
      ...(repeat.grantId === undefined ? {} : { grantId: repeat.grantId }),
      time: entry.time,
      message: repeatMessage(repeat),
    });
  }
  if (entry.type === LOG_RECOVERED_TYPE) findings.add(logRecoveredFinding(path, entry));
}

/** A bundle-exported `approvalPolicy` entry, `TARGET=N` as the signer writes it; none when it is not one. */
function parsePolicyEntry(text: string): ApprovalRequirement[] {
  const eq = text.lastIndexOf("=");
  const count = text.slice(eq + 1);
  if (eq < 1 || !/^[0-3]$/.test(count)) return [];
  return [{ target: text.slice(0, eq), approvals: Number(count) }];
}
