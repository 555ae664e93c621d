// @airgrant/testkit/token: what needs a real SoftHSM2 token (and so loads
// pkcs11js), apart from the rest of the kit that unit tests load.
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
