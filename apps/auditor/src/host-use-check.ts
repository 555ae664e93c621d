import {
  type AuditEntry,
  type AuditRecord,
  type AuditValue,
  approvalRequirementFor,
  isoSeconds,
  LOG_RECOVERED_TYPE,
  readAuditData,
  targetsCoverHost,
} from "@airgrant/core";
import { type Finding, type FindingList, keptString, logRecoveredFinding } from "./finding.js";
import type { ExportedBundle, IssuedGrant, SignerLedger } from "./signer-ledger.js";
import type { EntryCheck } from "./stream-log.js";
import type { HostTrust, TrustHistory } from "./trust-history.js";

/** Where a use was recorded. */
interface UseAt {
  host: string;
  seq: number;
  time: string;
}

/** What one host (by the name its entries give) did, for the per-host table. */
export interface HostTally {
  host: string;
  /** grant-check entries: every login attempt with a grant. */
  checks: number;
  /** Allowed checks: uses of a grant. */
  uses: number;
  /** Refused checks, by verdict code. */
  refusals: Map<string, number>;
  /** Indexes of the host logs that named this host. */
  logs: Set<number>;
}

/** A session of a grant's login as its host logged its close (docs/verifier.md, "When a session ends"). */
export interface SessionRow {
  host: string;
  user: string;
  grantId: string;
  reason: "logout" | "expiry" | "reboot";
  /** When it opened and when its access ended, seconds. */
  openedAt: number;
  accessEndsAt: number;
  /** Its length, seconds; absent for a session found after a reboot. */
  seconds?: number;
  /** The session-closed entry's time, ISO 8601, its log and sequence number. */
  time: string;
  log: string;
  seq: number;
  /** Seconds it closed after its access ended, when beyond SESSION_END_TOLERANCE. */
  outlived?: number;
}

export interface SessionTally {
  /** session-closed entries, by reason. */
  byReason: Record<SessionRow["reason"], number>;
  /** The first SESSIONS_LISTED of them, in the order the logs were read. */
  listed: SessionRow[];
}

/** Sessions listed one by one; the rest are counted. */
export const SESSIONS_LISTED = 1000;

/**
 * How long after its access end a session may close before it outlived its
 * grant: the watcher looks every second and gives the processes a second
 * after SIGTERM; a minute leaves room for a loaded host.
 */
export const SESSION_END_TOLERANCE = 60;

/** What the host-log checks share: the signer's ledger, the bundle's groups and skew, the findings. */
export interface HostCheckContext {
  ledger: SignerLedger;
  /** Host groups from --bundle; undefined when no bundle was given. */
  groups: Readonly<Record<string, readonly string[]>> | undefined;
  /** Seconds of clock skew a host allows either side of a grant's window. */
  clockSkew: number;
  findings: FindingList;
  hosts: Map<string, HostTally>;
  /** Uses of group grants whose host could not be checked against the group (no --bundle). */
  unresolvedGroupUses: number;
  /** Uses after the signer log revoked the grant, on a host whose bundle did not yet revoke it. */
  revocationGaps: RevocationGaps;
  /** Uses of grants starting after their issuer key's retireAt, on a host whose bundle predates the rotation. */
  retirementGaps: number;
  /** The bundles each host log installed, and the newest trust version seen. */
  trust: TrustHistory;
  sessions: SessionTally;
  /** Request-bound uses whose host clock and signer clock disagreed by more than the skew. */
  clockDisagreements: ClockDisagreements;
}

/** A request-bound use whose `signerAhead` lies wholly outside ±skew: a note, the host could not tell. */
export interface ClockDisagreement {
  grantId: string;
  host: string;
  log: string;
  seq: number;
  /** Seconds the signer's clock was ahead of the host's, at least and at most (negative: behind). */
  least: number;
  most: number;
}

export interface ClockDisagreements {
  count: number;
  /** The first few, in the order the logs were read. */
  first: ClockDisagreement[];
}

/** A use of a revoked grant that its host could not refuse yet: not a finding, a note naming the gap. */
export interface RevocationGap {
  grantId: string;
  host: string;
  log: string;
  seq: number;
  /** The use's entry time, ISO 8601. */
  time: string;
  /** The signer log's grant-revoked entry: sequence number and milliseconds since the epoch. */
  revoked: { seq: number; time: number };
  /** The trust version of the first signed bundle the signer exported that revokes it. */
  revokedIn?: number;
  /** The trust version the host had installed at the use; absent for an unsigned bundle or none. */
  hostTrustVersion?: number;
}

export interface RevocationGaps {
  count: number;
  /** The first few, in the order the logs were read. */
  first: RevocationGap[];
}

/** Gaps and disagreements named one by one in their notes; the rest are counted. */
export const REVOCATION_GAPS_NAMED = 10;

const GROUP_PREFIX = "group:";

/**
 * A use of a grant on a host is a `grant-check` entry with verdict `allowed`
 * (docs/verifier.md, "Audit entries"): written by `airgrant-verifier check`,
 * by the PAM entry point (which adds pamService, pamRhost, pamTty) and by
 * `ssh-session` when sshd opens a session with a grant's certificate (`via`
 * `ssh-certificate`; it has an anchor only when it carries the grant's body
 * in approvals@airgrant). `ssh-principals` entries, which
 * hosts that ran a principals command at authentication wrote, are not uses.
 */
export class HostUseCheck implements EntryCheck {
  /** The bundle this host had installed last (its bundle-installed entry), when the signer exported it. */
  private installed: { bundleId: string; seq: number; exported: ExportedBundle } | undefined;
  private readonly trust: HostTrust;
  /** Its `requestPolicy.required`, as the host's bundle-installed entry records it. */
  private requestsRequired: readonly string[] = [];
  /** This host's request-created entries, by code. */
  private readonly requests = new Map<string, { user: string; created: number; lifetime: number; seq: number }>();

  constructor(
    private readonly context: HostCheckContext,
    private readonly path: string,
    private readonly logIndex: number,
  ) {
    this.trust = context.trust.hostLog(path);
  }

  onEntry(entry: AuditEntry): undefined {
    if (entry.type === LOG_RECOVERED_TYPE) this.context.findings.add(logRecoveredFinding(this.path, entry));
    if (entry.type === "bundle-installed") this.recordBundle(entry);
    if (entry.type === "session-closed") this.recordSession(entry);
    if (entry.type === "request-created") this.recordRequest(entry);
    if (entry.type !== "grant-check") return undefined;
    const { record: d, problems } = readAuditData("grant-check", entry.data);
    const host = keptString(d.host)?.toLowerCase();
    const tally = this.tally(host ?? "");
    tally.checks++;
    if (d.verdict !== "allowed") {
      const code = keptString(d.verdict) ?? "(none)";
      tally.refusals.set(code, (tally.refusals.get(code) ?? 0) + 1);
      return undefined;
    }
    tally.uses++;
    const { grantId } = d;
    const user = keptString(d.user);
    const time = Date.parse(entry.time);
    if (grantId === undefined || user === undefined || host === undefined) {
      this.add({
        code: "malformed-record",
        log: this.path,
        seq: entry.seq,
        time: entry.time,
        message: `allowed grant-check has ${(problems.length > 0 ? problems : ["no grantId"]).join(", ").slice(0, 300)}`,
      });
      return undefined;
    }
    const at = { log: this.path, seq: entry.seq, grantId, host, user, time: entry.time };
    if (problems.length > 0) {
      this.add({
        code: "malformed-record",
        ...at,
        message: `allowed grant-check has ${problems.join(", ").slice(0, 300)}`,
      });
    }
    const grant = this.context.ledger.grants.get(grantId);
    // Present but not {seq, head}: readAuditData left it out, and that too is an anchor off the chain.
    if (Object.hasOwn(entry.data, "anchor")) this.checkAnchor(d.anchor, grant, at);
    if (grant === undefined) {
      this.add({ code: "unknown-grant", ...at, message: `used on ${host} by ${user}; the signer log never issued it` });
      return undefined;
    }
    grant.uses.push({ log: this.logIndex, seq: entry.seq, time, host, user });
    if (user !== grant.user) {
      this.add({ code: "user-mismatch", ...at, message: `${user} logged in with a grant issued for ${grant.user}` });
    }
    this.checkTarget(grant, at);
    this.checkGrantFacts(d, grant, at);
    if (d.request === undefined) {
      this.checkWindow(time, grant, at);
      this.checkRequestNotRequired(at);
    } else this.checkRequest(d, time, at);
    this.checkRevocation(grant, at);
    this.checkRetirement(grant, at);
    this.checkTrustVersion(grant, at);
    this.checkApprovals(d, grant, at);
    this.checkCertificate(d, grant, at);
    return undefined;
  }

  /**
   * docs/trust-bundle.md, "Approvals": a host lets a grant in only with as
   * many approvals, by distinct officers, as its policy entry needs. The
   * entry is the larger of what the host's own entry says it needed and
   * what the policy of the bundle it installed (as the signer exported it)
   * needs for this host; the approvals are the key ids the host counted,
   * one per officer as the signer log enrolled them. Each key the host
   * counted must have a grant-approved entry for the grant in a log given.
   */
  private checkApprovals(
    d: Partial<AuditRecord<"grant-check">>,
    grant: IssuedGrant,
    at: Omit<Finding, "code" | "message"> & UseAt,
  ): void {
    this.checkApprovalsLogged(d.approvers ?? [], grant, at);
    const policy = this.installed?.exported.approvalPolicy;
    const fromBundle =
      policy === undefined ? undefined : approvalRequirementFor(policy, this.context.groups ?? {}, at.host)?.approvals;
    const needed = Math.max(d.approvalsNeeded ?? 0, fromBundle ?? 0);
    if (needed === 0) return;
    const officers = new Set(
      (d.approvers ?? []).map((keyId) => this.context.ledger.approverOfficers.get(keyId) ?? keyId),
    );
    if (officers.size >= needed) return;
    const which = officers.size === 0 ? "none" : [...officers].join(", ");
    this.add({
      code: "approvals-unmet",
      ...at,
      message: `the host's policy needs ${needed} approval(s) by distinct officers for ${at.host}; it counted ${officers.size} (${which})`,
    });
  }

  /**
   * airgrant-signer logs every certificate it makes (grant --ssh-pubkey,
   * certify), so a certificate use whose serial the signer log does not
   * record for the grant came from a CA key signing outside it.
   */
  private checkCertificate(
    d: Partial<AuditRecord<"grant-check">>,
    grant: IssuedGrant,
    at: Omit<Finding, "code" | "message"> & UseAt,
  ): void {
    if (d.via !== "ssh-certificate" || d.sshSerial === undefined) return;
    const serial = d.sshSerial;
    if (grant.certificates.some((c) => c.serial === serial)) return;
    const logged = grant.certificates.length === 0 ? "none" : grant.certificates.map((c) => c.serial).join(", ");
    this.add({
      code: "certificate-unlogged",
      ...at,
      message: `an OpenSSH certificate with serial ${serial} was used; the signer log records ${logged} for this grant (grant-issued sshCertificate, grant-certified)`,
    });
  }

  /**
   * airgrant-signer logs every approval it signs, so a key the host counted
   * with no grant-approved entry in the logs given was approved at a
   * workstation whose log is missing, or signed outside airgrant-signer.
   */
  private checkApprovalsLogged(
    approvers: readonly string[],
    grant: IssuedGrant,
    at: Omit<Finding, "code" | "message"> & UseAt,
  ): void {
    const unlogged = [...new Set(approvers)].filter((keyId) => !grant.approvals.some((a) => a.keyId === keyId));
    if (unlogged.length === 0) return;
    const keys = unlogged.map((keyId) => {
      const officer = this.context.ledger.approverOfficers.get(keyId);
      return officer === undefined ? keyId : `${keyId} (${officer})`;
    });
    this.add({
      code: "approval-unlogged",
      ...at,
      message: `the host counted approval key(s) ${keys.join(", ")}, whose approval of this grant no signer or approver log given records: give the log of the workstation where it was approved, or the key signed outside airgrant-signer`,
    });
  }

  /**
   * A use after the host installed a bundle that revokes the grant is a
   * finding; one after the signer revoked it, before the host had such a
   * bundle, is the gap a note names, with the trust versions on either side.
   */
  private checkRevocation(grant: IssuedGrant, at: Omit<Finding, "code" | "message"> & UseAt): void {
    const installed = this.installed;
    if (installed?.exported.revoked.has(grant.grantId)) {
      const version =
        installed.exported.trustVersion === undefined ? "" : ` (trust version ${installed.exported.trustVersion})`;
      this.add({
        code: "revoked-grant-used",
        ...at,
        message: `the grant is revoked in bundle ${installed.bundleId}${version}, which this host installed at entry ${installed.seq}`,
      });
      return;
    }
    if (grant.revoked === undefined || grant.revoked.time > Date.parse(at.time)) return;
    const gaps = this.context.revocationGaps;
    gaps.count++;
    if (gaps.first.length >= REVOCATION_GAPS_NAMED) return;
    const hostTrustVersion = this.trust.last?.trustVersion;
    gaps.first.push({
      grantId: grant.grantId,
      host: at.host,
      log: this.path,
      seq: at.seq,
      time: at.time,
      revoked: grant.revoked,
      ...(grant.revokedIn === undefined ? {} : { revokedIn: grant.revokedIn }),
      ...(hostTrustVersion === undefined ? {} : { hostTrustVersion }),
    });
  }

  /**
   * docs/grant-format.md, "Extensions": a host refuses a grant whose
   * min-trust-version is above the trust version it holds. One that let it
   * in while its own log says it held less did not check, or lies.
   */
  private checkTrustVersion(grant: IssuedGrant, at: Omit<Finding, "code" | "message">): void {
    const needed = grant.minTrustVersion;
    const held = this.trust.last?.trustVersion;
    if (needed === undefined || (held !== undefined && held >= needed)) return;
    this.add({
      code: "trust-version-unmet",
      ...at,
      message: `the grant needs trust version ${needed}; this host's log says it held ${held === undefined ? "no signed bundle" : `trust version ${held}`}`,
    });
  }

  /**
   * docs/trust-bundle.md, "Issuer key rotation": a grant that starts after
   * its issuer key's retireAt is refused by every bundle the signer exported
   * after the rotation (a signed one lists the retireAt, an unsigned one
   * drops the key). A host holding such a bundle that let it in is a
   * finding; one holding an older bundle could not know, and is counted.
   */
  private checkRetirement(grant: IssuedGrant, at: Omit<Finding, "code" | "message">): void {
    const retired = this.context.ledger.issuerKeys.get(grant.issuerKeyId)?.retired;
    if (retired === undefined || grant.notBefore <= retired.retireAt) return;
    const installed = this.installed;
    if (installed === undefined || installed.exported.seq < retired.seq) {
      this.context.retirementGaps++;
      return;
    }
    this.add({
      code: "retired-issuer-used",
      ...at,
      message: `the grant starts at ${isoSeconds(grant.notBefore)}, after its issuer key ${grant.issuerKeyId} was retired at ${isoSeconds(retired.retireAt)} (signer log entry ${retired.seq}), and this host held bundle ${installed.bundleId}, exported after that, since entry ${installed.seq}`,
    });
  }

  /**
   * docs/verifier.md: install-bundle logs the bundle's id. A host must only
   * trust bundles the signer exported: one the signer log does not record
   * may carry issuer keys that are not the signer's.
   */
  private recordBundle(entry: AuditEntry): void {
    const { bundleId, trustVersion, requestPolicy } = readAuditData("bundle-installed", entry.data).record;
    this.requestsRequired = requestPolicy?.required ?? [];
    this.context.trust.applied(this.trust, {
      seq: entry.seq,
      time: entry.time,
      bundleId: keptString(bundleId) ?? "(no id)",
      ...(trustVersion === undefined ? {} : { trustVersion }),
    });
    const exported = bundleId === undefined ? undefined : this.context.ledger.bundles.get(bundleId);
    if (bundleId === undefined || exported === undefined) {
      this.installed = undefined;
      this.add({
        code: "bundle-not-exported",
        log: this.path,
        seq: entry.seq,
        time: entry.time,
        message: `the host installed bundle ${bundleId ?? "(no id)"}, which the signer log never exported`,
      });
      return;
    }
    this.installed = { bundleId, seq: entry.seq, exported };
  }

  /**
   * A session-closed entry: the session's length for the report, and a
   * finding when it closed more than SESSION_END_TOLERANCE after its access
   * ended (a watcher gone with no verifier start after it, or a host that
   * does not end sessions).
   */
  private recordSession(entry: AuditEntry): void {
    const { record: d, problems } = readAuditData("session-closed", entry.data);
    const { reason, grantId, openedAt, accessEndsAt } = d;
    const user = keptString(d.user);
    const host = keptString(d.host)?.toLowerCase();
    if (
      problems.length > 0 ||
      reason === undefined ||
      grantId === undefined ||
      user === undefined ||
      host === undefined ||
      openedAt === undefined ||
      accessEndsAt === undefined
    ) {
      this.add({
        code: "malformed-record",
        log: this.path,
        seq: entry.seq,
        time: entry.time,
        message: `session-closed has ${problems.join(", ").slice(0, 300)}`,
      });
      return;
    }
    const sessions = this.context.sessions;
    sessions.byReason[reason]++;
    const closedAt = Math.floor(Date.parse(entry.time) / 1000);
    const late = closedAt - accessEndsAt;
    const row: SessionRow = {
      host,
      user,
      grantId,
      reason,
      openedAt,
      accessEndsAt,
      time: entry.time,
      log: this.path,
      seq: entry.seq,
    };
    if (d.seconds !== undefined) row.seconds = d.seconds;
    if (late > SESSION_END_TOLERANCE) {
      row.outlived = late;
      this.add({
        code: "session-outlived-grant",
        log: this.path,
        seq: entry.seq,
        grantId,
        host,
        user,
        time: entry.time,
        message: `the session (${reason}) closed at ${entry.time}, ${late} s after its access ended at ${isoSeconds(accessEndsAt)} (tolerance ${SESSION_END_TOLERANCE} s)`,
      });
    }
    if (sessions.listed.length < SESSIONS_LISTED) sessions.listed.push(row);
  }

  private recordRequest(entry: AuditEntry): void {
    const { request, user, created, lifetime } = readAuditData("request-created", entry.data).record;
    if (request === undefined || user === undefined || created === undefined || lifetime === undefined) return;
    this.requests.set(request, { user: keptString(user) ?? "", created, lifetime, seq: entry.seq });
  }

  /**
   * docs/requests.md: a request-bound use redeems a request this host made,
   * for that account, and logged before; it is judged by the request's age
   * on the host's clock, not by the grant's window. How far apart the two
   * clocks were is a note.
   */
  private checkRequest(
    d: Partial<AuditRecord<"grant-check">>,
    time: number,
    at: Omit<Finding, "code" | "message"> & { grantId: string; host: string; user: string; seq: number },
  ): void {
    const code = d.request as string;
    const made = this.requests.get(code);
    if (made === undefined || made.user !== at.user) {
      this.add({
        code: "request-not-logged",
        ...at,
        message: `bound to request ${code}, which this host's log ${made === undefined ? "never made" : `made for ${made.user}`} (no request-created entry for ${at.user} before it)`,
      });
    } else {
      const age = Math.floor(time / 1000) - made.created;
      if (age < 0 || age >= made.lifetime) {
        this.add({
          code: "use-outside-window",
          ...at,
          message: `used ${age} s after its request (request-created entry ${made.seq}); requests lasted ${made.lifetime} s`,
        });
      }
    }
    const ahead = d.signerAhead;
    const skew = this.context.clockSkew;
    if (ahead === undefined || (ahead.least <= skew && ahead.most >= -skew)) return;
    const notes = this.context.clockDisagreements;
    notes.count++;
    if (notes.first.length < REVOCATION_GAPS_NAMED) {
      notes.first.push({ grantId: at.grantId, host: at.host, log: at.log, seq: at.seq, ...ahead });
    }
  }

  /** A host whose installed bundle requires requests let no grant in without one. */
  private checkRequestNotRequired(at: Omit<Finding, "code" | "message"> & { host: string }): void {
    const required = this.requestsRequired;
    if (!targetsCoverHost(required, this.context.groups ?? {}, at.host)) return;
    this.add({
      code: "unbound-grant-used",
      ...at,
      message: `used without a request on ${at.host}, whose installed bundle requires requests (${required.join(",")})`,
    });
  }

  private add(finding: Finding): void {
    this.context.findings.add(finding);
  }

  private tally(host: string): HostTally {
    let tally = this.context.hosts.get(host);
    if (tally === undefined) {
      tally = { host, checks: 0, uses: 0, refusals: new Map(), logs: new Set() };
      this.context.hosts.set(host, tally);
    }
    tally.logs.add(this.logIndex);
    return tally;
  }

  /**
   * The grant's anchor (docs/grant-format.md) is the signer log's head when
   * the grant was minted. It must be an entry of the signer log as carried
   * out, with the same hash prefix, and before the grant's own grant-issued
   * entry; otherwise the signer log was cut short, rewritten, or is not the
   * log that issued the grant.
   */
  private checkAnchor(
    anchor: { seq: number; head: string } | undefined,
    grant: IssuedGrant | undefined,
    at: Omit<Finding, "code" | "message">,
  ): void {
    const chain = this.context.ledger.chain;
    let problem: string | undefined;
    if (anchor === undefined) {
      problem = "the anchor is not {seq, head: 16 hex}";
    } else {
      const { seq, head } = anchor;
      const prefix = chain.prefixAt(seq);
      if (prefix === undefined) {
        problem = `anchor ${seq}/${head} is beyond the signer log, which has ${chain.head} verified entries (cut short, or another signer's log)`;
      } else if (prefix !== head) {
        problem = `anchor ${seq}/${head}, but signer log entry ${seq} has hash ${prefix}… (rewritten, or another signer's log)`;
      } else if (grant !== undefined && seq >= grant.seq) {
        problem = `anchor ${seq} is not before the grant's grant-issued entry ${grant.seq}`;
      }
    }
    if (problem !== undefined) this.add({ code: "anchor-not-on-chain", ...at, message: problem });
  }

  private checkTarget(grant: IssuedGrant, at: Omit<Finding, "code" | "message"> & { host: string }): void {
    const host = at.host;
    if (!grant.target.startsWith(GROUP_PREFIX)) {
      if (host !== grant.target.toLowerCase()) {
        this.add({ code: "target-mismatch", ...at, message: `used on ${host}; the grant is for ${grant.target}` });
      }
      return;
    }
    const groups = this.context.groups;
    if (groups === undefined) {
      this.context.unresolvedGroupUses++;
      return;
    }
    const name = grant.target.slice(GROUP_PREFIX.length);
    const members = Object.hasOwn(groups, name) ? groups[name] : undefined;
    if (members === undefined) {
      this.add({
        code: "target-mismatch",
        ...at,
        message: `used on ${host}; the grant is for ${grant.target}, a group the bundle does not have`,
      });
    } else if (!members.includes(host)) {
      this.add({
        code: "target-mismatch",
        ...at,
        message: `used on ${host}; the grant is for ${grant.target}, which the bundle says does not hold ${host}`,
      });
    }
  }

  /**
   * What the host read from the grant it accepted must be what the signer
   * issued under that id: a difference means a grant the signer log does not
   * describe (forged with the issuer key, or the signer log rewritten).
   */
  private checkGrantFacts(
    d: Partial<AuditRecord<"grant-check">>,
    grant: IssuedGrant,
    at: Omit<Finding, "code" | "message">,
  ): void {
    const expected: Array<[string, AuditValue | undefined, string | number]> = [
      ["principal", d.principal, grant.user],
      ["target", d.target, grant.target],
      ["issuer", d.issuer, grant.issuerKeyId],
      ["notBefore", d.notBefore, grant.notBefore],
      ["notAfter", d.notAfter, grant.notAfter],
      ["maxUses", d.maxUses, grant.maxUses],
      ["request", d.request, grant.request ?? "(none)"],
    ];
    const differences = expected
      .filter(([, seen, issued]) => seen !== undefined && seen !== issued)
      .map(
        ([name, seen, issued]) =>
          `${name} ${JSON.stringify(keptString(seen) ?? seen)} (issued: ${JSON.stringify(issued)})`,
      );
    if (differences.length > 0) {
      this.add({ code: "grant-mismatch", ...at, message: `the host saw ${differences.join(", ")}` });
    }
  }

  /**
   * docs/verifier.md: a host accepts a grant from notBefore − skew until
   * before notAfter + skew, in whole seconds. The entry's time is stamped
   * when the check is recorded, right after the decision.
   */
  private checkWindow(time: number, grant: IssuedGrant, at: Omit<Finding, "code" | "message">): void {
    const now = Math.floor(time / 1000);
    const skew = this.context.clockSkew;
    if (now + skew < grant.notBefore || now - skew >= grant.notAfter) {
      const window = `${isoSeconds(grant.notBefore)} to ${isoSeconds(grant.notAfter)}`;
      this.add({
        code: "use-outside-window",
        ...at,
        message: `used at ${at.time}; the grant's window is ${window} (clock skew ${skew} s)`,
      });
    }
  }
}
