import { AirgrantError } from "@airgrant/core";

const UNIT_SECONDS: Readonly<Record<string, number>> = { d: 86_400, h: 3600, m: 60, s: 1 };
const DURATION_PATTERN = /^(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,9})s)?$/;

/**
 * Seconds in a duration written as units in decreasing order, each at most
 * once: `90s`, `30m`, `2h`, `1h30m`, `1d`. A bare number is refused (minutes
 * or seconds? the reader cannot tell). Throws `bad-input`.
 */
export function parseDuration(text: string, what = "duration"): number {
  const match = DURATION_PATTERN.exec(text);
  if (text === "" || match === null) {
    throw new AirgrantError("bad-input", `${what} '${text}' is not a duration like 90s, 30m, 2h or 1h30m`);
  }
  const [, d, h, m, s] = match;
  const seconds = Number(d ?? 0) * 86_400 + Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0);
  if (seconds <= 0) throw new AirgrantError("bad-input", `${what} must be longer than 0s`);
  return seconds;
}

/** The shortest form parseDuration reads back: 5400 → "1h30m". */
export function formatDuration(seconds: number): string {
  let rest = seconds;
  let out = "";
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = UNIT_SECONDS[unit] as number;
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out === "" ? "0s" : out;
}
