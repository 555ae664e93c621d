import { AirgrantError, decodeTrustBundle, isoSeconds, type TrustBundle } from "@airgrant/core";
import type { Finding } from "./doctor-finding.js";
import { bundleExpired } from "./grant-rules.js";
import type { HostState } from "./state-paths.js";
import { lstatIfPresent, readStateFile, statePermissionFindings } from "./state-permissions.js";
import { readTimeFloor, type TimeFloor } from "./time-floor.js";

/**
 * Doctor's state rules (docs/doctor.md): the ownership and modes the
 * verifier enforces (state-permissions.ts, the one set of rules), the
 * bundle, the store, the seal and the clock against what the state says
 * time has already reached.
 */

export interface StateReport {
  findings: Finding[];
  /** The installed bundle, when there is one that decodes. */
  bundle?: TrustBundle;
}

function bundleFindings(state: HostState, now: number): StateReport {
  if (lstatIfPresent(state.bundlePath) === undefined) {
    return {
      findings: [
        {
          code: "bundle-missing",
          where: state.bundlePath,
          message: "no trust bundle is installed: every grant is refused",
          fix: `airgrant-verifier install-bundle --state ${state.dir} FILE`,
        },
      ],
    };
  }
  let bundle: TrustBundle;
  try {
    bundle = decodeTrustBundle(readStateFile(state.bundlePath));
  } catch (err) {
    return {
      findings: [
        {
          code: "bundle-damaged",
          where: state.bundlePath,
          message: `the installed bundle does not decode (${(err as Error).message}): every grant is refused`,
          fix: `reinstall it: airgrant-verifier install-bundle --state ${state.dir} FILE`,
        },
      ],
    };
  }
  const findings: Finding[] = [];
  if (!bundle.issuers.some((i) => i.notBefore <= now && now <= i.notAfter)) {
    const lastEnd = Math.max(...bundle.issuers.map((i) => i.notAfter));
    findings.push({
      code: "bundle-expired",
      where: state.bundlePath,
      message:
        lastEnd < now
          ? `every issuer of bundle ${bundle.bundleId} expired (the last at ${isoSeconds(lastEnd)}): every grant is refused`
          : `no issuer of bundle ${bundle.bundleId} is valid yet: every grant is refused`,
      fix: "install a bundle with a valid issuer from the signer (airgrant-signer bundle)",
    });
  }
  const trust = bundle.signedTrust;
  if (trust !== undefined && bundleExpired(bundle, now)) {
    findings.push({
      code: "signed-bundle-expired",
      where: state.bundlePath,
      message: `the signed bundle (trust version ${trust.trustVersion}) expired at ${isoSeconds(trust.expires)}: ${
        trust.onExpiry === "refuse"
          ? "it says onExpiry refuse, so every grant is refused"
          : "it says onExpiry warn, so grants still work and every check is logged with bundleExpired"
      }`,
      fix: "apply the newest signed bundle from the signer: airgrant-verifier update FILE",
    });
  }
  if (lstatIfPresent(state.usedDir) === undefined) {
    findings.push({
      code: "use-store-missing",
      where: state.usedDir,
      message: "a bundle is installed but the one-time-use store is gone, and with it the record of every use",
      fix: "restore used/ from a backup, or mkdir -m 700 it knowing that unexpired grants can be used again",
    });
  }
  if (lstatIfPresent(state.sealKeyPath) === undefined) {
    findings.push({
      code: "seal-key-missing",
      where: state.sealKeyPath,
      message: "a bundle is installed but seal.key is gone: the host log's entries are no longer sealed",
      fix: "find out who removed it; the auditor sees the unsealed entries",
    });
  }
  return { findings, bundle };
}

/**
 * The host's time floor (time-floor.ts): a clock earlier than it was set
 * back, or is right now after running ahead, and checks refuse grants.
 */
function clockFindings(state: HostState, now: number): Finding[] {
  let latest: TimeFloor | undefined;
  try {
    latest = readTimeFloor(state);
  } catch (err) {
    if (!(err instanceof AirgrantError) || (err.code !== "audit-log-corrupt" && err.code !== "audit-unwritable")) {
      throw err;
    }
    return [
      {
        code: "audit-log-damaged",
        where: state.auditLogPath,
        message: `${err.message}: every check that cannot log is refused`,
        fix: "keep a copy for the auditor, then find out what damaged it",
      },
    ];
  }
  if (latest === undefined || now >= latest.time) return [];
  return [
    {
      code: "clock-behind",
      where: state.dir,
      message: `the clock says ${isoSeconds(now)}, before ${latest.what} (${isoSeconds(latest.time)}): it was set back, and grants are judged at that time within the bundle's clock skew and refused (clock-behind) beyond it`,
      fix: 'set the clock right (date, timedatectl); if it is right, it ran ahead before, and grant logins stay refused until real time passes that time: break-glass accounts still log in (docs/requests.md, "Time floor")',
    },
  ];
}

const STATE_INSECURE_WHY = "the verifier refuses every login until it is fixed (state-insecure)";

export function stateFindings(state: HostState, now: number): StateReport {
  const findings: Finding[] = statePermissionFindings(state).map((p) => ({
    code: p.refused ? "state-refused" : "state-mode",
    where: p.path,
    message: p.refused
      ? `${p.path} ${p.problem}: ${STATE_INSECURE_WHY}`
      : `${p.path} ${p.problem}: users can read the host log and the use records`,
    fix: p.fix,
  }));
  const receipt = state.sealReceiptPath;
  if (lstatIfPresent(receipt) !== undefined) {
    findings.push({
      code: "seal-receipt-on-host",
      where: receipt,
      message:
        "the seal receipt is still on the host: while it is here it protects nothing (root can re-seal the whole log)",
      fix: `carry it to the auditor, then rm ${receipt}`,
    });
  }
  const bundle = bundleFindings(state, now);
  findings.push(...bundle.findings, ...clockFindings(state, now));
  return bundle.bundle === undefined ? { findings } : { findings, bundle: bundle.bundle };
}
