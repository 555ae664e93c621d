/**
 * Which trust version each host applied and when (docs/auditor.md, "Trust
 * versions"), from the `bundle-installed` entries of its log
 * (docs/verifier.md): a signed (version 2) bundle's entry has its
 * `trustVersion`; an unsigned one's has none.
 */

/** One bundle-installed entry of a host log. */
export interface TrustApplied {
  seq: number;
  /** The entry's time, ISO 8601. */
  time: string;
  bundleId: string;
  /** Absent for an unsigned (version 1) bundle. */
  trustVersion?: number;
}

export interface HostTrust {
  /** The host log's path. */
  log: string;
  /** Its bundle-installed entries in log order, the first APPLIED_KEPT of them. */
  applied: TrustApplied[];
  /** bundle-installed entries past APPLIED_KEPT, counted only. */
  appliedOmitted: number;
  /** The last one's: what the host held when its log ends. */
  last?: TrustApplied;
}

/** The newest trust version any log shows: a host's install, or the signer's export. */
export interface NewestTrust {
  trustVersion: number;
  log: string;
  seq: number;
}

/** bundle-installed entries kept per host log: a hostile log may hold millions. */
export const APPLIED_KEPT = 1000;

export class TrustHistory {
  readonly hosts: HostTrust[] = [];
  newest: NewestTrust | undefined;

  /** Every host log is listed, whether or not it installed anything. */
  hostLog(log: string): HostTrust {
    const host: HostTrust = { log, applied: [], appliedOmitted: 0 };
    this.hosts.push(host);
    return host;
  }

  applied(host: HostTrust, applied: TrustApplied): void {
    if (host.applied.length < APPLIED_KEPT) host.applied.push(applied);
    else host.appliedOmitted++;
    host.last = applied;
    if (applied.trustVersion !== undefined) this.seen(applied.trustVersion, host.log, applied.seq);
  }

  /** A trust version some log shows; the newest is kept, the first log and entry to show it. */
  seen(trustVersion: number, log: string, seq: number): void {
    if (this.newest === undefined || trustVersion > this.newest.trustVersion) this.newest = { trustVersion, log, seq };
  }

  /** Host logs whose last bundle is older than the newest trust version seen, unsigned, or none at all. */
  behind(): HostTrust[] {
    const newest = this.newest;
    if (newest === undefined) return [];
    return this.hosts.filter((h) => (h.last?.trustVersion ?? 0) < newest.trustVersion);
  }
}
