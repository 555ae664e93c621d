// Shared by the benchmarks: the figures' report and scratch directories, with
// @airgrant/testkit's timing and issuers, so that every benchmark prints
// its figures the same way.
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmt } from "@airgrant/testkit";

export { alternate, fmt, median } from "@airgrant/testkit";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * A fresh scratch directory under bench/.work. Nothing is deleted here:
 * removing thousands of files makes the disk busy for the next
 * measurement; bench/run.mjs clears bench/.work once every bench is done.
 */
export function workDir(name) {
  const dir = join(ROOT, "bench", ".work", `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** `--json` on a bench's command line (bench/run.mjs passes it on): print figures as JSON lines. */
export const JSON_OUTPUT = process.argv.includes("--json");

/**
 * Print one figure: what a person waits for, against its baseline measured
 * in the same run, and the ratio with its target (`<= 1.5`). Text by
 * default; one JSON object per line with --json, which bench/run.mjs
 * collects into one document.
 */
export function report({ bench, what, oursMs, baseline, baselineMs, target, ...extra }) {
  const ratio = oursMs / baselineMs;
  if (JSON_OUTPUT) {
    const round = (n) => Number(n.toFixed(3));
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
