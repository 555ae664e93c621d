/**
 * Seconds since the epoch as ISO 8601 without milliseconds, for messages
 * and reports; a time beyond what Date holds (a certificate's uint64 bound,
 * a hostile log's member) is printed as the number.
 */
export function isoSeconds(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds} s` : date.toISOString().replace(".000Z", "Z");
}
