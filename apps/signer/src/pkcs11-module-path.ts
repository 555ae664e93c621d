import { existsSync } from "node:fs";
import { AirgrantError } from "@airgrant/core";

/** The environment variable that names the PKCS#11 module to load, overriding the search. */
export const PKCS11_MODULE_ENV = "AIRGRANT_PKCS11_MODULE";

/**
 * Where distributions install SoftHSM2's PKCS#11 library, most common first:
 * Debian/Ubuntu (both the compatibility link and the multiarch path), Fedora/RHEL,
 * a source build's default prefix, and Homebrew.
 */
export const SOFTHSM2_MODULE_PATHS: readonly string[] = [
  "/usr/lib/softhsm/libsofthsm2.so",
  "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
  "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
  "/usr/lib64/pkcs11/libsofthsm2.so",
  "/usr/lib64/softhsm/libsofthsm2.so",
  "/usr/local/lib/softhsm/libsofthsm2.so",
  "/opt/homebrew/lib/softhsm/libsofthsm2.so",
];

/**
 * The PKCS#11 module to load: `AIRGRANT_PKCS11_MODULE` when set, else the first
 * SoftHSM2 library found in the usual places. Throws `module-not-found` saying
 * what to install or set.
 */
export function findPkcs11Module(
  env: NodeJS.ProcessEnv = process.env,
  candidates: readonly string[] = SOFTHSM2_MODULE_PATHS,
): string {
  const override = env[PKCS11_MODULE_ENV];
  if (override !== undefined && override !== "") {
    if (!existsSync(override)) {
      throw new AirgrantError(
        "module-not-found",
        `${PKCS11_MODULE_ENV} names ${override}, which does not exist; set it to your token's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so, or libykcs11.so for a YubiKey)`,
      );
    }
    return override;
  }
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new AirgrantError(
      "module-not-found",
      `no PKCS#11 module found: install SoftHSM2 (apt-get install softhsm2) or set ${PKCS11_MODULE_ENV} (or --module) to your token's PKCS#11 library`,
    );
  }
  return found;
}
