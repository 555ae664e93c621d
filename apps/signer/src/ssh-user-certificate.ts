import {
  APPROVALS_EXTENSION,
  encodeSshCertificate,
  encodeSshCertificateBody,
  MIN_TRUST_VERSION_EXTENSION,
  type parseSshPublicKeyLine,
  REQUEST_EXTENSION,
  sha256,
  sshCertificateLine,
  sshSignatureBlob,
  toHex,
} from "@airgrant/core";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";
import type { Signer } from "./signer.js";

/** An OpenSSH public key as parseSshPublicKeyLine reads it from its id_*.pub line. */
export type SshPublicKey = ReturnType<typeof parseSshPublicKeyLine>;

/** What a certificate repeats of its grant (docs/openssh.md, "Certificates"). */
export interface CertifiedGrant {
  grantId: string;
  user: string;
  /** The grant's target as it is written (`db1.example`, `group:dbs`). */
  target: string;
  notBefore: number;
  notAfter: number;
  maxUses: number;
  sourceAddress?: string;
  forceCommand?: string;
  minTrustVersion?: number;
  /** The request code's 18 symbols, for a request-bound grant. */
  request?: string;
  /** For a grant made with approvals, `approvals@airgrant`: its body and approvals (encodeCarriedApprovals). */
  approvals?: Uint8Array;
}

export interface SshUserCertificate {
  /** The id_*-cert.pub line. */
  line: string;
  serial: string;
  keyId: string;
  /** SHA-256 (hex) of the certified key's blob, for the audit log. */
  subjectKeySha256: string;
}

/**
 * An OpenSSH user certificate for the engineer's own key, signed by the
 * issuer key on the token: principal = user, validity = the grant's window,
 * key id = `<grant id>[/N]@<target>` (`/N` when it allows N uses, so the
 * host counts certificate logins and text logins of one grant against one
 * limit; the target because sshd has no field for it, and the host holds a
 * certificate to it as to the grant), a random serial, the pty extension,
 * the grant's `min-trust-version@airgrant` and `request@airgrant` if it
 * has them, and its body and approvals in `approvals@airgrant` if it was
 * made with approvals; the grant's constraints become critical options.
 */
export function signSshUserCertificate(
  signer: Signer,
  grant: CertifiedGrant,
  subject: SshPublicKey,
  random: (length: number) => Uint8Array,
): SshUserCertificate {
  const algorithm = signatureAlgorithmOf(signer.issuer.alg);
  const serial = Buffer.from(random(8)).readBigUInt64BE(0);
  const keyId = `${grant.maxUses === 1 ? grant.grantId : `${grant.grantId}/${grant.maxUses}`}@${grant.target}`;
  const criticalOptions: Record<string, string> = {};
  if (grant.forceCommand !== undefined) criticalOptions["force-command"] = grant.forceCommand;
  if (grant.sourceAddress !== undefined) criticalOptions["source-address"] = grant.sourceAddress;
  const body = encodeSshCertificateBody(
    {
      subjectKey: subject.blob,
      nonce: random(32),
      serial,
      keyId,
      principals: [grant.user],
      validAfter: BigInt(grant.notBefore),
      validBefore: BigInt(grant.notAfter),
      criticalOptions,
      extensions: {
        "permit-pty": "",
        ...(grant.minTrustVersion === undefined
          ? {}
          : { [MIN_TRUST_VERSION_EXTENSION]: String(grant.minTrustVersion) }),
        ...(grant.request === undefined ? {} : { [REQUEST_EXTENSION]: grant.request }),
        ...(grant.approvals === undefined
          ? {}
          : { [APPROVALS_EXTENSION]: Buffer.from(grant.approvals).toString("base64") }),
      },
    },
    algorithm,
    signer.issuer.publicKey,
  );
  // The token signs SHA-256 of the body for ECDSA (ecdsa-sha2-nistp256 uses
  // SHA-256, RFC 5656 6.2.1) and the body itself for Ed25519 (RFC 8709).
  const signature = signer.session.sign(signer.issuer.keyLabel, body);
  const certificate = encodeSshCertificate(body, sshSignatureBlob(algorithm, signature));
  return {
    line: sshCertificateLine(certificate, `airgrant grant ${grant.grantId}`),
    serial: serial.toString(),
    keyId,
    subjectKeySha256: toHex(sha256(subject.blob)),
  };
}
