import { readSync } from "node:fs";
import { sleepMs } from "./sleep.js";

export interface BoundedRead {
  /** What was read, up to (not including) the stop byte; a view into `buffer`. */
  bytes: Uint8Array;
  /** The input went on past `limit` bytes without the stop byte; the rest was not read. */
  oversized: boolean;
  /** The stop byte ended the input. */
  terminated: boolean;
  /** Everything read; a caller that read a secret fills it with zeros when done. */
  buffer: Buffer;
}

/**
 * Read from `fd` until the end of input, the first `stopAt` byte, or
 * `limit` + 1 bytes, whichever comes first: hostile input can neither make
 * us wait for more after the stop byte nor make us hold more than the limit.
 * Used for grants on stdin, pam_exec's NUL-ended token, PINs and OTPs.
 */
export function readBounded(fd: number, limit: number, stopAt?: number): BoundedRead {
  const buffer = Buffer.alloc(limit + 1);
  let length = 0;
  while (length < buffer.length) {
    let n: number;
    try {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        // A non-blocking descriptor with nothing yet: wait a little, not spin.
        sleepMs(5);
        continue;
      }
      if (code === "EOF") break;
      throw err;
    }
    if (n === 0) break;
    const stop = stopAt === undefined ? -1 : buffer.subarray(length, length + n).indexOf(stopAt);
    if (stop >= 0) {
      return { bytes: buffer.subarray(0, length + stop), oversized: false, terminated: true, buffer };
    }
    length += n;
  }
  return length > limit
    ? { bytes: buffer.subarray(0, limit), oversized: true, terminated: false, buffer }
    : { bytes: buffer.subarray(0, length), oversized: false, terminated: false, buffer };
}
