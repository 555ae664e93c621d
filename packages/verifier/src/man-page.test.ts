// The man page the Debian package installs lists the same commands and
// options, with the same arguments, as `airgrant-verifier --help`: a command
// added, renamed or given a new flag fails here until the page says so.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const MAN_PAGE = fileURLToPath(new URL("../man/airgrant-verifier.8", import.meta.url));

/** `--help`'s entries under `heading:`, each cut at the gap before its description. */
function helpEntries(help: string, heading: string): string[] {
  const section = help.split(`\n${heading}:\n`)[1]?.split("\n\n")[0] ?? "";
  return section
    .split("\n")
    .filter((line) => /^ {2}\S/.test(line))
    .map((line) => line.trim().split(/ {2,}/)[0] as string);
}

/** A roff line as the reader sees it: font changes dropped, `\-` a dash. */
function plainRoff(line: string): string {
  return line.replace(/\\f[BIRP]/g, "").replaceAll("\\-", "-");
}

/** The tag line after each `.TP` of the man page's `.SH name` section. */
function manEntries(page: string, name: string): string[] {
  const section = page.split(`\n.SH ${name}\n`)[1]?.split("\n.SH ")[0] ?? "";
  const lines = section.split("\n");
  return lines.flatMap((line, i) => (line === ".TP" ? [plainRoff(lines[i + 1] ?? "")] : []));
}

describe("airgrant-verifier.8", () => {
  const help = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" }).stdout;
  const page = readFileSync(MAN_PAGE, "utf8");

  it("lists --help's commands, in its order, with their arguments", () => {
    const commands = helpEntries(help, "commands");
    expect(commands).toContain("install-bundle FILE [--receipt OUT]");
    expect(manEntries(page, "COMMANDS")).toEqual(commands);
  });

  it("lists --help's options", () => {
    const options = helpEntries(help, "options");
    expect(options).toContain("--state DIR");
    expect(manEntries(page, "OPTIONS")).toEqual(options);
  });
});
