import { readSync } from "node:fs";

export interface PamAuthtok {
  /** The bytes before the NUL (or before the limit). */
  bytes: Uint8Array;
  /** The input went on past `limit` bytes without a NUL; the rest was not read. */
  oversized: boolean;
  /** A NUL ended the token (Linux-PAM 1.5.3 and later write one; 1.5.2 just closes the pipe). */
  terminated: boolean;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Read the token `pam_exec expose_authtok` writes on stdin: the password,
 * then a NUL byte (Linux-PAM 1.5.3 and later) or just the end of the pipe
 * (1.5.2, Debian 12). Reading stops at the first NUL, so a writer that
 * never closes the pipe cannot make us wait, and at `limit` + 1 bytes, so a
 * flood costs nothing. What follows the NUL is never read.
 */
export function readPamAuthtok(limit: number, fd = 0): PamAuthtok {
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
    const nul = buffer.subarray(length, length + n).indexOf(0);
    if (nul >= 0) {
      return { bytes: new Uint8Array(buffer.subarray(0, length + nul)), oversized: false, terminated: true };
    }
    length += n;
  }
  return length > limit
    ? { bytes: new Uint8Array(buffer.subarray(0, limit)), oversized: true, terminated: false }
    : { bytes: new Uint8Array(buffer.subarray(0, length)), oversized: false, terminated: false };
}
