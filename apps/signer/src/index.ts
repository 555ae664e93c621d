export { findPkcs11Module, PKCS11_MODULE_ENV, SOFTHSM2_MODULE_PATHS } from "./pkcs11-module-path.js";
