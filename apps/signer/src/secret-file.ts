import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { AirgrantError } from "@airgrant/core";

/** A secret file's size limit: PINs, hex keys and ids are a line each. */
const MAX_SECRET_FILE_BYTES = 4096;

/**
 * Reads a file holding a secret (an AES key, a PIN, a YubiKey private id)
 * and refuses it, as ssh refuses a private key, unless it is a regular file
 * owned by this user or root with no permission bits for group or others:
 * a secret another local user can read is already spent. The caller zeroes
 * the buffer returned.
 */
export function readSecretFile(path: string, what: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new AirgrantError("file-unreadable", `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    let why: string | undefined;
    if (!st.isFile()) why = "is not a regular file";
    else if ((st.mode & 0o077) !== 0) {
      why = `is accessible by others (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}); chmod 600 it`;
    } else if (uid !== undefined && st.uid !== uid && st.uid !== 0) why = `is owned by another user (uid ${st.uid})`;
    if (why !== undefined) throw new AirgrantError("secret-file-exposed", `${what} ${path} ${why}`);
    if (st.size > MAX_SECRET_FILE_BYTES) {
      throw new AirgrantError("bad-input", `${what} ${path} is larger than ${MAX_SECRET_FILE_BYTES} bytes`);
    }
    try {
      return readFileSync(fd);
    } catch (err) {
      throw new AirgrantError("file-unreadable", `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code}`);
    }
  } finally {
    closeSync(fd);
  }
}
