// End-to-end test support: OpenSSH user certificates for grants, signed on
// the real SoftHSM2 token by a TokenIssuer (or by a software TestIssuer where
// the token is not what is measured), following docs/openssh.md ("The
// certificate"): key id = `<grant id>[/N]@<target>`, principal = user,
// validity = the grant window, a random serial.
import { randomBytes } from "node:crypto";
import {
  encodeSshCertificate,
  encodeSshCertificateBody,
  parseSshPublicKeyLine,
  sshCertificateLine,
  sshSignatureBlob,
  toHex,
} from "@airgrant/core";
import type { GrantSigner } from "./test-issuer.js";

export interface SshCertificateRequest {
  /** The engineer's public key line (id_ed25519.pub). */
  publicKeyLine: string;
  principals: string[];
  /** The grant's target, as the key id names it: a host name or `group:NAME`. */
  target: string;
  /** Defaults: a fresh grant id, one use, from a minute ago for an hour. */
  grantId?: string;
  maxUses?: number;
  validAfter?: number;
  validBefore?: number;
  criticalOptions?: Record<string, string>;
  extensions?: Record<string, string>;
  /** Instead of the one docs/openssh.md gives, for certificates the signer would not make. */
  keyId?: string;
}

export interface MintedSshCertificate {
  grantId: string;
  serial: bigint;
  /** The certificate blob. */
  blob: Uint8Array;
  /** `<type> <base64> <comment>`, the content of an id_*-cert.pub file. */
  line: string;
}

/** Mint a user certificate signed by the issuer's key. */
export function mintSshCertificate(issuer: GrantSigner, request: SshCertificateRequest): MintedSshCertificate {
  const now = Math.floor(Date.now() / 1000);
  const grantId = request.grantId ?? toHex(randomBytes(16));
  const maxUses = request.maxUses ?? 1;
  const serial = randomBytes(8).readBigUInt64BE();
  const body = encodeSshCertificateBody(
    {
      subjectKey: parseSshPublicKeyLine(request.publicKeyLine).blob,
      nonce: new Uint8Array(randomBytes(32)),
      serial,
      keyId: request.keyId ?? `${maxUses === 1 ? grantId : `${grantId}/${maxUses}`}@${request.target}`,
      principals: request.principals,
      validAfter: BigInt(request.validAfter ?? now - 60),
      validBefore: BigInt(request.validBefore ?? now + 3600),
      criticalOptions: request.criticalOptions ?? {},
      extensions: request.extensions ?? { "permit-pty": "" },
    },
    issuer.algorithm,
    issuer.spki,
  );
  const blob = encodeSshCertificate(body, sshSignatureBlob(issuer.algorithm, issuer.sign(body)));
  return { grantId, serial, blob, line: sshCertificateLine(blob, `grant-${grantId}`) };
}
