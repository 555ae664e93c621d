import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { ensurePrivateDirectory } from "@airgrant/core";

/** The environment variable naming the signer's state directory. */
export const SIGNER_HOME_ENV = "AIRGRANT_HOME";

/** Where the signer keeps its state (docs/signer.md, "Home"). Secrets stay on the token. */
export interface SignerHome {
  dir: string;
  /** The issuer key's label, algorithm and public key. */
  issuerPath: string;
  /** The issuer keys `init --rotate` replaced, each with its retireAt. */
  retiredIssuersPath: string;
  /** Officers and the longest grant hosts accept. */
  policyPath: string;
  /** Last accepted counters of each YubiKey (@airgrant/yubikey-otp's store). */
  countersPath: string;
  /** The signer's hash-chained audit log. */
  auditLogPath: string;
  /** Held around every read-modify-write of the files above. */
  lockPath: string;
}

/** `--home`, else AIRGRANT_HOME, else ~/.airgrant. */
export function resolveSignerHome(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? (env[SIGNER_HOME_ENV] || join(homedir(), ".airgrant")));
}

export function signerHome(dir: string): SignerHome {
  return {
    dir,
    issuerPath: join(dir, "issuer.json"),
    retiredIssuersPath: join(dir, "retired-issuers.json"),
    policyPath: join(dir, "policy.json"),
    countersPath: join(dir, "otp-counters.json"),
    auditLogPath: join(dir, "audit.log"),
    lockPath: join(dir, "signer.lock"),
  };
}

/** Creates the home (0700) when missing. */
export function ensureSignerHome(home: SignerHome): void {
  ensurePrivateDirectory(home.dir);
}
