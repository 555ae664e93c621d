export { codeOf } from "./error-code.js";
export { p1363ToDer, spkiToPem } from "./openssl-encoding.js";
export {
  AUDITOR_CLI,
  REPO_ROOT,
  SIGNER_BUNDLE,
  VERIFIER_BUNDLE,
  VERIFIER_CLI,
  VERIFIER_EXECUTABLE,
  verifierRuntimeNode,
} from "./repo-paths.js";
export { childRun, type RoleRun, type RoleRunOptions, runRole } from "./role-cli.js";
export { officerAddArgs, softwareYubiKey, type YubiKeyIdentity } from "./software-yubikey.js";
export {
  type BundleIssuer,
  ecdsaTwin,
  type GrantSigner,
  makeBundle,
  makeBundleBytes,
  makeGrantBytes,
  makeGrantText,
  makeTestIssuer,
  signWith,
  T0,
  type TestIssuer,
  testFields,
  trustedIssuer,
} from "./test-issuer.js";
export {
  makeSignedBundle,
  makeSignedBundleBytes,
  rootKeyOf,
  type SignedBundleSpec,
  trustedApprover,
} from "./test-trust.js";
export { type AlternateOptions, alternate, fmt, interleave, median, type TimedPair } from "./timing.js";
