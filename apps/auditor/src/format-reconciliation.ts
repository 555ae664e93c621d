import { isoSeconds, printableLine } from "@airgrant/core";
import type { SessionRow } from "./host-use-check.js";
import { notGivenNote } from "./known-heads.js";
import { describeEvidence } from "./log-evidence.js";
import type { IssuerKeyReport, OfficerTally, Reconciliation } from "./reconcile-logs.js";
import type { IssuedGrant } from "./signer-ledger.js";
import type { LogSummary } from "./stream-log.js";
import type { HostTrust } from "./trust-history.js";

/** The verdict code of a reconciliation (docs/errors.md, "auditor"). */
export function reconciliationCode(r: Reconciliation): "reconciled" | "reconcile-findings" {
  return r.ok ? "reconciled" : "reconcile-findings";
}

export function describeLog(log: LogSummary): string {
  const id = log.logId === undefined ? "" : `, log ${log.logId}`;
  const recovered = log.recoveries > 0 ? `, ${log.recoveries} torn tail(s) recovered` : "";
  if (log.broken === undefined) {
    return `intact, ${log.entries} entries${id}${recovered}${describeEvidence(log)}`;
  }
  const b = log.broken;
  return `BROKEN at entry ${b.seq} (line ${b.line}): ${b.code}; ${log.entries} entries before it verified${id}`;
}

export function describeSkew(r: Reconciliation): string {
  const source = {
    bundle: "from --bundle",
    "signer-log": "the largest in the signer log's bundle exports",
    none: "no bundle given and none exported in the signer log",
  }[r.clockSkew.source];
  return `clock skew ${r.clockSkew.seconds} s (${source})`;
}

/** Notes on what the reconciliation could not check; they are not findings. */
export function reconciliationNotes(r: Reconciliation): string[] {
  const notes: string[] = [];
  if (r.unresolvedGroupUses > 0) {
    notes.push(
      `${r.unresolvedGroupUses} use(s) of group grants matched by group name only: give --bundle to check each host is in its group`,
    );
  }
  const unsealed = r.logs.filter((l) => l.role === "host" && l.intact && l.seals === undefined).length;
  if (unsealed > 0) {
    notes.push(
      `${unsealed} host log(s) checked by their chain only: give each host's install receipt (--key) to check its seals`,
    );
  }
  const signer = r.logs[0];
  if (signer?.intact === true && signer.checkpoints === undefined) {
    notes.push(
      "the signer log's checkpoints were not checked: give --bundle, or the log has none (a log rewritten without the token passes its chain)",
    );
  }
  const gaps = r.revocationGaps;
  if (gaps.count > 0) {
    const named = gaps.first.map((g) => {
      const shipped = g.revokedIn === undefined ? "" : `, first in trust version ${g.revokedIn}`;
      const held =
        g.hostTrustVersion === undefined ? "an unsigned bundle or none" : `trust version ${g.hostTrustVersion}`;
      return `grant ${g.grantId} on ${g.host} at ${g.time} (${g.log} entry ${g.seq}), revoked at ${new Date(g.revoked.time).toISOString()} (signer log entry ${g.revoked.seq})${shipped}; the host had ${held}`;
    });
    const more = gaps.count > named.length ? `; and ${gaps.count - named.length} more` : "";
    notes.push(
      `${gaps.count} use(s) of grants after the signer log revoked them, on hosts whose bundle did not revoke them yet: ${named.join("; ")}${more}`,
    );
  }
  if (r.retirementGaps > 0) {
    notes.push(
      `${r.retirementGaps} use(s) of grants that start after their issuer key's retireAt, on hosts whose bundle was exported before the key was retired (so they could not refuse them)`,
    );
  }
  const { newest, behind } = r.trustVersions;
  if (newest !== undefined && behind.length > 0) {
    const hosts = r.trustVersions.hosts.filter((h) => behind.includes(h.log)).map((h) => `${h.log} (${heldTrust(h)})`);
    notes.push(
      `${behind.length} host log(s) end on a trust version older than ${newest.trustVersion}, the newest seen (${newest.log} entry ${newest.seq}): ${hosts.join("; ")}`,
    );
  }
  const clocks = r.clockDisagreements;
  if (clocks.count > 0) {
    const named = clocks.first.map(
      (c) =>
        `grant ${c.grantId} on ${c.host} (${c.log} entry ${c.seq}): the signer's clock ${c.least > 0 ? `ahead by ${c.least} to ${c.most}` : `behind by ${-c.most} to ${-c.least}`} s`,
    );
    const more = clocks.count > named.length ? `; and ${clocks.count - named.length} more` : "";
    notes.push(
      `${clocks.count} request-bound use(s) on hosts whose clock disagreed with the signer's by more than the ${r.clockSkew.seconds} s skew (judged on the host's clock, so let in): ${named.join("; ")}${more}`,
    );
  }
  notes.push(...r.sinceNotGiven.map(notGivenNote));
  const omitted = Object.entries(r.findingsOmitted);
  if (omitted.length > 0) {
    notes.push(
      `only the first ${r.findings.length} findings are listed; not listed: ${omitted.map(([c, n]) => `${n} ${c}`).join(", ")}`,
    );
  }
  return notes;
}

/** What a host log says its host held at its end. */
export function heldTrust(h: HostTrust): string {
  const last = h.last;
  if (last === undefined) return "no bundle-installed entry";
  const what = last.trustVersion === undefined ? "an unsigned bundle" : `trust version ${last.trustVersion}`;
  return `${what} since ${last.time}`;
}

/** Each bundle a host log installed: `2 at <time>`, `unsigned at <time>`. */
export function appliedTrust(h: HostTrust): string {
  const listed = h.applied.map((a) => `${a.trustVersion ?? "unsigned"} at ${a.time}`);
  if (h.appliedOmitted > 0) listed.push(`and ${h.appliedOmitted} more`);
  return listed.join(", ") || "none";
}

/** An issuer key's validity, as the signer log and --bundle tell it. */
export function issuerKeyCells(k: IssuerKeyReport): string[] {
  const since = k.since === undefined ? "-" : `${k.since.time} (entry ${k.since.seq})`;
  const retired =
    k.retired === undefined ? "-" : `${isoSeconds(k.retired.retireAt)} (entry ${k.retired.seq}, ${k.retired.time})`;
  const b = k.bundle;
  const bundle =
    b === undefined
      ? "-"
      : `${isoSeconds(b.notBefore)} to ${isoSeconds(b.notAfter)}${b.retireAt === undefined ? "" : `, retireAt ${isoSeconds(b.retireAt)}`}`;
  return [k.keyId, since, retired, bundle];
}

function grantJson(g: IssuedGrant) {
  return {
    grantId: g.grantId,
    seq: g.seq,
    issued: new Date(g.time).toISOString(),
    user: g.user,
    target: g.target,
    notBefore: g.notBefore,
    notAfter: g.notAfter,
    maxUses: g.maxUses,
    officer: g.officer,
    ...(g.approvalsNeeded === undefined ? {} : { approvalsNeeded: g.approvalsNeeded }),
    approvedBy: g.approvals.map((a) => a.officer),
    approvals: g.approvals,
    ...(g.denied === undefined ? {} : { deniedBy: g.denied.officer, denied: g.denied }),
    uses: g.uses.length,
  };
}

/** The --json object: the same content as the text tables. */
export function reconciliationJson(r: Reconciliation): Record<string, unknown> {
  return {
    ok: r.ok,
    code: reconciliationCode(r),
    logs: r.logs,
    clockSkew: r.clockSkew,
    groupsResolved: r.groupsResolved,
    unresolvedGroupUses: r.unresolvedGroupUses,
    revocationGaps: r.revocationGaps,
    retirementGaps: r.retirementGaps,
    trustVersions: r.trustVersions,
    issuerKeys: r.issuerKeys,
    sessions: r.sessions,
    clockDisagreements: r.clockDisagreements,
    grantsIssued: r.grantsIssued,
    grantsUsed: r.grantsUsed,
    uses: r.uses,
    findingsTotal: r.findingsTotal,
    findingsOmitted: r.findingsOmitted,
    findings: r.findings,
    notes: reconciliationNotes(r),
    neverUsed: r.neverUsed.map(grantJson),
    hosts: r.hosts.map((h) => ({
      host: h.host,
      checks: h.checks,
      uses: h.uses,
      refusals: Object.fromEntries(h.refusals),
      logs: [...h.logs].map((i) => hostLogPath(r, i)),
    })),
    officers: r.officers,
    approvedGrants: r.grants.filter((g) => g.approvalsNeeded !== undefined).map(grantJson),
  };
}

/** The path of the host log given at `index` among the host logs (a GrantUse's `log`). */
export function hostLogPath(r: Reconciliation, index: number): string | undefined {
  const first = r.logs.findIndex((l) => l.role === "host");
  return first < 0 ? undefined : r.logs[first + index]?.path;
}

/** Who approved a grant, and in which log, as the signer and approver logs record it: for the tables and the report's timeline. */
export function approvalsText(g: IssuedGrant): string {
  if (g.approvalsNeeded === undefined) return "";
  const by = g.approvals.map((a) => `${a.officer} (${a.log})`).join(", ") || "nobody in the logs given";
  const denied = g.denied === undefined ? "" : `; denied by ${g.denied.officer} (${g.denied.log})`;
  return `${g.approvals.length} of ${g.approvalsNeeded} approval(s): ${by}${denied}`;
}

/** Columns padded to their widest cell (cut at `max`), the last column left free. */
function table(header: string[], rows: string[][], max = 40): string[] {
  const widths = header.map((h, i) =>
    i === header.length - 1 ? 0 : Math.min(max, Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length))),
  );
  const cell = (text: string, i: number) => {
    const w = widths[i] ?? 0;
    if (w === 0) return text;
    return (text.length > w ? `${text.slice(0, w - 1)}…` : text).padEnd(w);
  };
  return [header, ...rows].map((row) => `  ${row.map(cell).join("  ")}`.trimEnd());
}

/** An officer's row, as the text table and the report show it (unescaped). */
export function officerCells(o: OfficerTally): string[] {
  return [
    o.officer || "(before an officer was known)",
    String(o.issued),
    String(o.used),
    String(o.neverUsed),
    String(o.uses),
    String(o.refusals),
    String(o.approvals),
    String(o.denials),
    String(o.findings),
  ];
}

/** A session's row, as the text table and the report show it (unescaped). */
export function sessionCells(s: SessionRow): string[] {
  return [
    s.host,
    s.user,
    s.grantId,
    isoSeconds(s.openedAt),
    s.reason,
    s.seconds === undefined ? "-" : `${s.seconds} s`,
    s.outlived === undefined ? "" : `${s.outlived} s past its access end`,
  ];
}

/** The sessions' count by reason, and how many are listed. */
export function describeSessions(r: Reconciliation): string {
  const { byReason, listed } = r.sessions;
  const total = byReason.logout + byReason.expiry + byReason.reboot;
  const more = listed.length < total ? `; the first ${listed.length} listed` : "";
  return `${total} session(s) of grants' logins closed: ${byReason.logout} logout, ${byReason.expiry} expiry, ${byReason.reboot} reboot${more}`;
}

export const SESSION_COLUMNS = ["HOST", "USER", "GRANT", "OPENED", "REASON", "LENGTH", "OUTLIVED"];

/** The text tables of `airgrant-auditor reconcile`, each line printable. */
export function reconciliationText(r: Reconciliation): string {
  const out: string[] = ["logs:"];
  out.push(
    ...table(
      ["ROLE", "LOG", "CHAIN"],
      r.logs.map((l) => [l.role, l.path, describeLog(l)]),
      60,
    ),
  );
  out.push(
    "",
    `grants issued ${r.grantsIssued}, used ${r.grantsUsed}, never used ${r.neverUsed.length}; ${r.uses} use(s) on ${r.hosts.length} host(s); ${describeSkew(r)}`,
  );
  for (const note of reconciliationNotes(r)) out.push(`note: ${note}`);
  out.push("", `findings: ${r.findingsTotal}`);
  if (r.findings.length > 0) {
    out.push(
      ...table(
        ["CODE", "GRANT", "LOG", "ENTRY", "HOST", "USER", "DETAIL"],
        r.findings.map((f) => [
          f.code,
          f.grantId ?? "-",
          f.log,
          f.seq === undefined ? "-" : String(f.seq),
          f.host ?? "-",
          f.user ?? "-",
          f.message,
        ]),
      ),
    );
  }
  out.push("", "hosts:");
  out.push(
    ...table(
      ["HOST", "CHECKS", "USES", "REFUSED"],
      r.hosts.map((h) => [
        h.host || "(none)",
        String(h.checks),
        String(h.uses),
        [...h.refusals].map(([code, n]) => `${n} ${code}`).join(", ") || "0",
      ]),
    ),
  );
  out.push("", "trust versions:");
  out.push(
    ...table(
      ["LOG", "HOLDS", "APPLIED"],
      r.trustVersions.hosts.map((h) => [h.log, heldTrust(h), appliedTrust(h)]),
      60,
    ),
  );
  out.push("", "issuer keys:");
  out.push(...table(["KEY", "SIGNS FROM (SIGNER LOG)", "RETIRED AT", "IN --bundle"], r.issuerKeys.map(issuerKeyCells)));
  out.push("", `sessions: ${describeSessions(r)}`);
  if (r.sessions.listed.length > 0) out.push(...table(SESSION_COLUMNS, r.sessions.listed.map(sessionCells)));
  out.push("", "officers:");
  out.push(
    ...table(
      ["OFFICER", "ISSUED", "USED", "NEVER-USED", "USES", "REFUSALS", "APPROVALS", "DENIALS", "FINDINGS"],
      r.officers.map(officerCells),
    ),
  );
  const approved = r.grants.filter((g) => g.approvalsNeeded !== undefined);
  out.push("", `grants with approvals: ${approved.length}`);
  if (approved.length > 0) {
    out.push(
      ...table(
        ["GRANT", "USER", "TARGET", "USES", "APPROVALS"],
        approved.map((g) => [g.grantId, g.user, g.target, String(g.uses.length), approvalsText(g)]),
      ),
    );
  }
  out.push("", `never used (informational, not findings): ${r.neverUsed.length}`);
  if (r.neverUsed.length > 0) {
    out.push(
      ...table(
        ["GRANT", "USER", "TARGET", "OFFICER", "WINDOW"],
        r.neverUsed.map((g) => [
          g.grantId,
          g.user,
          g.target,
          g.officer,
          `${isoSeconds(g.notBefore)} to ${isoSeconds(g.notAfter)}`,
        ]),
      ),
    );
  }
  return `${out.map(printableLine).join("\n")}\n`;
}
