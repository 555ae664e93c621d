import { randomBytes } from "node:crypto";
import {
  AirgrantError,
  auditData,
  encodeCarriedApprovals,
  encodeGrant,
  formatTarget,
  importPublicKey,
  sha256,
  toHex,
  verifySignature,
} from "@airgrant/core";
import { readPendingGrant } from "./approve-grant.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import { pendingGrantOf, pendingSignatures } from "./pending-grant.js";
import type { Signer } from "./signer.js";
import { type SshPublicKey, type SshUserCertificate, signSshUserCertificate } from "./ssh-user-certificate.js";
import { writeCheckpoint } from "./write-checkpoint.js";

export interface CertifyResult extends SshUserCertificate {
  grantId: string;
  auditSeq: number;
}

/**
 * `airgrant-signer certify FILE --ssh-pubkey KEY` (docs/two-person.md,
 * "Certificates"): on the signer that issued a pending grant, once it has
 * every approval it needs, the issuer key signs an OpenSSH certificate for
 * the engineer's key that carries the body and its approvals, not the
 * issuer's signature, in `approvals@airgrant`;
 * `grant-certified` is logged, so `krl` revokes it with its grant.
 */
export function certifyPendingGrant(
  signer: Signer,
  path: string,
  subject: SshPublicKey,
  random: (length: number) => Uint8Array = (length) => new Uint8Array(randomBytes(length)),
  clock: () => Date = () => new Date(),
): CertifyResult {
  const pending = readPendingGrant(path);
  if (pending.denied !== undefined) {
    throw new AirgrantError("pending-grant-closed", `${path} was denied by officer ${pending.denied.officer}`);
  }
  if (pending.approvals.length < pending.approvalsNeeded) {
    throw new AirgrantError(
      "pending-grant-incomplete",
      `${path} has ${pending.approvals.length} of the ${pending.approvalsNeeded} approvals it needs`,
    );
  }
  const { issuer } = signer;
  // Only the issuer's own grant: its signature over the body is this home's key's.
  const algorithm = pending.issuer.algorithm;
  if (
    pending.issuer.keyId !== issuer.keyId ||
    !verifySignature(algorithm, importPublicKey(algorithm, issuer.publicKey), pending.body, pending.issuer.signature)
  ) {
    throw new AirgrantError(
      "key-missing",
      `${path} was issued by key ${pending.issuer.keyId}, not by this signer's issuer key ${issuer.keyId}`,
    );
  }
  const grant = pendingGrantOf(pending);
  const [, ...approvals] = pendingSignatures(pending);
  const bytes = encodeGrant(pending.body, pendingSignatures(pending));
  const grantId = toHex(grant.grantId);
  const certificate = signSshUserCertificate(
    signer,
    {
      grantId,
      user: grant.principal,
      target: formatTarget(grant.target),
      notBefore: grant.notBefore,
      notAfter: grant.notAfter,
      maxUses: grant.maxUses,
      ...(grant.sourceAddress === undefined ? {} : { sourceAddress: grant.sourceAddress }),
      ...(grant.forceCommand === undefined ? {} : { forceCommand: grant.forceCommand }),
      ...(grant.minTrustVersion === undefined ? {} : { minTrustVersion: grant.minTrustVersion }),
      // A request-bound body's challenge is the request code's symbols in ASCII (docs/requests.md).
      ...(grant.challenge === undefined ? {} : { request: new TextDecoder().decode(grant.challenge) }),
      approvals: encodeCarriedApprovals(pending.body, approvals),
    },
    subject,
    random,
  );
  const { seq } = appendSignerEntry(
    signer.home,
    "grant-certified",
    auditData("grant-certified", {
      grantId,
      sshCertificate: {
        serial: certificate.serial,
        keyId: certificate.keyId,
        subjectKeySha256: certificate.subjectKeySha256,
      },
      grantSha256: toHex(sha256(bytes)),
    }),
    clock,
  );
  writeCheckpoint(signer, clock);
  return { ...certificate, grantId, auditSeq: seq };
}
