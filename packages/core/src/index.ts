export {
  AirgrantError,
  ERROR_CODES,
  type ErrorCode,
  EXIT_STATUS,
  type ExitClass,
  exitClassOf,
  exitStatusOf,
  isErrorCode,
  SUCCESS_CODES,
  type SuccessCode,
} from "./airgrant-error.js";
export { CHECKPOINT_TYPE, CheckpointChecker, checkpointData, checkpointMessage } from "./audit-checkpoint.js";
export { AUDIT_LOG_FORMAT, encodeAuditEntry, GENESIS_PREV, MAX_AUDIT_LINE_BYTES } from "./audit-entry.js";
export {
  type AppendAuditEntryOptions,
  type AuditEntry,
  type AuditValue,
  appendAuditEntry,
  LOG_OPENED_TYPE,
  LOG_RECOVERED_TYPE,
  readAuditHead,
  readAuditHeadEntry,
  readAuditLogId,
} from "./audit-log.js";
export {
  AUDIT_RECORDS,
  type AuditRecord,
  type AuditRecordType,
  auditData,
  type Kind as AuditMemberKind,
  readAuditData,
} from "./audit-records.js";
export {
  DEFAULT_SEAL_EPOCH_SECONDS,
  decodeSealReceipt,
  encodeSealReceipt,
  evolveSealKey,
  SEAL_RECEIPT_FORMAT,
  SealChecker,
  type SealReceipt,
  sealEpochAt,
  sealMember,
  sealTag,
} from "./audit-seal.js";
export { type BoundedRead, readBounded } from "./bounded-read.js";
export {
  encodeCanonicalJson,
  type JsonValue,
  parseCanonicalJson,
  readCanonicalJsonFile,
  unsliced,
} from "./canonical-json.js";
export {
  type CommandLine,
  type ParsedArgs,
  packageVersion,
  printableLine,
  reportError,
  runCommandLine,
  usageError,
  writeErr,
  writeOut,
} from "./cli-support.js";
export {
  createExclusiveRecord,
  ensurePrivateDirectory,
  fsyncDirectory,
  PRIVATE_DIR_MODE,
  PRIVATE_FILE_MODE,
  readExclusiveRecord,
  writeFileAtomic,
  writeFully,
} from "./durable-file.js";
export { type FileLockOptions, withFileLock } from "./file-lock.js";
export {
  ANCHOR_PREFIX_LENGTH,
  checkGrantFields,
  checkPrincipal,
  checkTarget,
  formatTarget,
  GRANT_ID_LENGTH,
  GRANT_LIMITS,
  type Grant,
  type GrantAnchor,
  type GrantFields,
  type GrantSignature,
  type GrantTarget,
  MAX_SIGNATURES,
  parseTarget,
} from "./grant.js";
export {
  type CarriedApprovals,
  decodeCarriedApprovals,
  decodeGrant,
  encodeCarriedApprovals,
  encodeGrant,
  encodeGrantBody,
  GRANT_FORMAT_VERSION,
  grantTextLength,
  MAX_SINGLE_SIGNATURE_TEXT_LENGTH,
  signedGrantTextLength,
} from "./grant-codec.js";
export {
  decodeGrantText,
  encodeGrantText,
  GRANT_ALPHABET,
  GRANT_TEXT_PREFIX,
  MAX_GRANT_TEXT_LENGTH,
} from "./grant-text.js";
export { fromHex, toHex } from "./hex.js";
export { ipAddressFamily } from "./ip-address.js";
export { isoSeconds, isoTime } from "./iso-seconds.js";
export { type ProcessStat, readBootId, readProcessStat, readProcText } from "./process-status.js";
export {
  formatRequestCode,
  newRequestCode,
  parseRequestCode,
  REQUEST_CODE_SYMBOLS,
  type RequestCode,
  requestAccountCheck,
  requestChallenge,
  requestCodeOfChallenge,
  requestHostCheck,
} from "./request-code.js";
export { meetsRoots, rootKeysSigning, sameRoots } from "./root-signatures.js";
export { sha256 } from "./sha256.js";
export {
  importPublicKey,
  isLowS,
  isSignatureAlgorithm,
  KEY_ID_LENGTH,
  keyIdOf,
  rawPublicKey,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  spkiOf,
  toLowS,
  verifySignature,
} from "./signature-algorithm.js";
export { sleepMs } from "./sleep.js";
export { checkSourceAddressList, MAX_SOURCE_ADDRESS_LIST_BYTES, sourceAddressAllows } from "./source-address.js";
export {
  APPROVALS_EXTENSION,
  decodeSshCertificate,
  encodeSshCertificate,
  encodeSshCertificateBody,
  MIN_TRUST_VERSION_EXTENSION,
  parseSshPublicKeyLine,
  REQUEST_EXTENSION,
  type SshCertificate,
  type SshCertificateFields,
  sshCertificateLine,
  sshIssuerKeyBlob,
  sshIssuerKeyLine,
  sshSignatureBlob,
  verifySshCertificate,
} from "./ssh-certificate.js";
export { SshWriter } from "./ssh-wire.js";
export { targetsPermit } from "./target-permission.js";
export {
  type BundleKey,
  DEFAULT_REQUEST_POLICY,
  decodeSignedTrustBundle,
  decodeTrustBundle,
  encodeTrustBundle,
  issuerPublicKey,
  MAX_CLOCK_SKEW,
  MAX_PENDING_REQUESTS,
  MAX_REQUEST_LIFETIME,
  MAX_TRUST_BUNDLE_BYTES,
  type RequestPolicy,
  requestPolicyOf,
  type SignedTrust,
  TRUST_BUNDLE_FORMAT,
  TRUST_BUNDLE_VERSION,
  type TrustBundle,
  type TrustedIssuer,
  type TrustRoots,
  targetsCoverHost,
} from "./trust-bundle.js";
export {
  approvalRequirementFor,
  isOfficerName,
  MAX_APPROVALS,
  MAX_APPROVERS,
} from "./trust-bundle-approvals.js";
export type { ApprovalRequirement, ApprovalTrust, TrustedApprover } from "./trust-bundle-members.js";
export {
  assembleSignedTrustBundle,
  encodeSignedTrustContent,
  MAX_BUNDLE_SIGNATURES,
  MAX_ROOT_KEYS,
  type RootSignature,
  SIGNED_TRUST_BUNDLE_VERSION,
  type SignedTrustBundleFile,
} from "./trust-bundle-v2.js";
export { acceptSignedTrustBundle, type TrustChain, walkTrustChain } from "./trust-update.js";
export {
  type AuditChainCode,
  type AuditChainHead,
  type AuditChainReport,
  type JoinProblem,
  type RangeCheck,
  type RangeStart,
  type SplitCheck,
  verifyAuditLog,
  verifyAuditLogChecked,
} from "./verify-audit-log.js";
