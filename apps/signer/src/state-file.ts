import { readFileSync } from "node:fs";
import { AirgrantError } from "@airgrant/core";

/** A state file's text, or undefined when it does not exist; `state-unreadable` otherwise. */
export function readStateFile(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === "ENOENT") return undefined;
    throw new AirgrantError("state-unreadable", `cannot read ${path}: ${errno ?? "error"}`, { cause: err });
  }
}

/** The parsed JSON object of a state file, or `state-corrupt` naming the file. */
export function parseStateObject(path: string, text: string, keys: readonly string[]): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw stateCorrupt(path, "not JSON");
  }
  return checkStateObject(path, value, keys, "the file");
}

/** `value` as an object with exactly the members `keys`, or `state-corrupt` naming `what`. */
export function checkStateObject(
  path: string,
  value: unknown,
  keys: readonly string[],
  what: string,
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw stateCorrupt(path, `${what} is not an object`);
  }
  const own = Object.keys(value);
  if (own.length !== keys.length || !keys.every((k) => Object.hasOwn(value, k))) {
    throw stateCorrupt(path, `${what} must have exactly the members ${keys.join(", ")}`);
  }
  return value as Record<string, unknown>;
}

export function stateCorrupt(path: string, why: string): AirgrantError {
  return new AirgrantError(
    "state-corrupt",
    `${path} is damaged (${why}); restore it from a backup (docs/signer.md describes its format)`,
  );
}
