import { normalize } from "node:path";

/** Where a host keeps its airgrant state (docs/verifier.md, "State directory"). */
export interface HostState {
  dir: string;
  bundlePath: string;
  usedDir: string;
  auditLogPath: string;
  /** Pending and redeemed requests (docs/requests.md, "On the host"). */
  requestsDir: string;
  /** The time floor held when the clock was found behind it (docs/requests.md, "Time floor"). */
  timeFloorPath: string;
  /** The log's sealing key (docs/audit-log.md, "Sealing"). */
  sealKeyPath: string;
  /** Where an install writes the seal receipt for the auditor, unless told elsewhere; doctor warns while it is there. */
  sealReceiptPath: string;
}

export const DEFAULT_STATE_DIR = "/var/lib/airgrant";

/** `--state DIR`, else `AIRGRANT_STATE`, else /var/lib/airgrant. */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.AIRGRANT_STATE || DEFAULT_STATE_DIR);
}

/**
 * `name`, one path component, inside `dir`. The state's paths are made with
 * this, not path.join, which normalizes the whole path again at each call:
 * 5-10 µs in the host's runtime, which has no JIT, and a login makes some
 * fifty (bench/verifier.bench.ts). hostState normalizes the directory once.
 */
export function inDir(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

export function hostState(given: string): HostState {
  const dir = normalize(given);
  return {
    dir,
    bundlePath: inDir(dir, "bundle.json"),
    usedDir: inDir(dir, "used"),
    auditLogPath: inDir(dir, "audit.log"),
    requestsDir: inDir(dir, "requests"),
    timeFloorPath: inDir(dir, "time-floor"),
    sealKeyPath: inDir(dir, "seal.key"),
    sealReceiptPath: inDir(dir, "seal-receipt.json"),
  };
}
