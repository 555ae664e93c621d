#!/usr/bin/env node
import {
  type CommandLine,
  decodeSealReceipt,
  decodeTrustBundle,
  packageVersion,
  printableLine,
  runCommandLine,
  type SealReceipt,
  type TrustBundle,
  usageError,
  writeErr,
  writeFileAtomic,
  writeOut,
} from "@airgrant/core";
import { reconciliationCode, reconciliationJson, reconciliationText } from "./format-reconciliation.js";
import { headsNotGiven, notGivenNote, readKnownHeads } from "./known-heads.js";
import { readInputFile } from "./read-input-file.js";
import { type Reconciliation, reconcileLogs } from "./reconcile-logs.js";
import { renderReport } from "./render-report.js";
import { describeLogVerdict, verifyLogs } from "./verify-logs.js";

const CLI: CommandLine = {
  name: "airgrant-auditor",
  version: packageVersion(new URL("../package.json", import.meta.url)),
  usage: `usage: airgrant-auditor <command> [options]

Verify airgrant audit logs carried out from the signer and the hosts.

commands:
  verify LOG... [--key RECEIPT]... [--bundle FILE] [--since FILE]
                  check each log's hash chain, the seals of each host log whose
                  install receipt is given, with the trust bundle every signed
                  checkpoint, and that each log still holds the head an earlier
                  audit saw; exit 0 if all is intact, 1 if anything is broken
  reconcile --signer LOG [--approver-log LOG]... --host LOG... [--key RECEIPT]...
            [--bundle FILE] [--since FILE]
                  verify every chain, seal, checkpoint and earlier head as verify
                  does, and match each use on a host to a grant the signer issued;
                  exit 0 if nothing is found, 1 on any finding
  report --signer LOG [--approver-log LOG]... --host LOG... [--key RECEIPT]...
         [--bundle FILE] [--since FILE] --out FILE
                  reconcile, and write the result as one self-contained HTML file;
                  exit as reconcile does

options:
  --signer LOG    the signer's audit log: the workstation that issued the grants
  --approver-log LOG
                  the audit log of another signer workstation where officers
                  approved or denied those grants; repeat it for each workstation
  --host LOG      a host's audit log; repeat it, or list more logs after the command
  --key RECEIPT   a host's install receipt (from install-bundle --receipt): the
                  seals of the log it names are checked; repeat it for each host
  --bundle FILE   the trust bundle the hosts were given: its issuer keys check the
                  signer log's checkpoints; its groups and clock skew, reconciliation
  --since FILE    the --json output of an earlier verify or reconcile, kept by the
                  auditor: a log cut short or rewritten since is broken
  --out FILE      where report writes the HTML file
  --json      print the result as one JSON object on stdout
  --help      show this help
  --version   show the version

exit status: 0 intact (and nothing found), 1 broken or a finding, 2 usage or unreadable file,
3 environment error`,
};

function readReceipt(path: string): SealReceipt {
  return decodeSealReceipt(readInputFile(path).toString("utf8"));
}

function runVerify(paths: string[], values: VerifyOptions, json: boolean): number {
  if (paths.length === 0) throw usageError(CLI, "verify needs at least one LOG");
  const receipts = (values.key ?? []).map((path) => readReceipt(path));
  const issuers = values.bundle === undefined ? [] : readBundle(values.bundle).issuers;
  const known = values.since === undefined ? undefined : readKnownHeads(values.since);
  const verdicts = verifyLogs(paths, receipts, issuers, known);
  const unmatched = receipts.filter((r) => !verdicts.some((v) => v.report.ok && v.report.logId === r.logId));
  const broken = verdicts.filter((v) => !v.report.ok).length;
  const repeats = verdicts.filter((v) => v.report.ok && v.otpCounterRepeat !== undefined).length;
  // One verdict, one error line: a broken log is the graver news, and its receipt is unmatched because of it.
  const code =
    broken > 0
      ? "chain-broken"
      : repeats > 0
        ? "otp-counter-not-increasing"
        : unmatched.length > 0
          ? "receipt-unmatched"
          : "chain-intact";
  const notes =
    known === undefined ? [] : headsNotGiven(known, new Set(verdicts.map((v) => v.report.logId))).map(notGivenNote);
  const intact = code === "chain-intact";
  if (json) {
    const logs = verdicts.map(({ path, report, seals, checkpoints, since, otpCounterRepeat }) => ({
      path,
      ...report,
      ...(seals === undefined ? {} : { seals }),
      ...(checkpoints === undefined ? {} : { checkpoints }),
      ...(since === undefined ? {} : { since }),
      ...(otpCounterRepeat === undefined ? {} : { otpCounterRepeat }),
    }));
    writeOut(`${JSON.stringify({ ok: intact, code, logs, notes })}\n`);
  } else {
    for (const v of verdicts) writeOut(`${printableLine(describeLogVerdict(v))}\n`);
    for (const note of notes) writeOut(`${printableLine(`note: ${note}`)}\n`);
  }
  const unmatchedIds = unmatched.map((r) => `${r.logId} (host ${r.host})`).join(", ");
  if (code === "chain-broken") {
    const alsoUnmatched = unmatched.length === 0 ? "" : `; no intact log given has id ${unmatchedIds}`;
    writeErr(
      `error: chain-broken: ${printableLine(`${broken} of ${verdicts.length} log(s) failed verification${alsoUnmatched}`)}\n`,
    );
  } else if (code === "otp-counter-not-increasing") {
    writeErr(
      `error: otp-counter-not-increasing: ${printableLine(`${repeats} signer log(s) record a YubiKey OTP counter that does not increase: an OTP accepted twice`)}\n`,
    );
  } else if (code === "receipt-unmatched") {
    writeErr(`error: receipt-unmatched: ${printableLine(`no intact log given has id ${unmatchedIds}`)}\n`);
  }
  return intact ? 0 : 1;
}

interface VerifyOptions {
  key?: string[] | undefined;
  bundle?: string | undefined;
  since?: string | undefined;
}

interface ReconcileOptions extends VerifyOptions {
  signer?: string | undefined;
  "approver-log"?: string[] | undefined;
  host?: string[] | undefined;
}

function readBundle(path: string): TrustBundle {
  return decodeTrustBundle(readInputFile(path));
}

function reconcileFromOptions(command: string, rest: string[], values: ReconcileOptions): Reconciliation {
  if (values.signer === undefined) throw usageError(CLI, `${command} needs --signer LOG`);
  const hostLogs = [...(values.host ?? []), ...rest];
  if (hostLogs.length === 0) throw usageError(CLI, `${command} needs at least one --host LOG`);
  const bundle = values.bundle === undefined ? undefined : readBundle(values.bundle);
  const receipts = (values.key ?? []).map((path) => ({ path, receipt: readReceipt(path) }));
  return reconcileLogs({
    signerLog: values.signer,
    approverLogs: values["approver-log"] ?? [],
    hostLogs,
    receipts,
    ...(bundle === undefined ? {} : { bundle }),
    ...(values.since === undefined ? {} : { known: readKnownHeads(values.since) }),
  });
}

function finish(r: Reconciliation): number {
  if (!r.ok) {
    writeErr(`error: ${reconciliationCode(r)}: ${r.findingsTotal} finding(s)\n`);
    return 1;
  }
  return 0;
}

function runReconcile(rest: string[], values: ReconcileOptions, json: boolean): number {
  const r = reconcileFromOptions("reconcile", rest, values);
  writeOut(json ? `${JSON.stringify(reconciliationJson(r))}\n` : reconciliationText(r));
  return finish(r);
}

function runReport(rest: string[], values: ReconcileOptions & { out?: string | undefined }, json: boolean): number {
  if (values.out === undefined) throw usageError(CLI, "report needs --out FILE");
  const out = values.out;
  const r = reconcileFromOptions("report", rest, values);
  // Whole or not at all, mode 0600: the report quotes the logs.
  writeFileAtomic(out, renderReport(r, new Date()));
  if (json) {
    writeOut(`${JSON.stringify({ ok: r.ok, code: reconciliationCode(r), out, findingsTotal: r.findingsTotal })}\n`);
  } else {
    writeOut(
      `${printableLine(`${out}: ${r.findingsTotal} finding(s), ${r.grantsIssued} grant(s), ${r.uses} use(s)`)}\n`,
    );
  }
  return finish(r);
}

const OPTIONS = {
  key: { type: "string", multiple: true },
  signer: { type: "string" },
  "approver-log": { type: "string", multiple: true },
  host: { type: "string", multiple: true },
  bundle: { type: "string" },
  since: { type: "string" },
  out: { type: "string" },
} as const;

process.exitCode = runCommandLine(CLI, process.argv.slice(2), OPTIONS, ({ positionals, values }) => {
  const [command, ...rest] = positionals;
  const json = values.json === true;
  if (command !== "reconcile" && command !== "report") {
    const stray = (
      ["signer", "approver-log", "host", "out", ...(command === "verify" ? [] : (["bundle"] as const))] as const
    ).find((o) => values[o] !== undefined);
    if (stray !== undefined) throw usageError(CLI, `--${stray} goes with reconcile or report`);
  }
  switch (command) {
    case "verify":
      return runVerify(rest, values, json);
    case "reconcile":
      if (values.out !== undefined) throw usageError(CLI, "--out goes with report");
      return runReconcile(rest, values, json);
    case "report":
      return runReport(rest, values, json);
    case undefined:
      throw usageError(CLI, "no command given");
    default:
      throw usageError(CLI, `unknown command '${command}'`);
  }
});
