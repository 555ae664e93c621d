// @airgrant/testkit/token: what needs a real token, SoftHSM2 or a software
// TPM (and so loads pkcs11js), apart from the rest of the kit that unit tests load.
export { type MintedSshCertificate, mintSshCertificate, type SshCertificateRequest } from "./ssh-certificates.js";
export { makeTestToken, TEST_PIN, TEST_SO_PIN, type TestToken } from "./test-token.js";
export {
  type GrantRequest,
  type MintedGrant,
  openSoftHsmIssuers,
  type SoftHsmIssuers,
  type TokenIssuer,
  trustBundleFor,
} from "./token-issuer.js";
export { makeTpmToken, TPM2_PKCS11_MODULE, type TpmToken } from "./tpm-token.js";
