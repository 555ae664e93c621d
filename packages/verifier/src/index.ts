export { type CheckGrantInput, type CheckResult, checkGrant } from "./check-grant.js";
export {
  DEFAULT_STATE_DIR,
  type HostState,
  hostState,
  installBundle,
  loadInstalledBundle,
  resolveStateDir,
} from "./host-state.js";
export {
  type ConsumeResult,
  consumeGrantUse,
  countConsumedUses,
  flushUseStore,
  pruneExpiredUses,
  type UseRecord,
} from "./use-store.js";
export { type DenyCode, type Verdict, type VerifyGrantInput, verifyGrant } from "./verify-grant.js";
