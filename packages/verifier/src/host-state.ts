import { hostname } from "node:os";
import { join } from "node:path";
import {
  AirgrantError,
  auditData,
  decodeTrustBundle,
  encodeSealReceipt,
  ensurePrivateDirectory,
  readAuditLogId,
  sha256,
  type TrustBundle,
  toHex,
  writeFileAtomic,
} from "@airgrant/core";
import { appendHostEntry, startSealing } from "./host-log.js";
import type { HostState } from "./state-paths.js";
import { checkStatePermissions, lstatIfPresent, readStateFile } from "./state-permissions.js";
import { requireUseStore } from "./use-store.js";

/**
 * The bundle this host trusts; `no-bundle` if none was installed. Every
 * command that judges a grant starts here, so this is where the state
 * directory's ownership and modes are checked (`state-insecure`).
 */
export function loadInstalledBundle(state: HostState): TrustBundle {
  checkStatePermissions(state);
  let bytes: Buffer;
  try {
    bytes = readStateFile(state.bundlePath);
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    if (errno === "ENOENT") {
      throw new AirgrantError(
        "no-bundle",
        `no trust bundle installed in ${state.dir}; run 'airgrant-verifier install-bundle FILE' first`,
      );
    }
    throw new AirgrantError("state-unreadable", `cannot read ${state.bundlePath}: ${errno}`);
  }
  try {
    return decodeTrustBundle(bytes);
  } catch (err) {
    // The installed copy was checked when installed: damage since is the host's problem, not the input's.
    throw new AirgrantError(
      "state-corrupt",
      `installed trust bundle is damaged (${(err as Error).message}); reinstall it`,
    );
  }
}

export interface InstallResult {
  bundle: TrustBundle;
  /** Where the seal receipt was written, when this install started sealing. */
  receiptPath?: string;
}

/**
 * Validate a bundle and make it the one this host trusts: written
 * atomically, recorded in the host log with its hash. The first install
 * also starts sealing the host log and writes the receipt the auditor must
 * keep (docs/audit-log.md, "Sealing") to `receiptPath`, by default
 * `seal-receipt.json` in the state directory, to be carried off the host.
 */
export function installBundle(
  state: HostState,
  bytes: Uint8Array,
  clock: () => Date,
  options: { receiptPath?: string } = {},
): InstallResult {
  const bundle = decodeTrustBundle(bytes);
  checkStatePermissions(state);
  // A store gone while a bundle is installed took the record of every use with it: not made again here.
  if (lstatIfPresent(state.bundlePath) !== undefined) requireUseStore(state.usedDir);
  ensurePrivateDirectory(state.dir);
  ensurePrivateDirectory(state.usedDir);
  writeFileAtomic(state.bundlePath, bytes);
  const sealing = startSealing(state, clock);
  const entry = appendHostEntry(
    state,
    "bundle-installed",
    auditData("bundle-installed", {
      bundleId: bundle.bundleId,
      sha256: toHex(sha256(bytes)),
      issuers: bundle.issuers.map((i) => i.keyId),
    }),
    clock,
  );
  if (sealing === undefined) return { bundle };
  const receiptPath = options.receiptPath ?? join(state.dir, "seal-receipt.json");
  writeFileAtomic(
    receiptPath,
    encodeSealReceipt({
      ...sealing,
      logId: readAuditLogId(state.auditLogPath),
      host: hostname(),
      firstSealedSeq: entry.seq,
    }),
  );
  return { bundle, receiptPath };
}
