import { readFileSync, writeSync } from "node:fs";
import { type ParseArgsConfig, parseArgs as parseArgsOfUtil } from "node:util";
import { AirgrantError, type ErrorCode, exitStatusOf } from "./airgrant-error.js";
import { sleepMs } from "./sleep.js";

/**
 * What the three airgrant commands share (README.md, docs/errors.md):
 * option parsing that turns every mistake into a `usage` error,
 * `--help` and `--version`, and one place that turns an error into
 * `error: <code>: <message>` on stderr (plus a JSON object on stdout with
 * `--json`) and the exit status for its code.
 */

// C0 and C1 controls, DEL, the line and paragraph separators, and the bidi
// marks, embeddings, overrides and isolates, which reorder what a terminal or
// the HTML report shows around them.
// biome-ignore lint/suspicious/noControlCharactersInRegex: replacing them is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

// Taken when this module loads, not at the first call: node:util loads the
// module behind parseArgs when it is first asked for, and taken here it is
// in the host's start-up snapshot instead of loaded by every login
// (scripts/build-sea.mjs).
const parseArgs = parseArgsOfUtil;

/**
 * Write to standard output (1) or error (2) with write(2) rather than
 * through process.stdout: making that stream loads a socket module for a
 * pipe, or a file stream for a file, at every start, where a command writes
 * a line or two (scripts/build-sea.mjs). A full pipe that does not block is
 * waited on; a reader that went away (EPIPE) is written nothing more.
 */
function writeTo(fd: 1 | 2, text: string): void {
  const bytes = Buffer.from(text, "utf8");
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EPIPE") return;
      if (code !== "EAGAIN") throw err;
      sleepMs(1);
    }
  }
}

/** Text on standard output. */
export function writeOut(text: string): void {
  writeTo(1, text);
}

/** Text on standard error. */
export function writeErr(text: string): void {
  writeTo(2, text);
}

/** One line, printable, each unprintable character a `?`: messages may quote hostile input. */
export function printableLine(text: string): string {
  return text.replace(UNPRINTABLE, "?");
}

/** Print an error the way every command does and return its exit status. */
export function reportError(json: boolean, code: ErrorCode, message: string): number {
  const line = printableLine(message);
  if (json) writeOut(`${JSON.stringify({ ok: false, code, message: line })}\n`);
  writeErr(`error: ${code}: ${line}\n`);
  return exitStatusOf(code);
}

export interface CommandLine {
  /** The command's name, as in `airgrant-verifier`. */
  name: string;
  usage: string;
  /** What --version prints after the name: the package's version, from `packageVersion`. */
  version: string;
}

/**
 * The `version` of the package.json at `url`, read when the command's module
 * loads. The host's single executable loads its modules while its start-up
 * snapshot is built, so it carries the version it was built from and reads
 * no file at run time.
 */
export function packageVersion(url: URL): string {
  const pkg = JSON.parse(readFileSync(url, "utf8")) as { version?: unknown };
  if (typeof pkg.version !== "string") throw new Error(`${url.pathname} has no version`);
  return pkg.version;
}

const COMMON_OPTIONS = {
  json: { type: "boolean", default: false },
  help: { type: "boolean", default: false },
  version: { type: "boolean", default: false },
} satisfies ParseArgsConfig["options"];

type Options = NonNullable<ParseArgsConfig["options"]>;
export type ParsedArgs<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O & typeof COMMON_OPTIONS; allowPositionals: true; args: string[]; strict: true }>
>;

/** A usage error that points at --help. */
export function usageError(cli: CommandLine, message: string): AirgrantError {
  return new AirgrantError("usage", `${message} (see ${cli.name} --help)`);
}

/**
 * Parse `argv` with `options` plus --json, --help and --version, answer
 * --help and --version, run `body`, and map whatever it throws to the
 * contract's error line and exit status. Returns the exit status.
 */
export function runCommandLine<O extends Options>(
  cli: CommandLine,
  argv: string[],
  options: O,
  body: (args: ParsedArgs<O>) => number,
): number {
  let json = argv.includes("--json");
  try {
    let args: ParsedArgs<O>;
    try {
      args = parseArgs({
        args: argv,
        options: { ...options, ...COMMON_OPTIONS },
        allowPositionals: true,
        strict: true,
      }) as ParsedArgs<O>;
    } catch (err) {
      throw usageError(cli, (err as Error).message.split("\n")[0] ?? "bad arguments");
    }
    const common = args.values as { json?: boolean; help?: boolean; version?: boolean };
    json = common.json === true;
    if (common.help) {
      writeOut(`${cli.usage}\n`);
      return 0;
    }
    if (common.version) {
      writeOut(`${cli.name} ${cli.version}\n`);
      return 0;
    }
    return body(args);
  } catch (err) {
    if (err instanceof AirgrantError) return reportError(json, err.code, err.message);
    if (process.env.AIRGRANT_DEBUG === "1") writeErr(`${(err as Error).stack}\n`);
    return reportError(json, "internal", `unexpected failure: ${(err as Error).message}`);
  }
}
