// Timing and the way figures are printed, for benchmarks and for tests that
// compare durations.

/** The middle value (the upper one of an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** `n` with exactly `digits` decimals and thousands separators, as every figure is printed. */
export function fmt(n: number, digits = 2): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export interface AlternateOptions {
  /** Measured runs of each. */
  runs?: number;
  /** Unmeasured runs of each first. */
  warm?: number;
}

/** A whole process of ours and the baseline it is timed against; each is passed the run's index. */
export interface TimedPair {
  ours: (run: number) => void;
  baseline: (run: number) => void;
}

/**
 * Time pairs of whole processes in turn, each pair's baseline then its own,
 * round after round, `runs` rounds after `warm` unmeasured ones, so that
 * drift in the machine, and what an earlier pair leaves behind, hits every
 * process alike; returns the medians (ms) of each pair, in order.
 */
export function interleave(
  pairs: readonly TimedPair[],
  { runs = 31, warm = 3 }: AlternateOptions = {},
): { oursMs: number; baselineMs: number }[] {
  const time = (fn: (run: number) => void, i: number) => {
    const started = performance.now();
    fn(i);
    return performance.now() - started;
  };
  const o = pairs.map(() => [] as number[]);
  const b = pairs.map(() => [] as number[]);
  for (let i = 0; i < warm + runs; i++) {
    pairs.forEach((pair, k) => {
      const baselineMs = time(pair.baseline, i);
      const oursMs = time(pair.ours, i);
      if (i < warm) return;
      b[k]?.push(baselineMs);
      o[k]?.push(oursMs);
    });
  }
  return pairs.map((_, k) => ({ oursMs: median(o[k] ?? []), baselineMs: median(b[k] ?? []) }));
}

/** Time two whole processes in turn (interleave with one pair); returns both medians (ms). */
export function alternate(
  ours: (run: number) => void,
  baseline: (run: number) => void,
  options: AlternateOptions = {},
): { oursMs: number; baselineMs: number } {
  const [medians] = interleave([{ ours, baseline }], options);
  if (medians === undefined) throw new Error("interleave returned no medians");
  return medians;
}
