export { type Admission, type AdmissionInput, admitGrant, type Caller, type Verdict } from "./admission.js";
export { decodeCertificateClaims } from "./certificate-claims.js";
export type { Carrier, ClaimSignature, GrantClaims, GrantConstraints } from "./claims.js";
export { DEFAULT_PAM_DIR, type DoctorInput, runDoctor } from "./doctor.js";
export { FINDING_CODES, type Finding, type FindingCode } from "./doctor-finding.js";
export { decodeGrantClaims, grantClaims } from "./grant-claims.js";
export { type Decision, type DenyCode, decideGrant, type RuleContext } from "./grant-rules.js";
export { advanceSealKey, appendHostEntry } from "./host-log.js";
export {
  installBundle,
  loadInstalledBundle,
} from "./host-state.js";
export { auditSessionOf, endAuditSession, processesInAuditSession } from "./login-processes.js";
export {
  DEFAULT_STATE_DIR,
  type HostState,
  hostState,
  resolveStateDir,
} from "./state-paths.js";
export {
  type ConsumeResult,
  consumeGrantUse,
  countConsumedUses,
  flushUseStore,
  pruneExpiredUses,
  type UseRecord,
} from "./use-store.js";
