export { formatDuration, parseDuration } from "./duration.js";
export { type BundleRequest, type ExportedBundle, exportBundle } from "./export-bundle.js";
export { type HomeLockOptions, withHomeLock } from "./home-lock.js";
export { type InitResult, initIssuer } from "./init-issuer.js";
export { ISSUER_KEY_ALGS, type IssuerKeyAlg, isIssuerKeyAlg, signatureAlgorithmOf } from "./issuer-key-alg.js";
export { type IssuerRecord, publicKeyPem, readIssuerRecord } from "./issuer-record.js";
export { type GrantRequest, type MintOptions, type MintResult, mintGrant } from "./mint-grant.js";
export { enrolOfficer, type OfficerEnrolment, readAesKeyFile, removeOfficer } from "./officer-enrolment.js";
export { findPkcs11Module, PKCS11_MODULE_ENV, SOFTHSM2_MODULE_PATHS } from "./pkcs11-module-path.js";
export { type Signer, withSigner } from "./signer.js";
export { resolveSignerHome, SIGNER_HOME_ENV, type SignerHome, signerHome } from "./signer-home.js";
export { type Officer, readPolicy, type SignerPolicy } from "./signer-policy.js";
export {
  createSoftHsmToken,
  SOFTHSM2_CONF_ENV,
  type SoftHsmToken,
  type SoftHsmTokenOptions,
} from "./softhsm-token.js";
export type { SshPublicKey } from "./ssh-user-certificate.js";
export { spkiFromEcPoint } from "./subject-public-key-info.js";
export {
  type IssuerKeyInfo,
  type IssuerKeyRequest,
  type OpenTokenOptions,
  openToken,
  type TokenSession,
} from "./token-session.js";
export { writeCheckpoint } from "./write-checkpoint.js";
