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

/**
 * Time two whole processes in turn, `runs` times after `warm` runs of each,
 * so that drift in the machine hits both alike; returns both medians (ms).
 * Each function is passed the run's index.
 */
export function alternate(
  ours: (run: number) => void,
  baseline: (run: number) => void,
  { runs = 31, warm = 3 }: AlternateOptions = {},
): { oursMs: number; baselineMs: number } {
  const time = (fn: (run: number) => void, i: number) => {
    const started = performance.now();
    fn(i);
    return performance.now() - started;
  };
  for (let i = 0; i < warm; i++) {
    time(baseline, i);
    time(ours, i);
  }
  const o: number[] = [];
  const b: number[] = [];
  for (let i = warm; i < warm + runs; i++) {
    b.push(time(baseline, i));
    o.push(time(ours, i));
  }
  return { oursMs: median(o), baselineMs: median(b) };
}
