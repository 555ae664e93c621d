import {
  AirgrantError,
  checkPrincipal,
  decodeSshCertificate,
  issuerPublicKey,
  type SshCertificate,
  sshIssuerKeyBlob,
  type TrustBundle,
  type TrustedIssuer,
  verifySshCertificate,
} from "@airgrant/core";
import { isoTime, issuerValidity, revocation, validityWindow } from "./grant-rules.js";
import type { DenyCode } from "./verify-grant.js";

/**
 * Checks of an OpenSSH user certificate minted for a grant (docs/openssh.md,
 * "The certificate"), against the installed trust bundle. Pure: the one-time
 * store is consulted by the callers (ssh-principals, ssh-session).
 */

/** Why a certificate was refused: the grant codes of docs/errors.md plus `malformed-certificate`. */
export type SshDenyCode =
  | "malformed-certificate"
  // A certificate is not text, names no host and carries no source list to check here (sshd does).
  | Exclude<DenyCode, "malformed-grant" | "bad-checksum" | "unsupported-version" | "wrong-host" | "wrong-source">;

/** What the certificate says about its grant, once it decoded and its CA is a bundle issuer. */
export interface SshGrantFacts {
  grantId: string;
  maxUses: number;
  issuer: string;
  serial: string;
  principals: string[];
  /** Seconds; undefined when beyond what a number holds exactly (a "forever" certificate). */
  validAfter?: number;
  validBefore?: number;
}

export type SshVerdict =
  | { allowed: true; code: "allowed"; message: string; facts: SshGrantFacts; certificate: SshCertificate }
  | { allowed: false; code: SshDenyCode; message: string; facts?: SshGrantFacts };

export interface CheckSshCertificateInput {
  /** The certificate blob (the base64 of `%k` or of SSH_AUTH_INFO_0, decoded). */
  blob: Uint8Array;
  bundle: TrustBundle;
  /** The account being logged in to. */
  user: string;
  /** This host's name, lower case. */
  host: string;
  /** Now, in seconds since the epoch. */
  now: number;
}

/**
 * Key id: the grant id, then `/N` when the grant allows N uses (2..255; one
 * use is written without a suffix, so that there is one spelling of each).
 */
const KEY_ID_PATTERN = /^([0-9a-f]{32})(?:\/([2-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))?$/;
const SSH_USER_CERT = 1;

/** A certificate's CA key is the SSH blob of a bundle issuer (sshIssuerKeyBlob), byte for byte. */
export function findCertificateIssuer(certificate: SshCertificate, bundle: TrustBundle): TrustedIssuer | undefined {
  return bundle.issuers.find((issuer) =>
    sameBytes(certificate.caKey, sshIssuerKeyBlob(issuer.algorithm, issuer.publicKey)),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function exactSeconds(value: bigint): number | undefined {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : undefined;
}

/** Whether the issuer may grant access to this host: `*`, the host itself, or a group holding it. */
export function issuerCoversHost(issuer: TrustedIssuer, bundle: TrustBundle, host: string): boolean {
  return issuer.targets.some(
    (target) =>
      target === "*" ||
      target === host ||
      (target.startsWith("group:") && (bundle.groups[target.slice("group:".length)] ?? []).includes(host)),
  );
}

/** Decode a certificate, or say why it is not one; never throws for bad bytes. */
export function decodeCertificateVerdict(
  blob: Uint8Array,
): { certificate: SshCertificate } | { allowed: false; code: "malformed-certificate"; message: string } {
  try {
    return { certificate: decodeSshCertificate(blob) };
  } catch (err) {
    if (err instanceof AirgrantError) return { allowed: false, code: "malformed-certificate", message: err.message };
    throw err;
  }
}

/**
 * Decide whether a certificate lets `user` in on `host` now, before the
 * one-time store is asked. Authenticity is settled first (a bundle issuer's
 * CA key and a signature that verifies), then the grant rules of
 * verifyGrant in the same order.
 */
export function checkSshCertificate(input: CheckSshCertificateInput): SshVerdict {
  const { bundle, now } = input;
  try {
    checkPrincipal(input.user);
  } catch {
    return { allowed: false, code: "invalid-user", message: "the user name is not a valid account name" };
  }
  const decoded = decodeCertificateVerdict(input.blob);
  if (!("certificate" in decoded)) return decoded;
  const { certificate } = decoded;
  if (certificate.certType !== SSH_USER_CERT) {
    return { allowed: false, code: "malformed-certificate", message: "a host certificate, not a user certificate" };
  }
  const issuer = findCertificateIssuer(certificate, bundle);
  if (issuer === undefined) {
    return {
      allowed: false,
      code: "unknown-issuer",
      message: "the certificate is signed by a CA key that is not an issuer of the installed bundle",
    };
  }
  if (!verifySshCertificate(certificate, issuer.algorithm, issuer.publicKey, issuerPublicKey(issuer))) {
    return { allowed: false, code: "bad-signature", message: `signature by key ${issuer.keyId} does not verify` };
  }
  const keyId = KEY_ID_PATTERN.exec(certificate.keyId);
  if (keyId === null) {
    return {
      allowed: false,
      code: "malformed-certificate",
      message: `key id '${certificate.keyId.slice(0, 80)}' is not a grant id (32 hex digits, optionally /N uses)`,
    };
  }
  const validAfter = exactSeconds(certificate.validAfter);
  const validBefore = exactSeconds(certificate.validBefore);
  const facts: SshGrantFacts = {
    grantId: keyId[1] as string,
    maxUses: keyId[2] === undefined ? 1 : Number(keyId[2]),
    issuer: issuer.keyId,
    serial: certificate.serial.toString(),
    principals: certificate.principals,
    ...(validAfter === undefined ? {} : { validAfter }),
    ...(validBefore === undefined ? {} : { validBefore }),
  };
  const deny = (code: SshDenyCode, message: string): SshVerdict => ({ allowed: false, code, message, facts });

  const invalid = issuerValidity(issuer, bundle, now);
  if (invalid !== undefined) return deny(invalid.code, invalid.message);
  // A certificate carries one signature: a host that asks for co-signed grants cannot take certificates.
  if (bundle.requiredSignatures > 1) {
    return deny(
      "not-enough-signatures",
      `a certificate has 1 signature; this host requires ${bundle.requiredSignatures}`,
    );
  }
  const revoked = revocation(bundle, facts.grantId);
  if (revoked !== undefined) return deny(revoked.code, revoked.message);
  // A certificate's bounds are uint64: settle the ones no grant window can
  // have (inverted, or past what a number holds exactly) before the rules
  // every grant takes.
  const lifetime = certificate.validBefore - certificate.validAfter;
  if (certificate.validBefore <= certificate.validAfter || lifetime > BigInt(bundle.maxLifetime)) {
    return deny(
      "grant-lifetime-exceeded",
      `certificate is valid for ${lifetime} s; this host accepts at most ${bundle.maxLifetime} s`,
    );
  }
  // Both bounds are below MAX_SAFE_INTEGER here unless validAfter is far beyond it.
  if (validAfter === undefined || validBefore === undefined) {
    return deny("grant-not-yet-valid", "certificate is valid only far in the future");
  }
  const window = validityWindow(bundle, now, validAfter, validBefore, "certificate");
  if (window !== undefined) return deny(window.code, window.message);
  // The convention is one principal, the user: a certificate naming several
  // accounts is not one the signer makes.
  if (certificate.principals.length !== 1 || certificate.principals[0] !== input.user) {
    return deny(
      "wrong-user",
      `certificate is for ${certificate.principals.map((p) => `'${p.slice(0, 40)}'`).join(", ") || "no principal"}, not '${input.user}'`,
    );
  }
  if (!issuerCoversHost(issuer, bundle, input.host)) {
    return deny("target-not-allowed", `issuer key ${issuer.keyId} may not grant access to host '${input.host}'`);
  }
  return {
    allowed: true,
    code: "allowed",
    message: `certificate for grant ${facts.grantId} lets '${input.user}' in on '${input.host}' until ${isoTime(validBefore)}`,
    facts,
    certificate,
  };
}
