import { readSync } from "node:fs";

export interface BoundedInput {
  bytes: Uint8Array;
  /** The input went on past `limit` bytes; the rest was not read. */
  oversized: boolean;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Read standard input up to `limit` bytes. Stops early at the end of the
 * first line when stdin is a terminal, so a pasted grant needs only Enter.
 * Never reads more than limit + 1 bytes, so a 10 MB input costs nothing.
 */
export function readBoundedStdin(limit: number, fd = 0, isTerminal = false): BoundedInput {
  const buffer = Buffer.alloc(limit + 1);
  let length = 0;
  while (length < buffer.length) {
    let n: number;
    try {
      n = readSync(fd, buffer, length, buffer.length - length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        Atomics.wait(sleeper, 0, 0, 5);
        continue;
      }
      if (code === "EOF") break;
      throw err;
    }
    if (n === 0) break;
    length += n;
    if (isTerminal && buffer.subarray(length - n, length).includes(0x0a)) break;
  }
  return length > limit
    ? { bytes: new Uint8Array(buffer.subarray(0, limit)), oversized: true }
    : { bytes: new Uint8Array(buffer.subarray(0, length)), oversized: false };
}
