import { AirgrantError, isoSeconds, type SealReceipt, type TrustBundle } from "@airgrant/core";
import { ApproverLog } from "./approver-log.js";
import { FINDING_CODES, type Finding, type FindingCode, FindingList } from "./finding.js";
import {
  type ClockDisagreements,
  type HostCheckContext,
  type HostTally,
  HostUseCheck,
  type RevocationGaps,
  type SessionTally,
} from "./host-use-check.js";
import { headsNotGiven, type KnownHead, type KnownHeads } from "./known-heads.js";
import { LogEvidence } from "./log-evidence.js";
import { type IssuedGrant, type IssuerKeyPeriod, SignerLedger } from "./signer-ledger.js";
import { type EntryCheck, type LogSummary, streamLog } from "./stream-log.js";
import { type HostTrust, type NewestTrust, TrustHistory } from "./trust-history.js";

export interface ReconcileInput {
  signerLog: string;
  /** Signer logs of workstations where officers approved or denied grants (`--approver-log`). */
  approverLogs?: readonly string[];
  hostLogs: readonly string[];
  /** The trust bundle the hosts were given: its groups and clock skew, and the issuer keys that check checkpoints. */
  bundle?: TrustBundle;
  /** Install receipts of host logs (`--key`), with the file each came from: each log whose id matches one has every seal checked. */
  receipts?: readonly { path: string; receipt: SealReceipt }[];
  /** The heads an earlier audit saw (`--since`): each log that was in it must still hold its head. */
  known?: KnownHeads;
  /** Findings kept in full; the rest are counted by code (default 100,000). */
  findingLimit?: number;
}

export interface OfficerTally {
  officer: string;
  issued: number;
  used: number;
  neverUsed: number;
  uses: number;
  refusals: number;
  /** grant-approved and grant-denied entries of the signer and approver logs by this officer (docs/two-person.md). */
  approvals: number;
  denials: number;
  findings: number;
}

export interface Reconciliation {
  /** No findings at all. */
  ok: boolean;
  logs: LogSummary[];
  clockSkew: { seconds: number; source: "bundle" | "signer-log" | "none" };
  /** Whether group targets were checked against the bundle's groups. */
  groupsResolved: boolean;
  /** Uses of group grants matched by group name only (no --bundle). */
  unresolvedGroupUses: number;
  /** Uses after the signer log revoked the grant, before the host installed a bundle revoking it. */
  revocationGaps: RevocationGaps;
  /** Uses of grants starting after their issuer key's retireAt, on hosts whose bundle predates the rotation. */
  retirementGaps: number;
  /** Which trust version each host log applied and when, the newest seen, and the host logs behind it. */
  trustVersions: { newest: NewestTrust | undefined; hosts: HostTrust[]; behind: string[] };
  /** Every issuer key the signer log or --bundle names, and when it was valid. */
  issuerKeys: IssuerKeyReport[];
  /** The sessions of grants' logins, as their hosts logged them closed. */
  sessions: SessionTally;
  /** Request-bound uses whose host clock disagreed with the signer's by more than the skew. */
  clockDisagreements: ClockDisagreements;
  grantsIssued: number;
  grantsUsed: number;
  uses: number;
  /** Findings, chain-broken first, then by code, log and entry. */
  findings: Finding[];
  /** Findings beyond the limit, counted by code. */
  findingsOmitted: Partial<Record<FindingCode, number>>;
  findingsTotal: number;
  /** Grants issued and never used, in issue order (informational, not a finding). */
  neverUsed: IssuedGrant[];
  /** Every grant the signer log issued, in issue order, with its uses. */
  grants: IssuedGrant[];
  hosts: HostTally[];
  officers: OfficerTally[];
  /** Logs the earlier audit (`--since`) saw that were not given this time, so not checked against it. */
  sinceNotGiven: KnownHead[];
}

/** An issuer key's life: from the signer log (issuer-initialised, issuer-rotated), and as --bundle lists it. */
export interface IssuerKeyReport extends IssuerKeyPeriod {
  bundle?: { notBefore: number; notAfter: number; retireAt?: number };
}

const DEFAULT_FINDING_LIMIT = 100_000;
/** Uses named in one grant-overused message. */
const USES_LISTED = 10;

/**
 * One log's pass: its seals and checkpoints first, so that an entry they
 * reject is not reconciled either, then `check`.
 */
function streamWithEvidence(
  path: string,
  role: LogSummary["role"],
  evidence: LogEvidence,
  check: EntryCheck,
): LogSummary {
  const summary = streamLog(path, role, [evidence, check]);
  evidence.recordOn(summary);
  return summary;
}

function chainFinding(summary: LogSummary): Finding | undefined {
  const broken = summary.broken;
  if (broken === undefined) return undefined;
  return {
    code: "chain-broken",
    log: summary.path,
    seq: broken.seq,
    reason: broken.code,
    message: `${summary.role} log broken at entry ${broken.seq} (line ${broken.line}): ${broken.code}: ${broken.message}; entries after it are not reconciled`,
  };
}

/**
 * Reconcile a signer log with host logs (docs/auditor.md): one streaming,
 * verifying pass over each log, the signer's first, then the approver
 * workstations', then the hosts', keeping per-grant
 * records only. Throws `file-unreadable` for a log that cannot be read and
 * `bad-input` for the same log given twice.
 */
export function reconcileLogs(input: ReconcileInput): Reconciliation {
  const approverLogs = input.approverLogs ?? [];
  const paths = [input.signerLog, ...approverLogs, ...input.hostLogs];
  const repeated = paths.find((p, i) => paths.indexOf(p) !== i);
  if (repeated !== undefined) throw new AirgrantError("bad-input", `${repeated} is given twice`);
  const findings = new FindingList(input.findingLimit ?? DEFAULT_FINDING_LIMIT);
  const receipts = input.receipts ?? [];
  const sealReceipts = receipts.map((r) => r.receipt);
  const issuers = input.bundle?.issuers ?? [];
  const evidenceOf = (): LogEvidence => new LogEvidence({ receipts: sealReceipts, issuers, known: input.known });

  const ledger = new SignerLedger(input.signerLog, findings);
  const logs: LogSummary[] = [streamWithEvidence(input.signerLog, "signer", evidenceOf(), ledger)];
  // Before the hosts: a use's approvals are checked against every approval step given.
  for (const path of approverLogs) {
    logs.push(streamWithEvidence(path, "approver", evidenceOf(), new ApproverLog(path, ledger, findings)));
  }

  const clockSkew: Reconciliation["clockSkew"] =
    input.bundle !== undefined
      ? { seconds: input.bundle.clockSkew, source: "bundle" }
      : ledger.largestExportedSkew !== undefined
        ? { seconds: ledger.largestExportedSkew, source: "signer-log" }
        : { seconds: 0, source: "none" };
  const context: HostCheckContext = {
    ledger,
    groups: input.bundle?.groups,
    clockSkew: clockSkew.seconds,
    findings,
    hosts: new Map(),
    unresolvedGroupUses: 0,
    revocationGaps: { count: 0, first: [] },
    retirementGaps: 0,
    trust: new TrustHistory(),
    sessions: { byReason: { logout: 0, expiry: 0, reboot: 0 }, listed: [] },
    clockDisagreements: { count: 0, first: [] },
  };
  const exported = ledger.newestExported;
  if (exported !== undefined) context.trust.seen(exported.trustVersion, input.signerLog, exported.seq);
  input.hostLogs.forEach((path, index) => {
    logs.push(streamWithEvidence(path, "host", evidenceOf(), new HostUseCheck(context, path, index)));
  });
  rejectSameLogTwice(logs);
  for (const summary of logs) {
    const finding = chainFinding(summary);
    if (finding !== undefined) findings.add(finding);
  }
  for (const { path, receipt } of receipts) {
    if (logs.some((l) => l.logId === receipt.logId)) continue;
    findings.add({
      code: "receipt-unmatched",
      log: path,
      host: receipt.host,
      message: `the install receipt of host ${receipt.host} is for log ${receipt.logId}, which no log given has: that host's log is missing or was replaced`,
    });
  }

  const grants = [...ledger.grants.values()];
  let uses = 0;
  for (const grant of grants) {
    uses += grant.uses.length;
    if (grant.uses.length > grant.maxUses) findings.add(overuseFinding(input.signerLog, grant, input.hostLogs));
  }

  const order = new Map(FINDING_CODES.map((code, i) => [code, i]));
  const sorted = findings.kept
    .map((finding, i) => ({ finding, i }))
    .sort((a, b) => (order.get(a.finding.code) ?? 0) - (order.get(b.finding.code) ?? 0) || a.i - b.i)
    .map(({ finding }) => finding);

  return {
    ok: findings.total === 0,
    logs,
    clockSkew,
    groupsResolved: input.bundle !== undefined,
    unresolvedGroupUses: context.unresolvedGroupUses,
    revocationGaps: context.revocationGaps,
    retirementGaps: context.retirementGaps,
    trustVersions: {
      newest: context.trust.newest,
      hosts: context.trust.hosts,
      behind: context.trust.behind().map((h) => h.log),
    },
    issuerKeys: issuerKeysOf(ledger, input.bundle),
    sessions: context.sessions,
    clockDisagreements: context.clockDisagreements,
    grantsIssued: grants.length,
    grantsUsed: grants.filter((g) => g.uses.length > 0).length,
    uses,
    findings: sorted,
    findingsOmitted: Object.fromEntries(findings.omitted),
    findingsTotal: findings.total,
    neverUsed: grants.filter((g) => g.uses.length === 0),
    grants,
    hosts: [...context.hosts.values()].sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0)),
    officers: tallyOfficers(grants, ledger, sorted),
    sinceNotGiven: input.known === undefined ? [] : headsNotGiven(input.known, new Set(logs.map((l) => l.logId))),
  };
}

function issuerKeysOf(ledger: SignerLedger, bundle: TrustBundle | undefined): IssuerKeyReport[] {
  const keys = new Map<string, IssuerKeyReport>([...ledger.issuerKeys].map(([id, key]) => [id, { ...key }]));
  for (const issuer of bundle?.issuers ?? []) {
    const key = keys.get(issuer.keyId) ?? { keyId: issuer.keyId };
    key.bundle = {
      notBefore: issuer.notBefore,
      notAfter: issuer.notAfter,
      ...(issuer.retireAt === undefined ? {} : { retireAt: issuer.retireAt }),
    };
    keys.set(issuer.keyId, key);
  }
  return [...keys.values()];
}

/** Two logs with one log id are one chain given twice: its uses would count double. */
function rejectSameLogTwice(logs: readonly LogSummary[]): void {
  const seen = new Map<string, string>();
  for (const log of logs) {
    if (log.logId === undefined) continue;
    const earlier = seen.get(log.logId);
    if (earlier !== undefined) {
      throw new AirgrantError("bad-input", `${earlier} and ${log.path} are the same log (log id ${log.logId})`);
    }
    seen.set(log.logId, log.path);
  }
}

function overuseFinding(signerLog: string, grant: IssuedGrant, hostLogs: readonly string[]): Finding {
  const listed = grant.uses
    .slice(0, USES_LISTED)
    .map((u) => `${u.host} at ${new Date(u.time).toISOString()} (${hostLogs[u.log]} entry ${u.seq})`);
  const more = grant.uses.length > USES_LISTED ? `, and ${grant.uses.length - USES_LISTED} more` : "";
  const hosts = new Set(grant.uses.map((u) => u.host)).size;
  return {
    code: "grant-overused",
    log: signerLog,
    seq: grant.seq,
    grantId: grant.grantId,
    user: grant.user,
    message: `used ${grant.uses.length} times on ${hosts} host(s), at most ${grant.maxUses} allowed (window ${isoSeconds(grant.notBefore)} to ${isoSeconds(grant.notAfter)}): ${listed.join("; ")}${more}`,
  };
}

function tallyOfficers(
  grants: readonly IssuedGrant[],
  ledger: SignerLedger,
  findings: readonly Finding[],
): OfficerTally[] {
  const tallies = new Map<string, OfficerTally>();
  const tally = (officer: string): OfficerTally => {
    let t = tallies.get(officer);
    if (t === undefined) {
      t = { officer, issued: 0, used: 0, neverUsed: 0, uses: 0, refusals: 0, approvals: 0, denials: 0, findings: 0 };
      tallies.set(officer, t);
    }
    return t;
  };
  for (const grant of grants) {
    const t = tally(grant.officer);
    t.issued++;
    t.uses += grant.uses.length;
    if (grant.uses.length > 0) t.used++;
    else t.neverUsed++;
  }
  for (const [officer, count] of ledger.refusalsByOfficer) tally(officer).refusals += count;
  for (const [officer, count] of ledger.approvalsByOfficer) tally(officer).approvals += count;
  for (const [officer, count] of ledger.denialsByOfficer) tally(officer).denials += count;
  for (const finding of findings) {
    const grant = finding.grantId === undefined ? undefined : ledger.grants.get(finding.grantId);
    if (grant !== undefined) tally(grant.officer).findings++;
  }
  return [...tallies.values()].sort((a, b) => (a.officer < b.officer ? -1 : a.officer > b.officer ? 1 : 0));
}
