import type { TrustBundle, TrustedIssuer } from "@airgrant/core";

/**
 * The rules of the installed bundle that every grant takes on this host,
 * whatever carries it: its text form (verifyGrant) or an OpenSSH
 * certificate minted for it (checkSshCertificate). One place, so that the
 * two ways in cannot drift apart. Each returns the refusal, or undefined.
 */

export interface Refusal<C extends string> {
  code: C;
  message: string;
}

/** Seconds since the epoch, as ISO 8601 without milliseconds. */
export function isoTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(".000Z", "Z");
}

/** The issuer key must be within its own validity, give or take the clock skew. */
export function issuerValidity(
  issuer: TrustedIssuer,
  bundle: TrustBundle,
  now: number,
): Refusal<"issuer-not-valid"> | undefined {
  if (now + bundle.clockSkew >= issuer.notBefore && now - bundle.clockSkew < issuer.notAfter) return undefined;
  return { code: "issuer-not-valid", message: `issuer key ${issuer.keyId} is not valid at ${isoTime(now)}` };
}

/** The grant must not be on the bundle's revocation list. */
export function revocation(bundle: TrustBundle, grantId: string): Refusal<"grant-revoked"> | undefined {
  return bundle.revokedGrants.includes(grantId)
    ? { code: "grant-revoked", message: `grant ${grantId} is revoked` }
    : undefined;
}

/**
 * The window, `notBefore` to `notAfter` in seconds (notAfter later): no
 * longer than the bundle's maximum lifetime, and holding `now` give or take
 * the clock skew. `what` names the carrier in messages: "grant" or
 * "certificate".
 */
export function validityWindow(
  bundle: TrustBundle,
  now: number,
  notBefore: number,
  notAfter: number,
  what: "grant" | "certificate",
): Refusal<"grant-lifetime-exceeded" | "grant-not-yet-valid" | "grant-expired"> | undefined {
  if (notAfter - notBefore > bundle.maxLifetime) {
    return {
      code: "grant-lifetime-exceeded",
      message: `${what} is valid for ${notAfter - notBefore} s; this host accepts at most ${bundle.maxLifetime} s`,
    };
  }
  if (now + bundle.clockSkew < notBefore) {
    return {
      code: "grant-not-yet-valid",
      message: `${what} is valid from ${isoTime(notBefore)}; it is ${isoTime(now)}`,
    };
  }
  if (now - bundle.clockSkew >= notAfter) {
    return { code: "grant-expired", message: `${what} expired at ${isoTime(notAfter)}; it is ${isoTime(now)}` };
  }
  return undefined;
}
