#!/usr/bin/env node
import { type CommandLine, printableLine, runCommandLine, usageError } from "@airgrant/core";
import { describeLogVerdict, verifyLogs } from "./verify-logs.js";

const CLI: CommandLine = {
  name: "airgrant-auditor",
  packageJson: new URL("../package.json", import.meta.url),
  usage: `usage: airgrant-auditor <command> [options]

Verify airgrant audit logs carried out from the signer and the hosts.

commands:
  verify LOG...   check each log's hash chain; exit 0 if every chain is intact, 1 if any is broken

options:
  --json      print the result as one JSON object on stdout
  --help      show this help
  --version   show the version

exit status: 0 intact, 1 broken, 2 usage or unreadable file, 3 environment error`,
};

function runVerify(paths: string[], json: boolean): number {
  if (paths.length === 0) throw usageError(CLI, "verify needs at least one LOG");
  const verdicts = verifyLogs(paths);
  const intact = verdicts.every((v) => v.report.ok);
  if (json) {
    const logs = verdicts.map(({ path, report }) => ({ path, ...report }));
    process.stdout.write(`${JSON.stringify({ ok: intact, code: intact ? "chain-intact" : "chain-broken", logs })}\n`);
  } else {
    for (const v of verdicts) process.stdout.write(`${printableLine(describeLogVerdict(v))}\n`);
  }
  if (!intact) {
    const broken = verdicts.filter((v) => !v.report.ok).length;
    process.stderr.write(`error: chain-broken: ${broken} of ${verdicts.length} log(s) failed verification\n`);
  }
  return intact ? 0 : 1;
}

process.exitCode = runCommandLine(CLI, process.argv.slice(2), {}, ({ positionals, values }) => {
  const [command, ...rest] = positionals;
  switch (command) {
    case "verify":
      return runVerify(rest, values.json === true);
    case undefined:
      throw usageError(CLI, "no command given");
    default:
      throw usageError(CLI, `unknown command '${command}'`);
  }
});
