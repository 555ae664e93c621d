import { AirgrantError } from "@airgrant/core";
import pkcs11js from "pkcs11js";
import { pkcs11ReturnValue } from "./pkcs11-error.js";

interface LoadedLibrary {
  pkcs11: pkcs11js.PKCS11;
  users: number;
  /** False when something else in this process had already initialised the module: then it is theirs to finalise. */
  initializedHere: boolean;
}

/**
 * One loaded and initialised module per path per process. PKCS#11 allows one
 * C_Initialize per application (v2.40 §5.4), so two TokenSessions on the same
 * module share it and the last one to close finalises it.
 */
const libraries = new Map<string, LoadedLibrary>();

/** Loads and initialises the module at `modulePath`, or shares the copy already in use. */
export function acquirePkcs11Library(modulePath: string): pkcs11js.PKCS11 {
  const existing = libraries.get(modulePath);
  if (existing !== undefined) {
    existing.users += 1;
    return existing.pkcs11;
  }
  const pkcs11 = new pkcs11js.PKCS11();
  try {
    pkcs11.load(modulePath);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new AirgrantError(
      "module-not-found",
      `could not load PKCS#11 module ${modulePath} (${reason}); install it (apt-get install softhsm2, or ykcs11 for a YubiKey) or point AIRGRANT_PKCS11_MODULE / --module at the right library`,
      { cause: err },
    );
  }
  let initializedHere = true;
  try {
    pkcs11.C_Initialize();
  } catch (err) {
    if (pkcs11ReturnValue(err) === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      initializedHere = false;
    } else {
      pkcs11.close();
      const reason = err instanceof Error ? err.message : String(err);
      throw new AirgrantError(
        "module-not-found",
        `PKCS#11 module ${modulePath} failed to initialise (${reason}); for SoftHSM2, check that SOFTHSM2_CONF names a readable softhsm2.conf whose tokendir exists`,
        { cause: err },
      );
    }
  }
  libraries.set(modulePath, { pkcs11, users: 1, initializedHere });
  return pkcs11;
}

/** Gives back a module taken with acquirePkcs11Library; the last user finalises and unloads it. */
export function releasePkcs11Library(modulePath: string): void {
  const library = libraries.get(modulePath);
  if (library === undefined) return;
  library.users -= 1;
  if (library.users > 0) return;
  libraries.delete(modulePath);
  try {
    if (library.initializedHere) library.pkcs11.C_Finalize();
  } finally {
    library.pkcs11.close();
  }
}

/** How many holders the module at `modulePath` has in this process (0 when not loaded). */
export function pkcs11LibraryUsers(modulePath: string): number {
  return libraries.get(modulePath)?.users ?? 0;
}
