export { ISSUER_KEY_ALGS, type IssuerKeyAlg, isIssuerKeyAlg } from "./issuer-key-alg.js";
export { findPkcs11Module, PKCS11_MODULE_ENV, SOFTHSM2_MODULE_PATHS } from "./pkcs11-module-path.js";
export {
  createSoftHsmToken,
  SOFTHSM2_CONF_ENV,
  type SoftHsmToken,
  type SoftHsmTokenOptions,
} from "./softhsm-token.js";
export { spkiFromEcPoint } from "./subject-public-key-info.js";
export {
  type IssuerKeyInfo,
  type IssuerKeyRequest,
  type OpenTokenOptions,
  openToken,
  type TokenSession,
} from "./token-session.js";
