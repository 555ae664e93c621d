import { hostname } from "node:os";
import {
  AirgrantError,
  type AuditRecord,
  acceptSignedTrustBundle,
  auditData,
  decodeSignedTrustBundle,
  decodeTrustBundle,
  encodeSealReceipt,
  ensurePrivateDirectory,
  readAuditData,
  readAuditLogId,
  type SignedTrust,
  type SignedTrustBundleFile,
  sha256,
  type TrustBundle,
  toHex,
  verifyAuditLog,
  walkTrustChain,
  withFileLock,
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
 * The installed bundle, read under the install lock by whoever will replace
 * it; undefined when there is none, or when it is damaged, which
 * loadInstalledBundle tells every check to mend by installing it again.
 */
function installedBundleIfAny(state: HostState): TrustBundle | undefined {
  if (lstatIfPresent(state.bundlePath) === undefined) return undefined;
  try {
    return loadInstalledBundle(state);
  } catch (err) {
    if (err instanceof AirgrantError && err.code === "state-corrupt") return undefined;
    throw err;
  }
}

/**
 * A crash between replacing bundle.json and logging it leaves a bundle
 * installed that the log does not name. Before anything replaces it, the
 * installed file is compared with the last `bundle-installed` entry, and
 * logged now, `recovered`, when they differ: so the log says which bundle a
 * host held whatever the moment of a crash (docs/verifier.md, "Signed
 * updates"). Reads the whole log; installs are rare.
 */
function logInstalledIfUnlogged(state: HostState, clock: () => Date): void {
  const installed = installedBundleIfAny(state);
  if (installed === undefined || lstatIfPresent(state.auditLogPath) === undefined) return;
  const bytes = readStateFile(state.bundlePath);
  let logged: string | undefined;
  verifyAuditLog(state.auditLogPath, {
    onEntry: (entry) => {
      if (entry.type === "bundle-installed") logged = readAuditData("bundle-installed", entry.data).record.sha256;
      return undefined;
    },
  });
  const record = installedRecord(installed, bytes);
  if (logged === record.sha256) return;
  record.recovered = true;
  appendHostEntry(state, "bundle-installed", auditData("bundle-installed", record), clock);
}

/**
 * One install at a time: the bundle is read, judged against and replaced
 * under `bundle.json.lock`, so that two updates cannot both judge against
 * the same installed version (docs/trust-bundle.md, "Accepting a bundle").
 */
function withInstallLock<T>(state: HostState, fn: () => T): T {
  return withFileLock(`${state.bundlePath}.lock`, fn);
}

/**
 * Make `bytes` the bundle this host trusts: written atomically, recorded in
 * the host log with its hash. The first install also starts sealing the
 * host log and writes the receipt the auditor must keep (docs/audit-log.md,
 * "Sealing") to `receiptPath`, by default `seal-receipt.json` in the state
 * directory, to be carried off the host.
 */
function writeInstalledBundle(
  state: HostState,
  bytes: Uint8Array,
  record: AuditRecord<"bundle-installed">,
  clock: () => Date,
  options: { receiptPath?: string },
): { receiptPath?: string } {
  // A store gone while a bundle is installed took the record of every use with it: not made again here.
  if (lstatIfPresent(state.bundlePath) !== undefined) requireUseStore(state.usedDir);
  ensurePrivateDirectory(state.usedDir);
  writeFileAtomic(state.bundlePath, bytes);
  const sealing = startSealing(state, clock);
  const entry = appendHostEntry(state, "bundle-installed", auditData("bundle-installed", record), clock);
  if (sealing === undefined) return {};
  const receiptPath = options.receiptPath ?? state.sealReceiptPath;
  writeFileAtomic(
    receiptPath,
    encodeSealReceipt({
      ...sealing,
      logId: readAuditLogId(state.auditLogPath),
      host: hostname(),
      firstSealedSeq: entry.seq,
    }),
  );
  return { receiptPath };
}

/**
 * What every bundle-installed entry says of the bundle: its id, hash,
 * issuers and, when signed, its trust and the hash of its `signed`, which
 * the signer's `bundle-exported` and `bundle-signed` entries name too
 * whatever signatures the file gathered on the way.
 */
function installedRecord(bundle: TrustBundle, bytes: Uint8Array): AuditRecord<"bundle-installed"> {
  const record: AuditRecord<"bundle-installed"> = {
    bundleId: bundle.bundleId,
    sha256: toHex(sha256(bytes)),
    issuers: bundle.issuers.map((i) => i.keyId),
  };
  const trust = bundle.signedTrust;
  if (trust !== undefined) {
    record.trustVersion = trust.trustVersion;
    record.roots = trust.roots.keys.map((k) => k.keyId);
    record.expires = trust.expires;
    record.signedSha256 = toHex(sha256(decodeSignedTrustBundle(bytes).signedBytes));
  }
  if (bundle.requestPolicy !== undefined) record.requestPolicy = { ...bundle.requestPolicy };
  return record;
}

/**
 * `install-bundle`: validate a bundle and make it the one this host
 * trusts, as root, the unsigned act of trust. A signed (version 2) bundle
 * must meet its own roots, which it then pins; once one is installed,
 * nothing is installed this way (`signed-trust-installed`): signed trust
 * changes by `update` only.
 */
export function installBundle(
  state: HostState,
  bytes: Uint8Array,
  clock: () => Date,
  options: { receiptPath?: string } = {},
): InstallResult {
  const bundle = decodeTrustBundle(bytes);
  checkStatePermissions(state);
  ensurePrivateDirectory(state.dir);
  return withInstallLock(state, () => {
    logInstalledIfUnlogged(state, clock);
    const installed = installedBundleIfAny(state);
    if (installed?.signedTrust !== undefined) {
      throw new AirgrantError(
        "signed-trust-installed",
        `this host has signed trust (trust version ${installed.signedTrust.trustVersion}); an unsigned install would replace it. Apply signed bundles with 'airgrant-verifier update FILE...'`,
      );
    }
    if (bundle.signedTrust !== undefined) acceptSignedTrustBundle(installed, decodeSignedTrustBundle(bytes));
    return { bundle, ...writeInstalledBundle(state, bytes, installedRecord(bundle, bytes), clock, options) };
  });
}

const FIRST_SIGNED_INSTALL =
  "install the first signed one as root with 'airgrant-verifier install-bundle FILE', which pins its roots";

export interface UpdateResult {
  bundle: TrustBundle & { signedTrust: SignedTrust };
  /** The trust version replaced. */
  replacedTrustVersion: number;
  /** The trust versions applied in turn; the last is the bundle's. */
  chain: number[];
  /** Trust versions given at or below the installed one, passed over. */
  passedOver: number[];
}

/**
 * `update FILE...`: apply signed bundles (docs/trust-bundle.md, "Accepting
 * a bundle"). Only the state directory's owner, root on a host, may: the
 * state is writable by nobody else (docs/verifier.md, "Who may change the
 * state"), and a refusal that says so is clearer than the write that would
 * fail. The whole chain is judged before anything is written; on any
 * refusal the installed bundle is as it was.
 */
export function applyTrustUpdate(state: HostState, files: readonly Uint8Array[], clock: () => Date): UpdateResult {
  const decoded = files.map((bytes) => ({ bytes, file: decodeSignedTrustBundle(bytes) }));
  const owner = lstatIfPresent(state.dir)?.uid;
  if (owner === undefined) {
    throw new AirgrantError("no-bundle", `no trust bundle installed in ${state.dir}; ${FIRST_SIGNED_INSTALL}`);
  }
  if (owner !== process.geteuid?.()) {
    throw new AirgrantError(
      "state-unwritable",
      `${state.dir} belongs to uid ${owner}: only its owner (root) may apply trust updates; run 'airgrant-verifier update' as root`,
    );
  }
  checkStatePermissions(state);
  return withInstallLock(state, () => {
    logInstalledIfUnlogged(state, clock);
    const installed = loadInstalledBundle(state);
    const current = installed.signedTrust;
    if (current === undefined) {
      throw new AirgrantError(
        "no-signed-trust",
        `this host has no signed trust bundle installed; ${FIRST_SIGNED_INSTALL}`,
      );
    }
    const chain = walkTrustChain(
      installed,
      decoded.map((d) => d.file),
    );
    const last = chain.applied.at(-1) as SignedTrustBundleFile;
    const bytes = (decoded.find((d) => d.file === last) as { bytes: Uint8Array }).bytes;
    const record = installedRecord(last.bundle, bytes);
    record.replacedTrustVersion = current.trustVersion;
    const versions = chain.applied.map((f) => f.bundle.signedTrust.trustVersion);
    if (versions.length > 1) record.chain = versions;
    writeInstalledBundle(state, bytes, record, clock, {});
    return {
      bundle: last.bundle,
      replacedTrustVersion: current.trustVersion,
      chain: versions,
      passedOver: chain.passedOver,
    };
  });
}
