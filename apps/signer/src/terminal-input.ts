import { closeSync, openSync, writeSync } from "node:fs";
import { AirgrantError, type BoundedRead, readBounded, writeErr } from "@airgrant/core";
import { readSecretFile } from "./secret-file.js";

/** The environment variable a PIN may come from (never argv). */
export const PIN_ENV = "AIRGRANT_PIN";

/**
 * One line from `fd`, without its line end, reading at most `limit` bytes:
 * stops at the first "\n" or the end of input. Longer input is `bad-input`.
 */
export function readLine(fd: number, limit: number, what: string): string {
  let read: BoundedRead;
  try {
    read = readBounded(fd, limit, 0x0a);
  } catch (err) {
    throw new AirgrantError("file-unreadable", `cannot read the ${what}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    if (read.oversized) throw new AirgrantError("bad-input", `the ${what} is longer than ${limit} bytes`);
    return Buffer.from(read.bytes).toString("utf8").replace(/\r$/, "");
  } finally {
    read.buffer.fill(0);
  }
}

/**
 * Asks for a secret on the controlling terminal with echo off (stty -echo),
 * restoring echo even on failure; `noTerminal` is thrown when there is none.
 */
function promptHidden(prompt: string, what: string, noTerminal: () => AirgrantError): string {
  let fd: number;
  try {
    fd = openSync("/dev/tty", "r+");
  } catch {
    throw noTerminal();
  }
  // Loaded here, not at start: every signer command pays for what it loads
  // at start, and only a prompt on a terminal runs stty.
  const { spawnSync } = process.getBuiltinModule("node:child_process");
  try {
    spawnSync("stty", ["-echo"], { stdio: [fd, "ignore", "ignore"] });
    try {
      writeSync(fd, prompt);
      return readLine(fd, 256, what);
    } finally {
      spawnSync("stty", ["echo"], { stdio: [fd, "ignore", "ignore"] });
      writeSync(fd, "\n");
    }
  } finally {
    closeSync(fd);
  }
}

/** The token PIN: from --pin-file (its first line), else AIRGRANT_PIN, else a prompt with echo off. */
export function readPin(pinFile: string | undefined, tokenLabel: string, env: NodeJS.ProcessEnv = process.env): string {
  if (pinFile !== undefined) {
    const pin = firstLineOfSecretFile(pinFile, "--pin-file");
    if (pin === "") throw new AirgrantError("bad-input", `--pin-file ${pinFile} is empty`);
    return pin;
  }
  const fromEnv = env[PIN_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return promptHidden(
    `PIN for token "${tokenLabel}": `,
    "PIN",
    () =>
      new AirgrantError(
        "pin-required",
        `no PIN given and no terminal to ask on; set ${PIN_ENV} or pass --pin-file FILE`,
      ),
  );
}

/** The first line of a secret file (readSecretFile), without its line end. */
function firstLineOfSecretFile(path: string, what: string): string {
  const raw = readSecretFile(path, what);
  try {
    const end = raw.indexOf(0x0a);
    return raw
      .subarray(0, end < 0 ? raw.length : end)
      .toString("utf8")
      .replace(/\r$/, "");
  } finally {
    raw.fill(0);
  }
}

/**
 * A YubiKey's private id, never from argv (any local user reads
 * /proc/PID/cmdline): the first line of --private-id-file, else asked for on
 * the terminal with echo off, else the first line of stdin.
 */
export function readPrivateId(file: string | undefined): string {
  if (file !== undefined) return firstLineOfSecretFile(file, "--private-id-file").trim();
  if (process.stdin.isTTY === true) {
    return promptHidden(
      "YubiKey private id (12 hex digits): ",
      "private id",
      () => new AirgrantError("usage", "no terminal to ask for the private id on; pass --private-id-file FILE"),
    ).trim();
  }
  return readLine(0, 256, "private id").trim();
}

/**
 * The OTP an officer's YubiKey types: prompted for on stderr and read from
 * the terminal, or read as the first line of stdin when it is a pipe or file.
 */
export function readOtp(): string {
  if (process.stdin.isTTY === true) writeErr("Touch your YubiKey: ");
  return readLine(0, 256, "OTP").trim();
}
