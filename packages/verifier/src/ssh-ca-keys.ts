import { sshIssuerKeyLine, type TrustBundle } from "@airgrant/core";

/**
 * The bundle's issuer keys as sshd's TrustedUserCAKeys file holds them, one
 * line each, its comment naming the key id (docs/openssh.md): what
 * `ssh-ca-keys` prints and what doctor expects to find in that file.
 */
export function sshCaKeyLines(bundle: TrustBundle): string[] {
  return bundle.issuers.map((issuer) =>
    sshIssuerKeyLine(issuer.algorithm, issuer.publicKey, `airgrant-issuer-${issuer.keyId}`),
  );
}
