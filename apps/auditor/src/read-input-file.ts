import { readFileSync } from "node:fs";
import { AirgrantError } from "@airgrant/core";

/** The bytes of a file the auditor was given (a receipt, a bundle, an earlier audit), or `file-unreadable`. */
export function readInputFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new AirgrantError("file-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
}
