import { isoSeconds, printableLine } from "@airgrant/core";
import type { Finding } from "./finding.js";
import {
  appliedTrust,
  approvalsText,
  describeLog,
  describeSessions,
  describeSkew,
  heldTrust,
  hostLogPath,
  issuerKeyCells,
  officerCells,
  reconciliationNotes,
  SESSION_COLUMNS,
  sessionCells,
} from "./format-reconciliation.js";
import type { Reconciliation } from "./reconcile-logs.js";

/** Events the timeline table lists at most; the histogram above it counts them all. */
export const TIMELINE_ROWS = 2_000;
/** Never-used grants listed at most. */
const NEVER_USED_ROWS = 2_000;
const HISTOGRAM_BUCKETS = 48;

/**
 * Text from a log (or a path) for HTML: control characters made visible and
 * the five characters that could open markup escaped. Every log-derived
 * string in the report goes through here: logs are hostile input.
 */
export function escapeHtml(text: string): string {
  return printableLine(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const e = escapeHtml;

function iso(ms: number): string {
  return Number.isNaN(ms) ? "?" : new Date(ms).toISOString();
}

function tableHtml(id: string, header: string[], rows: string[][]): string {
  const head = header.map((h) => `<th scope="col">${e(h)}</th>`).join("");
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n");
  return `<table id="${id}"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const code = (text: string) => `<code>${e(text)}</code>`;

/** A timeline event: a grant issued, a use on a host, or the close of the session a use opened. */
interface TimelineEvent {
  time: number;
  kind: "issued" | "used" | "closed";
  grantId: string;
  who: string;
  where: string;
  detail: string;
  flagged: boolean;
}

function timelineEvents(r: Reconciliation, flagged: ReadonlySet<string>): TimelineEvent[] {
  const events: TimelineEvent[] = [];
  for (const g of r.grants) {
    const f = flagged.has(g.grantId);
    events.push({
      time: g.time,
      kind: "issued",
      grantId: g.grantId,
      who: g.user,
      where: g.target,
      detail: `by ${g.officer}; ${isoSeconds(g.notBefore)} to ${isoSeconds(g.notAfter)}, ${g.maxUses} use(s)${g.approvalsNeeded === undefined ? "" : `; ${approvalsText(g)}`}`,
      flagged: f,
    });
    for (const u of g.uses) {
      events.push({
        time: u.time,
        kind: "used",
        grantId: g.grantId,
        who: u.user,
        where: u.host,
        detail: `${hostLogPath(r, u.log) ?? "?"} entry ${u.seq}`,
        flagged: f,
      });
    }
  }
  for (const session of r.sessions.listed) {
    const length = session.seconds === undefined ? "" : ` after ${session.seconds} s`;
    const late = session.outlived === undefined ? "" : `, ${session.outlived} s after`;
    events.push({
      time: Date.parse(session.time),
      kind: "closed",
      grantId: session.grantId,
      who: session.user,
      where: session.host,
      detail: `session ${session.reason}${length}; access ended ${isoSeconds(session.accessEndsAt)}${late} (${session.log} entry ${session.seq})`,
      flagged: flagged.has(session.grantId),
    });
  }
  for (const f of r.findings) {
    if (f.code !== "unknown-grant" || f.time === undefined || f.grantId === undefined) continue;
    events.push({
      time: Date.parse(f.time),
      kind: "used",
      grantId: f.grantId,
      who: f.user ?? "?",
      where: f.host ?? "?",
      detail: `${f.log} entry ${f.seq ?? "?"}: never issued`,
      flagged: true,
    });
  }
  return events.filter((ev) => !Number.isNaN(ev.time)).sort((a, b) => a.time - b.time);
}

/** Grants issued and uses per time slot, as an inline SVG: every issue and use counted, whatever the table shows. */
function histogramSvg(events: readonly TimelineEvent[]): string {
  if (events.length === 0) return "";
  const first = events[0]?.time ?? 0;
  const last = events[events.length - 1]?.time ?? first;
  const span = Math.max(last - first, 1);
  const issued = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  const used = new Array<number>(HISTOGRAM_BUCKETS).fill(0);
  for (const ev of events) {
    const i = Math.min(HISTOGRAM_BUCKETS - 1, Math.floor(((ev.time - first) / span) * HISTOGRAM_BUCKETS));
    if (ev.kind === "issued") issued[i] = (issued[i] ?? 0) + 1;
    else if (ev.kind === "used") used[i] = (used[i] ?? 0) + 1;
  }
  const peak = Math.max(1, ...issued, ...used);
  const width = 960;
  const height = 120;
  const slot = width / HISTOGRAM_BUCKETS;
  const bars: string[] = [];
  for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
    const from = iso(first + (span * i) / HISTOGRAM_BUCKETS);
    for (const [k, counts, dx] of [
      ["issued", issued, 1],
      ["used", used, slot / 2],
    ] as const) {
      const n = counts[i] ?? 0;
      if (n === 0) continue;
      const h = Math.max(1, (n / peak) * (height - 10));
      bars.push(
        `<rect class="${k}" x="${(i * slot + dx).toFixed(1)}" y="${(height - h).toFixed(1)}" width="${(slot / 2 - 1).toFixed(1)}" height="${h.toFixed(1)}"><title>${e(`${n} ${k} from ${from}`)}</title></rect>`,
      );
    }
  }
  return `<svg class="histogram" viewBox="0 0 ${width} ${height}" role="img" aria-label="grants issued and used over time">${bars.join("")}</svg>
<p class="legend"><span class="key issued"></span> issued <span class="key used"></span> used &nbsp; ${e(iso(first))} to ${e(iso(last))}</p>`;
}

function findingRow(f: Finding): string[] {
  return [
    `<span class="code">${e(f.code)}</span>${f.reason === undefined ? "" : ` <small>${e(f.reason)}</small>`}`,
    f.grantId === undefined ? "" : code(f.grantId),
    `${e(f.log)}${f.seq === undefined ? "" : ` entry ${f.seq}`}`,
    e(f.host ?? ""),
    e(f.user ?? ""),
    e(f.time ?? ""),
    e(f.message),
  ];
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.15rem;margin:1.75rem 0 .5rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;margin:.25rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .45rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f6f8fa;white-space:nowrap}tbody tr:nth-child(even){background:#fbfcfd}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.verdict{display:inline-block;padding:.35rem .8rem;border-radius:4px;font-weight:600;font-size:1.05rem}
.verdict.bad{background:#ffebe9;color:#a40e26;border:1px solid #ff8182}.verdict.good{background:#dafbe1;color:#116329;border:1px solid #4ac26b}
#findings .code{color:#a40e26;font-weight:600;white-space:nowrap}tr.flagged td{background:#fff5f5}
.histogram{width:100%;max-width:960px;height:120px;border:1px solid #d0d7de;background:#fbfcfd}
.histogram .issued,.key.issued{fill:#0969da;background:#0969da}.histogram .used,.key.used{fill:#bf8700;background:#bf8700}
.key{display:inline-block;width:.8em;height:.8em;vertical-align:middle}
.note{color:#57606a}.broken{color:#a40e26;font-weight:600}
@media print{body{margin:0}h2{break-after:avoid}}`;

/**
 * The reconciliation as one HTML file that needs nothing else: inline CSS,
 * no script, no image or font to fetch, and a Content-Security-Policy that
 * forbids any fetch, so that it opens the same on an air-gapped laptop.
 * Findings come first.
 */
export function renderReport(r: Reconciliation, generated: Date): string {
  const flagged = new Set<string>();
  for (const f of r.findings) if (f.grantId !== undefined) flagged.add(f.grantId);
  const signer = r.logs[0];
  const events = timelineEvents(r, flagged);
  const shown =
    events.length <= TIMELINE_ROWS
      ? events
      : [...events.filter((ev) => ev.flagged).slice(0, TIMELINE_ROWS), ...events.filter((ev) => !ev.flagged)]
          .slice(0, TIMELINE_ROWS)
          .sort((a, b) => a.time - b.time);
  const verdict = r.ok
    ? `<p class="verdict good" id="verdict">No findings: every use matches a grant the signer issued</p>`
    : `<p class="verdict bad" id="verdict">${r.findingsTotal} finding(s)</p>`;
  const notes = reconciliationNotes(r)
    .map((n) => `<p class="note">${e(n)}</p>`)
    .join("\n");
  const sections: string[] = [];

  sections.push(`<section id="findings-section"><h2>Findings (${r.findingsTotal})</h2>
${r.findings.length === 0 ? "<p>None.</p>" : tableHtml("findings", ["code", "grant", "log and entry", "host", "user", "time", "detail"], r.findings.map(findingRow))}
${notes}</section>`);

  sections.push(`<section><h2>Logs</h2>
${tableHtml(
  "logs",
  ["role", "log", "chain"],
  r.logs.map((l) => [
    e(l.role),
    e(l.path),
    l.intact ? e(describeLog(l)) : `<span class="broken">${e(describeLog(l))}</span>`,
  ]),
)}
<p>Grants issued ${r.grantsIssued}, used ${r.grantsUsed}, never used ${r.neverUsed.length}; ${r.uses} use(s) on ${r.hosts.length} host(s); ${e(describeSkew(r))}.</p></section>`);

  const omittedNote =
    shown.length < events.length
      ? `<p class="note">The table lists ${shown.length} of ${events.length} events (every event of a grant with a finding first); the chart counts them all. <code>airgrant-auditor reconcile --json</code> gives every finding and grant.</p>`
      : "";
  sections.push(`<section><h2>Timeline</h2>
${histogramSvg(events)}
${omittedNote}
<table id="timeline"><thead><tr><th>time</th><th>event</th><th>grant</th><th>user</th><th>target or host</th><th>detail</th></tr></thead><tbody>
${shown
  .map(
    (ev) =>
      `<tr${ev.flagged ? ' class="flagged"' : ""}><td>${e(iso(ev.time))}</td><td>${ev.kind}</td><td>${code(ev.grantId)}</td><td>${e(ev.who)}</td><td>${e(ev.where)}</td><td>${e(ev.detail)}</td></tr>`,
  )
  .join("\n")}
</tbody></table></section>`);

  sections.push(`<section><h2>Hosts</h2>
${tableHtml(
  "hosts",
  ["host", "grant checks", "uses", "refused", "logs"],
  r.hosts.map((h) => [
    e(h.host || "(none)"),
    String(h.checks),
    String(h.uses),
    e([...h.refusals].map(([c, n]) => `${n} ${c}`).join(", ") || "0"),
    e([...h.logs].map((i) => hostLogPath(r, i) ?? "?").join(", ")),
  ]),
)}</section>`);

  sections.push(`<section><h2>Trust versions</h2>
${tableHtml(
  "trust-versions",
  ["host log", "holds at its end", "bundles applied"],
  r.trustVersions.hosts.map((h) => [e(h.log), e(heldTrust(h)), e(appliedTrust(h))]),
)}
<p>Newest trust version seen: ${r.trustVersions.newest === undefined ? "none (no signed bundle)" : e(`${r.trustVersions.newest.trustVersion} (${r.trustVersions.newest.log} entry ${r.trustVersions.newest.seq})`)}.</p></section>`);

  sections.push(`<section><h2>Issuer keys</h2>
${tableHtml(
  "issuer-keys",
  ["key", "signs from (signer log)", "retired at", "in --bundle"],
  r.issuerKeys.map((k) => issuerKeyCells(k).map(e)),
)}</section>`);

  sections.push(`<section><h2>Sessions</h2>
<p>${e(describeSessions(r))}.</p>
${
  r.sessions.listed.length === 0
    ? ""
    : tableHtml(
        "sessions",
        SESSION_COLUMNS.map((c) => c.toLowerCase()),
        r.sessions.listed.map((s) => sessionCells(s).map((cell, i) => (i === 2 ? code(cell) : e(cell)))),
      )
}</section>`);

  sections.push(`<section><h2>Officers</h2>
${tableHtml(
  "officers",
  ["officer", "grants issued", "used", "never used", "uses", "refusals", "approvals", "denials", "findings"],
  r.officers.map((o) => officerCells(o).map(e)),
)}</section>`);

  const neverUsed = r.neverUsed.slice(0, NEVER_USED_ROWS);
  sections.push(`<section><h2>Grants issued and never used (${r.neverUsed.length}, informational)</h2>
${
  neverUsed.length === 0
    ? "<p>None.</p>"
    : tableHtml(
        "never-used",
        ["grant", "issued", "user", "target", "officer", "window"],
        neverUsed.map((g) => [
          code(g.grantId),
          e(iso(g.time)),
          e(g.user),
          e(g.target),
          e(g.officer),
          e(`${isoSeconds(g.notBefore)} to ${isoSeconds(g.notAfter)}`),
        ]),
      )
}
${neverUsed.length < r.neverUsed.length ? `<p class="note">${neverUsed.length} of ${r.neverUsed.length} listed.</p>` : ""}</section>`);

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>airgrant audit report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>airgrant audit report</h1>
<p>Generated ${e(generated.toISOString())} by airgrant-auditor from the signer log ${e(signer?.path ?? "?")} and ${r.logs.length - 1} host log(s).</p>
${verdict}
</header>
<main>
${sections.join("\n")}
</main>
</body>
</html>
`;
}
