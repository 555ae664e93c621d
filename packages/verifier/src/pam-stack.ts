import { readdirSync, readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { AirgrantError } from "@airgrant/core";

/**
 * A PAM service's stack as Linux-PAM reads it from /etc/pam.d (pam.conf(5)),
 * for `airgrant-verifier doctor`: comments and continuation lines, `[...]`
 * control values, `@include FILE` (every type of FILE), `TYPE include FILE`
 * and `TYPE substack FILE` (that type of FILE), followed to the depth PAM
 * allows.
 */

export type PamType = "auth" | "account" | "session" | "password";

export interface PamEntry {
  type: PamType;
  /** `required`, or the bracketed form with its inner spaces made single: `[success=done default=die]`. */
  control: string;
  /** As written: `pam_exec.so` or an absolute path. */
  module: string;
  args: string[];
  /** The file and line the entry is written on. */
  file: string;
  line: number;
}

/** Linux-PAM's PAM_SUBSTACK_MAX_LEVEL: deeper includes are not followed. */
const MAX_INCLUDE_DEPTH = 16;

const TYPES = new Set<string>(["auth", "account", "session", "password"]);

type Line = { text: string; line: number };

function unreadable(path: string, err: unknown): AirgrantError {
  return new AirgrantError("doctor-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
}

/** The file's logical lines: `#` to the end of the line removed, `\` at the end joining the next. */
function logicalLines(text: string): Line[] {
  const out: Line[] = [];
  let pending: Line | undefined;
  text.split("\n").forEach((raw, i) => {
    const hash = raw.indexOf("#");
    const uncommented = hash < 0 ? raw : raw.slice(0, hash);
    const continued = hash < 0 && uncommented.endsWith("\\");
    const part = continued ? uncommented.slice(0, -1) : uncommented;
    pending =
      pending === undefined ? { text: part, line: i + 1 } : { text: `${pending.text} ${part}`, line: pending.line };
    if (!continued) {
      if (pending.text.trim() !== "") out.push(pending);
      pending = undefined;
    }
  });
  if (pending !== undefined && pending.text.trim() !== "") out.push(pending);
  return out;
}

/** Words split on white space, a `[...]` (which may hold spaces) kept as one word. */
export function pamWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
    if (i >= text.length) break;
    let word = "";
    if (text[i] === "[") {
      let depth = 0;
      for (; i < text.length; i++) {
        const c = text[i] as string;
        if (c === "\\" && text[i + 1] === "]") {
          word += "]";
          i++;
          continue;
        }
        if (c === "[") depth++;
        if (c === "]") depth--;
        word += /\s/.test(c) ? " " : c;
        if (depth === 0) {
          i++;
          break;
        }
      }
      words.push(word.replace(/ +/g, " ").replace("[ ", "[").replace(" ]", "]"));
    } else {
      while (i < text.length && !/\s/.test(text[i] as string)) word += text[i++];
      words.push(word);
    }
  }
  return words;
}

function readLines(path: string): Line[] | undefined {
  try {
    return logicalLines(readFileSync(path, "utf8"));
  } catch (err) {
    // PAM itself fails a stack whose include is missing; doctor reads what is there.
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw unreadable(path, err);
  }
}

function includedPath(dir: string, name: string): string {
  return isAbsolute(name) ? name : join(dir, name);
}

function expand(dir: string, path: string, type: PamType | undefined, depth: number, out: PamEntry[]): void {
  if (depth > MAX_INCLUDE_DEPTH) return;
  for (const { text, line } of readLines(path) ?? []) {
    const words = pamWords(text);
    const [first, control, module, ...args] = words;
    if (first === undefined) continue;
    if (first === "@include") {
      if (control !== undefined) expand(dir, includedPath(dir, control), type, depth + 1, out);
      continue;
    }
    const entryType = first.startsWith("-") ? first.slice(1) : first;
    if (!TYPES.has(entryType) || control === undefined || module === undefined) continue;
    if (type !== undefined && entryType !== type) continue;
    if (control === "include" || control === "substack") {
      expand(dir, includedPath(dir, module), entryType as PamType, depth + 1, out);
      continue;
    }
    out.push({ type: entryType as PamType, control, module, args, file: path, line });
  }
}

/** The entries of one type of a service's stack, in the order PAM runs them. */
export function readPamStack(dir: string, service: string, type: PamType): PamEntry[] {
  const out: PamEntry[] = [];
  expand(dir, join(dir, service), type, 0, out);
  return out;
}

/** The service files of a PAM directory (every regular name but Debian's included `common-*` files). */
export function pamServices(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && !entry.name.startsWith("common-") && !entry.name.startsWith("."))
      .map((entry) => entry.name);
  } catch (err) {
    throw unreadable(dir, err);
  }
  return names.sort();
}
