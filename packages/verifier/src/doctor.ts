import { AirgrantError, exitStatusOf, printableLine, writeErr, writeOut } from "@airgrant/core";
import type { Finding } from "./doctor-finding.js";
import { pamFindings } from "./doctor-pam.js";
import { sshdFindings } from "./doctor-sshd.js";
import { stateFindings } from "./doctor-state.js";
import { sshCaKeyLines } from "./ssh-ca-keys.js";
import { hostState } from "./state-paths.js";

/**
 * `airgrant-verifier doctor` (docs/doctor.md): what an administrator gets
 * wrong in the state, the PAM stacks and sshd, every finding at once, each
 * with its fix. It reads and changes nothing: not even the sealing key moves.
 */

export const DEFAULT_PAM_DIR = "/etc/pam.d";

export interface DoctorInput {
  stateDir: string;
  pamDir: string;
  /** Given to `sshd -T -f`; sshd's own default otherwise. */
  sshdConfig?: string;
  clock: () => Date;
}

export function runDoctor(input: DoctorInput): Finding[] {
  if (process.geteuid?.() !== 0) {
    throw new AirgrantError("doctor-unreadable", "doctor reads root's state, PAM and sshd files: run it as root");
  }
  const now = Math.floor(input.clock().getTime() / 1000);
  const state = stateFindings(hostState(input.stateDir), now);
  const pam = pamFindings(input.pamDir, input.stateDir);
  const sshd = sshdFindings({
    ...(input.sshdConfig === undefined ? {} : { configFile: input.sshdConfig }),
    pam: pam.sshd,
    ...(state.bundle === undefined ? {} : { bundleCaLines: sshCaKeyLines(state.bundle) }),
  });
  // A line in a file several services include is one finding.
  const seen = new Set<string>();
  return [...state.findings, ...pam.findings, ...sshd].filter((f) => {
    const key = `${f.code}\0${f.where}\0${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `finding: <code>: <where>: <message>; fix: <fix>`, printable. */
export function findingLine(f: Finding): string {
  return printableLine(`finding: ${f.code}: ${f.where}: ${f.message}; fix: ${f.fix}`);
}

/**
 * One line per finding on stdout (with --json one array of them), and
 * `error: doctor-findings: N finding(s)` on stderr when there is any: exit 0
 * only when all is well.
 */
export function printDoctorReport(findings: Finding[], json: boolean): number {
  if (json) {
    const printable = findings.map((f) => ({
      code: f.code,
      where: printableLine(f.where),
      message: printableLine(f.message),
      fix: printableLine(f.fix),
    }));
    writeOut(`${JSON.stringify(printable)}\n`);
  } else {
    writeOut(findings.map((f) => `${findingLine(f)}\n`).join(""));
  }
  if (findings.length === 0) return 0;
  writeErr(`error: doctor-findings: ${findings.length} finding(s)\n`);
  return exitStatusOf("doctor-findings");
}
