// The airgrant commands run the way an end-to-end test runs them: as their
// built script under this Node, with nothing of the test process's own
// AIRGRANT_* settings leaking into a role's run; what a role needs is given.
import { type ChildProcess, spawnSync } from "node:child_process";

/** What one run of a command left: its exit status (null when killed) and its output. */
export interface RoleRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RoleRunOptions {
  /** Written to its stdin: an OTP, a grant. */
  readonly input?: string;
  /** Applied over the test's environment, whose AIRGRANT_* variables are blanked first. */
  readonly env?: NodeJS.ProcessEnv;
  /** Runs it as this user, in group nogroup (65534): a local user who is not root. */
  readonly uid?: number;
  /** Kills it after this many milliseconds. */
  readonly timeout?: number;
}

/** The test's environment with each AIRGRANT_* variable blank, which every command reads as unset. */
function blankedEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (name.startsWith("AIRGRANT_")) env[name] = "";
  return env;
}

/** Run `script` (SIGNER_BUNDLE, VERIFIER_CLI, AUDITOR_CLI) with `args` and wait for it. */
export function runRole(script: string, args: readonly string[], options: RoleRunOptions = {}): RoleRun {
  const r = spawnSync(process.execPath, [script, ...args], {
    input: options.input ?? "",
    encoding: "utf8",
    env: { ...blankedEnv(), ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: 65534 }),
    ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * What a child started with spawn writes on its stdout and stderr (each
 * where it is a pipe) and its exit status, once it has closed; rejected when
 * it cannot be started. For runs side by side, and for a child a test looks
 * at while it runs.
 */
export function childRun(child: ChildProcess): Promise<RoleRun> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
