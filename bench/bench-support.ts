// Shared by the benchmarks: the figures' report, options and scratch
// directories, with @airgrant/testkit's timing and issuers, so that every
// benchmark prints its figures the same way.
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fmt, REPO_ROOT } from "@airgrant/testkit";

export { alternate, fmt, interleave, median } from "@airgrant/testkit";

export const ROOT = REPO_ROOT;

/**
 * A fresh scratch directory under bench/.work. Nothing is deleted here:
 * removing thousands of files makes the disk busy for the next
 * measurement; bench/run.ts clears bench/.work once every bench is done.
 */
export function workDir(name: string): string {
  const dir = join(ROOT, "bench", ".work", `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Have the kernel drop these files' pages, so that each side of a
 * comparison next starts as on a host: from pages read back from disk,
 * which map as those of a package's install do. A file's pages map as the
 * file came into the page cache: the single executable, written in one
 * piece by the build, starts with some 400 page faults fewer than the Node
 * runtime tar unpacked, an advantage no host's copy has (README,
 * "Performance").
 */
export function readFromDisk(...files: string[]): void {
  const run = (command: string, args: string[]) => {
    const r = spawnSync(command, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${r.stderr}`);
  };
  // Dirty pages stay; only written-back ones can go.
  run("sync", files);
  for (const file of files) run("dd", [`if=${file}`, "iflag=nocache", "count=0", "status=none"]);
}

/** `--json` on a bench's command line (bench/run.ts passes it on): print figures as JSON lines. */
export const JSON_OUTPUT = process.argv.includes("--json");

/** The value after `--NAME` on the command line, or `fallback`. */
export function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : (process.argv[at + 1] ?? fallback);
}

/** A numeric `--NAME N`, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  return Number(option(name, String(fallback)));
}

export interface Figure {
  bench: string;
  what: string;
  oursMs: number;
  baseline: string;
  baselineMs: number;
  target: string;
  /** Printed after the ratio, and kept as members in --json. */
  [extra: string]: string | number;
}

/**
 * Print one figure: what a person waits for, against its baseline measured
 * in the same run, and the ratio with its target (`<= 1.5`). Text by
 * default; one JSON object per line with --json, which bench/run.ts
 * collects into one document.
 */
export function report({ bench, what, oursMs, baseline, baselineMs, target, ...extra }: Figure): number {
  const ratio = oursMs / baselineMs;
  if (JSON_OUTPUT) {
    const round = (n: number) => Number(n.toFixed(3));
    console.log(
      JSON.stringify({
        bench,
        what,
        oursMs: round(oursMs),
        baseline,
        baselineMs: round(baselineMs),
        ratio: round(ratio),
        target,
        ...extra,
      }),
    );
    return ratio;
  }
  console.log(`${what}: ${fmt(oursMs, 1)} ms; ${baseline}: ${fmt(baselineMs, 1)} ms`);
  const notes = Object.entries(extra).map(([k, v]) => `${k} ${v}`);
  console.log(`  ratio ${fmt(ratio)} (target ${target})${notes.length > 0 ? `; ${notes.join(", ")}` : ""}`);
  return ratio;
}
