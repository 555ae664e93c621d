import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  AirgrantError,
  ensurePrivateDirectory,
  type FileLockOptions,
  withFileLock,
  writeFileAtomic,
} from "@airgrant/core";
import { type CounterAdvance, compareOtpCounters, type OtpCounter, type OtpCounterStore } from "./otp-counter-store.js";
import { MAX_USAGE_COUNTER } from "./otp-token.js";
import { MAX_PUBLIC_ID_LENGTH } from "./parse-otp.js";

/** Identifies the file's layout so that a future change is detected rather than misread. */
export const COUNTER_STORE_FORMAT = "airgrant-otp-counters-v1";

type Counters = Map<string, OtpCounter>;

const PUBLIC_ID_PATTERN = new RegExp(`^(?:[cbdefghijklnrtuv]{2}){0,${MAX_PUBLIC_ID_LENGTH / 2}}$`);

function corrupt(path: string, why: string): AirgrantError {
  return new AirgrantError(
    "otp-store-corrupt",
    `OTP counter store ${path} is corrupt (${why}); restore it from a backup: starting afresh would let old OTPs be replayed`,
  );
}

function isCounterInRange(value: unknown, max: number): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= max;
}

function hasExactKeys(value: object, keys: readonly string[]): boolean {
  const own = Object.keys(value);
  return own.length === keys.length && keys.every((key) => Object.hasOwn(value, key));
}

/**
 * Parse the store strictly. A store that does not parse is an error, never
 * an empty store: forgetting counters would let every old OTP through again.
 */
function parseCounters(path: string, text: string): Counters {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw corrupt(path, "not JSON");
  }
  if (typeof document !== "object" || document === null || !hasExactKeys(document, ["format", "keys"])) {
    throw corrupt(path, "expected an object with format and keys");
  }
  const { format, keys } = document as { format: unknown; keys: unknown };
  if (format !== COUNTER_STORE_FORMAT) throw corrupt(path, `format is not ${COUNTER_STORE_FORMAT}`);
  if (typeof keys !== "object" || keys === null || Array.isArray(keys)) throw corrupt(path, "keys is not an object");
  const counters: Counters = new Map();
  for (const [publicId, entry] of Object.entries(keys as Record<string, unknown>)) {
    if (!PUBLIC_ID_PATTERN.test(publicId)) throw corrupt(path, "a public id is not modhex");
    if (typeof entry !== "object" || entry === null || !hasExactKeys(entry, ["usageCounter", "sessionCounter"])) {
      throw corrupt(path, `bad counter for ${publicId}`);
    }
    const { usageCounter, sessionCounter } = entry as { usageCounter: unknown; sessionCounter: unknown };
    if (!isCounterInRange(usageCounter, MAX_USAGE_COUNTER) || !isCounterInRange(sessionCounter, 0xff)) {
      throw corrupt(path, `counter out of range for ${publicId}`);
    }
    counters.set(publicId, { usageCounter, sessionCounter });
  }
  return counters;
}

function serializeCounters(counters: Counters): string {
  const keys: Record<string, OtpCounter> = {};
  for (const publicId of [...counters.keys()].sort()) {
    const counter = counters.get(publicId) as OtpCounter;
    keys[publicId] = { usageCounter: counter.usageCounter, sessionCounter: counter.sessionCounter };
  }
  return `${JSON.stringify({ format: COUNTER_STORE_FORMAT, keys }, null, 2)}\n`;
}

function readCounters(path: string): Counters {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === "ENOENT") return new Map();
    throw new AirgrantError("state-unwritable", `cannot read OTP counter store ${path}: ${errno ?? "error"}`, {
      cause: err,
    });
  }
  return parseCounters(path, text);
}

/**
 * An OTP counter store in one JSON file (mode 0600, directory 0700). Each
 * `advance` reads, compares and rewrites the file under an inter-process
 * lock (`<path>.lock`), and the rewrite is atomic (write, fsync, rename), so
 * two signer processes checking OTPs at once accept each OTP at most once
 * and a crash leaves the old counters or the new ones, never neither.
 */
export function fileCounterStore(path: string, lockOptions: FileLockOptions = {}): OtpCounterStore {
  const lockPath = `${path}.lock`;
  return {
    advance(publicId: string, counter: OtpCounter): CounterAdvance {
      if (!PUBLIC_ID_PATTERN.test(publicId)) {
        throw new AirgrantError("bad-input", "a public id is 0 to 16 modhex characters");
      }
      if (
        !isCounterInRange(counter.usageCounter, MAX_USAGE_COUNTER) ||
        !isCounterInRange(counter.sessionCounter, 0xff)
      ) {
        throw new AirgrantError("bad-input", "OTP counters out of range");
      }
      ensurePrivateDirectory(dirname(path));
      return withFileLock(
        lockPath,
        (): CounterAdvance => {
          const counters = readCounters(path);
          const last = counters.get(publicId);
          if (last !== undefined && compareOtpCounters(counter, last) <= 0) return { accepted: false, last };
          counters.set(publicId, { usageCounter: counter.usageCounter, sessionCounter: counter.sessionCounter });
          writeFileAtomic(path, serializeCounters(counters));
          return { accepted: true };
        },
        lockOptions,
      );
    },
    lastAccepted(publicId: string): OtpCounter | undefined {
      // Writers replace the file by rename, so a read without the lock sees
      // one whole version.
      return readCounters(path).get(publicId);
    },
  };
}
