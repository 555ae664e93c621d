import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AirgrantError } from "@airgrant/core";

/**
 * Creates SoftHSM2 tokens in a directory of their own, for tests and the
 * quickstart's demo token. NOT for real keys: softhsm2-util only takes PINs
 * on its command line when it is not asked interactively, where other local
 * users can read them (ps, /proc); that is acceptable only for throwaway
 * tokens whose PINs are not secret.
 */
export interface SoftHsmTokenOptions {
  /** Directory for softhsm2.conf and the token files; created if missing. */
  dir: string;
  tokenLabel: string;
  /** Security officer PIN (4–255 characters). Throwaway tokens only: it goes on softhsm2-util's argv. */
  soPin: string;
  /** User PIN (4–255 characters). Throwaway tokens only: it goes on softhsm2-util's argv. */
  pin: string;
}

export interface SoftHsmToken {
  /** The softhsm2.conf to put in SOFTHSM2_CONF before the module is initialised. */
  confPath: string;
  tokenDir: string;
  tokenLabel: string;
  /** False when a token with this label was already in the directory (it is reused, not reset). */
  created: boolean;
}

/** The environment variable SoftHSM2 reads its configuration path from, once, in C_Initialize. */
export const SOFTHSM2_CONF_ENV = "SOFTHSM2_CONF";

function softHsmUtil(args: readonly string[], confPath: string): string {
  // Loaded here, not at start: every signer command pays for what it loads
  // at start, and only making a demo token runs softhsm2-util.
  const { execFileSync } = process.getBuiltinModule("node:child_process");
  try {
    return execFileSync("softhsm2-util", args, {
      env: { ...process.env, [SOFTHSM2_CONF_ENV]: confPath },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new AirgrantError(
        "module-not-found",
        "softhsm2-util is not installed; install SoftHSM2 (apt-get install softhsm2)",
        { cause: err },
      );
    }
    // stderr, never the argument list: it holds the PINs.
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new AirgrantError("internal", `softhsm2-util ${args[0]} failed: ${stderr || "no message"}`);
  }
}

/** Labels of the initialised tokens that softhsm2-util lists for a configuration. */
function tokenLabels(confPath: string): string[] {
  const labels: string[] = [];
  for (const line of softHsmUtil(["--show-slots"], confPath).split("\n")) {
    const match = /^\s+Label:\s(.*)$/.exec(line);
    const label = match?.[1]?.trim();
    if (label !== undefined && label !== "") labels.push(label);
  }
  return labels;
}

/**
 * Writes `dir`/softhsm2.conf (file object store, tokens in `dir`/tokens) and
 * initialises a token labelled `tokenLabel` with the given PINs, unless one
 * with that label is already there: running it twice reuses the token.
 * Does not touch process.env: set SOFTHSM2_CONF to `confPath` before the
 * first openToken of the process (SoftHSM2 reads it in C_Initialize).
 */
export function createSoftHsmToken(options: SoftHsmTokenOptions): SoftHsmToken {
  const dir = resolve(options.dir);
  const tokenDir = join(dir, "tokens");
  const confPath = join(dir, "softhsm2.conf");
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  writeFileSync(
    confPath,
    `# SoftHSM2 configuration for a throwaway airgrant token\ndirectories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`,
    { mode: 0o600 },
  );
  const { tokenLabel } = options;
  if (tokenLabels(confPath).includes(tokenLabel)) return { confPath, tokenDir, tokenLabel, created: false };
  softHsmUtil(
    ["--init-token", "--free", "--label", tokenLabel, "--so-pin", options.soPin, "--pin", options.pin],
    confPath,
  );
  return { confPath, tokenDir, tokenLabel, created: true };
}
