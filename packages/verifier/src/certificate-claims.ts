import {
  AirgrantError,
  APPROVALS_EXTENSION,
  type CarriedApprovals,
  decodeCarriedApprovals,
  decodeSshCertificate,
  formatTarget,
  GRANT_LIMITS,
  type GrantFields,
  type GrantTarget,
  issuerPublicKey,
  MIN_TRUST_VERSION_EXTENSION,
  parseTarget,
  REQUEST_EXTENSION,
  type SshCertificate,
  sshIssuerKeyBlob,
  type TrustBundle,
  type TrustedIssuer,
  toHex,
  verifySshCertificate,
} from "@airgrant/core";
import type { ClaimSignature, GrantClaims, GrantConstraints } from "./claims.js";
import { signatureClaim } from "./grant-claims.js";
import type { Refusal } from "./grant-rules.js";

/**
 * The claims of an OpenSSH user certificate minted for a grant
 * (docs/openssh.md, "The certificate"). Its key id carries what sshd has no
 * field for: the grant id, its uses and its target.
 */

/** A certificate's base64 beyond this is not one of ours (an RSA-8192 subject key is under 2 KiB). */
export const MAX_CERTIFICATE_BASE64 = 16 * 1024;

/**
 * Key id: `<grant id>[/<uses>]@<target>`, the uses written only for 2..255
 * (one spelling per grant), the target as the grant names it.
 */
const KEY_ID_PATTERN = /^([0-9a-f]{32})(?:\/([2-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))?@(.+)$/;
const SSH_USER_CERT = 1;

/** The critical options a grant's constraints become; sshd enforces both. */
const GRANT_OPTIONS = ["force-command", "source-address"];
/** The one right a grant's login has beyond a command: a terminal (docs/openssh.md, "Rights"). */
const PTY_EXTENSION = "permit-pty";
/** A request code's 18 symbols, upper case, as a grant's `challenge` holds them; its checks are the rules'. */
const REQUEST_CODE_PATTERN = /^[0-9A-HJKMNP-TV-Z]{18}$/;
/** One spelling of 1..2^32-1: no sign, no leading zero. */
const MIN_TRUST_VERSION_PATTERN = /^[1-9][0-9]{0,9}$/;

type CertificateRefusal = Refusal<"malformed-certificate">;

function malformed(message: string): CertificateRefusal {
  return { code: "malformed-certificate", message };
}

/** Strict base64 as sshd writes `%k` and SSH_AUTH_INFO_0: anything else is not a certificate. */
export function decodeCertificateBase64(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > MAX_CERTIFICATE_BASE64) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? new Uint8Array(bytes) : undefined;
}

function decodeCertificate(blob: Uint8Array): SshCertificate | CertificateRefusal {
  try {
    return decodeSshCertificate(blob);
  } catch (err) {
    if (err instanceof AirgrantError) return malformed(err.message);
    throw err;
  }
}

/** A certificate's CA key is the SSH blob of a bundle issuer (sshIssuerKeyBlob), byte for byte. */
function issuerOf(certificate: SshCertificate, bundle: TrustBundle): TrustedIssuer | undefined {
  const caKey = Buffer.from(certificate.caKey);
  return bundle.issuers.find((issuer) => caKey.equals(sshIssuerKeyBlob(issuer.algorithm, issuer.publicKey)));
}

function targetOf(text: string): GrantTarget | undefined {
  try {
    const target = parseTarget(text);
    // One spelling: what the signer writes (formatTarget), not any text parseTarget would take.
    return text === formatTarget(target) ? target : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Decode a certificate blob into its grant's claims. `keyType` is what sshd
 * says the key is (`%t`), when it says.
 */
export function decodeCertificateClaims(blob: Uint8Array, keyType?: string): GrantClaims | CertificateRefusal {
  const certificate = decodeCertificate(blob);
  return "code" in certificate ? certificate : claimsOf(certificate, keyType);
}

function claimsOf(certificate: SshCertificate, keyType?: string): GrantClaims | CertificateRefusal {
  if (certificate.certType !== SSH_USER_CERT) return malformed("a host certificate, not a user certificate");
  if (keyType !== undefined && keyType !== certificate.type) {
    return malformed(`sshd names the key type '${keyType.slice(0, 60)}', the certificate says '${certificate.type}'`);
  }
  const keyId = KEY_ID_PATTERN.exec(certificate.keyId);
  const target = keyId === null ? undefined : targetOf(keyId[3] as string);
  if (keyId === null || target === undefined) {
    return malformed(
      `key id '${certificate.keyId.slice(0, 80)}' is not <grant id>[/<uses>]@<target> (docs/openssh.md)`,
    );
  }
  const {
    [PTY_EXTENSION]: pty,
    [MIN_TRUST_VERSION_EXTENSION]: minTrustText,
    [REQUEST_EXTENSION]: request,
    [APPROVALS_EXTENSION]: approvalsText,
    ...extra
  } = certificate.extensions;
  const extraName = Object.keys(extra)[0];
  if (extraName !== undefined) {
    return malformed(`extension '${extraName.slice(0, 40)}' is a right no grant gives (docs/openssh.md)`);
  }
  if (pty !== undefined && pty !== "") return malformed(`extension '${PTY_EXTENSION}' carries data`);
  let minTrustVersion: number | undefined;
  if (minTrustText !== undefined) {
    minTrustVersion = Number(minTrustText);
    if (!MIN_TRUST_VERSION_PATTERN.test(minTrustText) || minTrustVersion > GRANT_LIMITS.minTrustVersionMax) {
      return malformed(
        `extension '${MIN_TRUST_VERSION_EXTENSION}' is '${minTrustText.slice(0, 20)}', not a trust version 1-${GRANT_LIMITS.minTrustVersionMax} in decimal`,
      );
    }
  }
  if (request !== undefined && !REQUEST_CODE_PATTERN.test(request)) {
    return malformed(`extension '${REQUEST_EXTENSION}' is not a request code's 18 symbols (docs/requests.md)`);
  }
  const constraints: GrantConstraints = {};
  const options = certificate.criticalOptions;
  if (options["force-command"] !== undefined) constraints.forceCommand = options["force-command"];
  if (options["source-address"] !== undefined) constraints.sourceAddress = options["source-address"];
  if (request !== undefined) constraints.challenge = new TextEncoder().encode(request);
  const unknown = Object.keys(options).filter((name) => !GRANT_OPTIONS.includes(name));
  if (unknown.length > 0) constraints.unknown = unknown;
  const claims: GrantClaims = {
    carrier: "ssh-certificate",
    grantId: keyId[1] as string,
    signatures: [],
    // uint64 bounds: a number past 2^53 is rounded, which keeps every comparison the rules make.
    notBefore: Number(certificate.validAfter),
    notAfter: Number(certificate.validBefore),
    principals: certificate.principals,
    target,
    maxUses: keyId[2] === undefined ? 1 : Number(keyId[2]),
    constraints,
    sshSerial: certificate.serial.toString(),
    ...(minTrustVersion === undefined ? {} : { minTrustVersion }),
  };
  if (approvalsText === undefined) return { ...claims, signatures: [caSignature(certificate, undefined)] };
  return withApprovals(certificate, claims, approvalsText);
}

/**
 * The CA's signature: the issuer's, never an approval. With approvals, the
 * CA must be the issuer the approved body names.
 */
function caSignature(certificate: SshCertificate, bodyIssuer: string | undefined): ClaimSignature {
  return {
    name:
      bodyIssuer === undefined
        ? "a CA key that is not an issuer of the installed bundle"
        : `a CA key that is not issuer ${bodyIssuer} of the installed bundle, whom the approved grant names`,
    findIssuer: (bundle) => {
      const issuer = issuerOf(certificate, bundle);
      return bodyIssuer === undefined || issuer?.keyId === bodyIssuer ? issuer : undefined;
    },
    findApprover: () => undefined,
    verify: (key) =>
      verifySshCertificate(certificate, key.algorithm, key.publicKey, issuerPublicKey(key))
        ? undefined
        : `signature by key ${key.keyId} does not verify`,
  };
}

/**
 * docs/openssh.md, "Approvals": the extension's body says exactly what the
 * certificate says, and its approvals follow the CA's signature as a grant
 * text's follow its issuer's, so the rules count them over the body as they
 * do for the text.
 */
function withApprovals(
  certificate: SshCertificate,
  claims: GrantClaims,
  base64: string,
): GrantClaims | CertificateRefusal {
  const bytes = decodeCertificateBase64(base64);
  if (bytes === undefined) return malformed(`extension '${APPROVALS_EXTENSION}' is not base64`);
  let carried: CarriedApprovals;
  try {
    carried = decodeCarriedApprovals(bytes);
  } catch (err) {
    if (err instanceof AirgrantError) return malformed(`extension '${APPROVALS_EXTENSION}': ${err.message}`);
    throw err;
  }
  const { fields, signedBytes, approvals } = carried;
  const mismatch = mismatchOf(claims, fields);
  if (mismatch !== undefined) {
    return malformed(`extension '${APPROVALS_EXTENSION}' holds a grant whose ${mismatch} (docs/openssh.md)`);
  }
  return {
    ...claims,
    signatures: [
      caSignature(certificate, toHex(fields.issuerKeyId)),
      ...approvals.map((approval) => signatureClaim(approval, signedBytes, true)),
    ],
    anchor: fields.anchor,
  };
}

/** The first claim in which the extension's grant and its certificate differ, named for the message. */
function mismatchOf(claims: GrantClaims, grant: GrantFields): string | undefined {
  if (toHex(grant.grantId) !== claims.grantId) return `grant id ${toHex(grant.grantId)} is not the key id's`;
  if (claims.principals.length !== 1 || claims.principals[0] !== grant.principal) {
    return `account '${grant.principal}' is not the certificate's one principal`;
  }
  if (formatTarget(grant.target) !== formatTarget(claims.target)) return "target is not the key id's";
  if (grant.maxUses !== claims.maxUses) return "uses are not the key id's";
  if (grant.notBefore !== claims.notBefore || grant.notAfter !== claims.notAfter) {
    return "window is not the certificate's validity";
  }
  if (grant.sourceAddress !== claims.constraints.sourceAddress) return "source-address is not the certificate's";
  if (grant.forceCommand !== claims.constraints.forceCommand) return "force-command is not the certificate's";
  const challenge = claims.constraints.challenge;
  const sameChallenge =
    grant.challenge === undefined || challenge === undefined
      ? grant.challenge === challenge
      : Buffer.from(grant.challenge).equals(challenge);
  if (!sameChallenge) return `challenge is not the certificate's '${REQUEST_EXTENSION}'`;
  if (grant.minTrustVersion !== claims.minTrustVersion) {
    return `min-trust-version is not the certificate's '${MIN_TRUST_VERSION_EXTENSION}'`;
  }
  return undefined;
}
