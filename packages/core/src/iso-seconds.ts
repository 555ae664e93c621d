const MS_PER_DAY = 86_400_000;
/** Date's range: 100,000,000 days either side of the epoch (ECMA-262, "Time Values and Time Range"). */
const MAX_TIME_MS = 8.64e15;

/**
 * Days since 1970-01-01 of a date of the proleptic Gregorian calendar (month
 * 1-12): Howard Hinnant's days_from_civil ("chrono-Compatible Low-Level
 * Date Algorithms"), of which isoTime is the inverse.
 */
export function daysFromCivil(year: number, month: number, day: number): number {
  // The year from March on, so that a leap day ends it.
  const marchYear = year - (month <= 2 ? 1 : 0);
  const era = Math.floor(marchYear / 400);
  const yearOfEra = marchYear - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

function digits(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/**
 * A time in milliseconds since the epoch, an integer within Date's range,
 * as Date.prototype.toISOString writes it: YYYY-MM-DDTHH:MM:SS.sssZ, a year
 * outside 0-9999 as ±YYYYYY. Reckoned here because toISOString has V8 look
 * up the host's time zone first, through ICU and /etc/localtime, which costs
 * a login a quarter of a millisecond. The civil date is Hinnant's
 * civil_from_days, the inverse of daysFromCivil.
 */
export function isoTime(ms: number): string {
  const days = Math.floor(ms / MS_PER_DAY);
  const inDay = ms - days * MS_PER_DAY;
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthFromMarch = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthFromMarch + 2) / 5) + 1;
  const month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  const yearText = year >= 0 && year <= 9999 ? digits(year, 4) : `${year < 0 ? "-" : "+"}${digits(Math.abs(year), 6)}`;
  const hours = Math.floor(inDay / 3_600_000);
  const minutes = Math.floor(inDay / 60_000) % 60;
  const seconds = Math.floor(inDay / 1000) % 60;
  return `${yearText}-${digits(month, 2)}-${digits(day, 2)}T${digits(hours, 2)}:${digits(minutes, 2)}:${digits(seconds, 2)}.${digits(inDay % 1000, 3)}Z`;
}

/**
 * Seconds since the epoch as ISO 8601 without milliseconds, for messages
 * and reports; a time beyond what Date holds (a certificate's uint64 bound,
 * a hostile log's member) is printed as the number.
 */
export function isoSeconds(seconds: number): string {
  const ms = Math.trunc(seconds * 1000);
  return Math.abs(ms) <= MAX_TIME_MS ? isoTime(ms).replace(".000Z", "Z") : `${seconds} s`;
}
