import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, EXIT_STATUS, exitStatusOf, isErrorCode, SUCCESS_CODES } from "./airgrant-error.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** Every `| code | exit | ... |` row of docs/errors.md, code to the exit statuses it is given. */
function documentedCodes(): Map<string, Set<number>> {
  const lines = readFileSync(join(root, "docs/errors.md"), "utf8").split("\n");
  const codes = new Map<string, Set<number>>();
  let inCodeTable = false;
  for (const line of lines) {
    if (!line.startsWith("|")) {
      inCodeTable = false;
      continue;
    }
    const cells = line
      .slice(1, -1)
      .split("|")
      .map((c) => c.trim());
    if (cells[0] === "code") {
      // A table of codes without an exit column would be a code whose status nobody wrote down.
      expect(cells[1], `docs/errors.md: ${line}`).toBe("exit");
      inCodeTable = true;
      continue;
    }
    if (!inCodeTable || /^-+$/.test(cells[0] ?? "")) continue;
    const code = /^`([a-z][a-z0-9-]*)`$/.exec(cells[0] ?? "")?.[1];
    expect(code, `docs/errors.md: a row whose code is not one backquoted word: ${line}`).toBeDefined();
    const exit = Number(cells[1]);
    expect([0, 1, 2, 3], `docs/errors.md: ${line}`).toContain(exit);
    const seen = codes.get(code as string) ?? new Set<number>();
    seen.add(exit);
    codes.set(code as string, seen);
  }
  return codes;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".test.ts"))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * The code literals the shipped sources use: thrown, returned in a verdict
 * (`code: "…"`, `reject("…", …)`), compared against, or members of a
 * `…Code` / `…Problem` union.
 */
function codesInSources(): Map<string, string> {
  const files = ["packages", "apps"].flatMap((top) =>
    readdirSync(join(root, top)).flatMap((pkg) => sourceFiles(join(root, top, pkg, "src"))),
  );
  const found = new Map<string, string>();
  const patterns = [
    /AirgrantError\(\s*"([a-z][a-z0-9-]*)"/g,
    /\bcode:\s*"([a-z][a-z0-9-]*)"/g,
    // A comparison, unless it is of a type name (`typeof err.code === "string"`).
    /^(?!.*\btypeof\b).*\bcode\s*[!=]==\s*"([a-z][a-z0-9-]*)"/gm,
    /\b(?:reject|refuse|fail|broken)\(\s*"([a-z][a-z0-9-]*)",/g,
  ];
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    const at = file.slice(root.length);
    for (const pattern of patterns) for (const m of text.matchAll(pattern)) found.set(m[1] as string, at);
    for (const union of text.matchAll(/\btype \w*(?:Code|Problem) =([^;]*);/g)) {
      for (const m of (union[1] as string).matchAll(/"([a-z][a-z0-9-]*)"/g)) found.set(m[1] as string, at);
    }
  }
  return found;
}

describe("error codes", () => {
  const documented = documentedCodes();

  it("gives each documented code one exit status", () => {
    const ambiguous = [...documented].filter(([, exits]) => exits.size > 1).map(([code]) => code);
    expect(ambiguous).toEqual([]);
  });

  it("documents every code of ERROR_CODES with its exit status", () => {
    for (const [code, exitClass] of Object.entries(ERROR_CODES)) {
      expect([...(documented.get(code) ?? [])], `docs/errors.md on ${code}`).toEqual([EXIT_STATUS[exitClass]]);
    }
  });

  it("has in ERROR_CODES or SUCCESS_CODES every code docs/errors.md lists, with the same exit status", () => {
    const success: readonly string[] = SUCCESS_CODES;
    for (const [code, exits] of documented) {
      const [exit] = [...exits];
      if (exit === 0) expect(success, `${code} documented with exit 0`).toContain(code);
      else {
        expect(isErrorCode(code), `${code} is documented but not in ERROR_CODES`).toBe(true);
        if (isErrorCode(code)) expect(exitStatusOf(code), code).toBe(exit);
      }
    }
    for (const code of SUCCESS_CODES) expect([...(documented.get(code) ?? [])], code).toEqual([0]);
  });

  it("has every code the sources use in the table", () => {
    const success: readonly string[] = SUCCESS_CODES;
    const unknown = [...codesInSources()]
      .filter(([code]) => !isErrorCode(code) && !success.includes(code))
      .map(([code, file]) => `${code} (${file})`);
    expect(unknown, "each needs a row in ERROR_CODES (airgrant-error.ts) and one in docs/errors.md").toEqual([]);
  });

  it("finds the codes of the verdict unions in the sources it scans", () => {
    const found = codesInSources();
    for (const code of ["wrong-source", "malformed-certificate", "otp-replayed", "duplicate-grant", "torn-tail"]) {
      expect(found.has(code), code).toBe(true);
    }
  });

  it("refuses a code outside the table at run time", () => {
    expect(isErrorCode("no-such-code")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
  });
});
