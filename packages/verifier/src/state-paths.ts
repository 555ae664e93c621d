import { join } from "node:path";

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
}

export const DEFAULT_STATE_DIR = "/var/lib/airgrant";

/** `--state DIR`, else `AIRGRANT_STATE`, else /var/lib/airgrant. */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? (env.AIRGRANT_STATE || DEFAULT_STATE_DIR);
}

export function hostState(dir: string): HostState {
  return {
    dir,
    bundlePath: join(dir, "bundle.json"),
    usedDir: join(dir, "used"),
    auditLogPath: join(dir, "audit.log"),
    requestsDir: join(dir, "requests"),
    timeFloorPath: join(dir, "time-floor"),
  };
}
