import type { AuditEntry, AuditValue } from "@airgrant/core";
import { type FindingList, keptString } from "./finding.js";
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

  constructor(
    private readonly path: string,
    private readonly findings: FindingList,
  ) {}

  onEntry(entry: AuditEntry): undefined {
    this.chain.add(entry.seq, entry.hash);
    if (entry.type === "grant-issued") this.recordGrant(entry);
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
