import { BlockList, isIP } from "node:net";
import {
  AirgrantError,
  checkPrincipal,
  decodeGrant,
  decodeGrantText,
  formatTarget,
  type Grant,
  issuerPublicKey,
  type TrustBundle,
  type TrustedIssuer,
  toHex,
  verifySignature,
} from "@airgrant/core";
import { isoTime, issuerValidity, revocation, validityWindow } from "./grant-rules.js";

/** Why a grant was refused: stable codes listed in docs/errors.md. */
export type DenyCode =
  | "malformed-grant"
  | "bad-checksum"
  | "unsupported-version"
  | "invalid-user"
  | "unknown-issuer"
  | "bad-signature"
  | "issuer-not-valid"
  | "not-enough-signatures"
  | "grant-revoked"
  | "grant-lifetime-exceeded"
  | "grant-not-yet-valid"
  | "grant-expired"
  | "wrong-user"
  | "wrong-host"
  | "target-not-allowed"
  | "wrong-source"
  | "grant-replayed";

export type Verdict =
  | { allowed: true; code: "allowed"; message: string; grant: Grant }
  | { allowed: false; code: DenyCode; message: string; grant?: Grant };

export interface VerifyGrantInput {
  /** The grant's text form as presented (any case, dashes and whitespace allowed). */
  text: string;
  bundle: TrustBundle;
  /** The account being logged in to. */
  user: string;
  /** This host's name. */
  host: string;
  /** Now, in seconds since the epoch. */
  now: number;
  /** Where the login comes from, when known; required by grants that name source addresses. */
  remoteAddress?: string;
}

function deny(code: DenyCode, message: string, grant?: Grant): Verdict {
  return grant === undefined ? { allowed: false, code, message } : { allowed: false, code, message, grant };
}

function issuerAllows(issuer: TrustedIssuer, target: string): boolean {
  return issuer.targets.includes("*") || issuer.targets.includes(target);
}

function sourceAllowed(list: string, remoteAddress: string | undefined): boolean {
  if (remoteAddress === undefined) return false;
  const family = isIP(remoteAddress);
  if (family === 0) return false;
  const blocks = new BlockList();
  for (const item of list.split(",")) {
    const [address = "", bits] = item.split("/");
    const type = isIP(address) === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) blocks.addAddress(address, type);
    else blocks.addSubnet(address, Number(bits), type);
  }
  return blocks.check(remoteAddress, family === 4 ? "ipv4" : "ipv6");
}

/**
 * Decide whether a grant lets `user` in on `host` now. Pure: it does not
 * consume the grant (see checkGrant). Authenticity is settled first, so that
 * nothing in an unauthenticated grant steers the answer beyond "not genuine".
 */
export function verifyGrant(input: VerifyGrantInput): Verdict {
  const { bundle, now } = input;
  try {
    checkPrincipal(input.user);
  } catch {
    return deny("invalid-user", "the user name is not a valid account name");
  }
  let grant: Grant;
  try {
    grant = decodeGrant(decodeGrantText(input.text));
  } catch (err) {
    if (err instanceof AirgrantError) {
      const code = err.code === "bad-checksum" || err.code === "unsupported-version" ? err.code : "malformed-grant";
      return deny(code, err.message);
    }
    throw err;
  }
  const grantId = toHex(grant.grantId);

  const signers: TrustedIssuer[] = [];
  for (const signature of grant.signatures) {
    const keyId = toHex(signature.keyId);
    const issuer = bundle.issuers.find((i) => i.keyId === keyId);
    if (issuer === undefined)
      return deny("unknown-issuer", `grant is signed by key ${keyId}, which this host does not trust`, grant);
    if (issuer.algorithm !== signature.algorithm) {
      return deny(
        "bad-signature",
        `key ${keyId} is a ${issuer.algorithm} key, the signature claims ${signature.algorithm}`,
        grant,
      );
    }
    if (!verifySignature(issuer.algorithm, issuerPublicKey(issuer), grant.signedBytes, signature.signature)) {
      return deny("bad-signature", `signature by key ${keyId} does not verify`, grant);
    }
    const invalid = issuerValidity(issuer, bundle, now);
    if (invalid !== undefined) return deny(invalid.code, invalid.message, grant);
    signers.push(issuer);
  }
  if (signers.length < bundle.requiredSignatures) {
    return deny(
      "not-enough-signatures",
      `grant has ${signers.length} signature(s); this host requires ${bundle.requiredSignatures}`,
      grant,
    );
  }
  const refusal = revocation(bundle, grantId) ?? validityWindow(bundle, now, grant.notBefore, grant.notAfter, "grant");
  if (refusal !== undefined) return deny(refusal.code, refusal.message, grant);
  if (grant.principal !== input.user) {
    return deny("wrong-user", `grant is for user '${grant.principal}', not '${input.user}'`, grant);
  }
  const host = input.host.toLowerCase();
  const target = formatTarget(grant.target);
  const onTarget =
    grant.target.kind === "host" ? grant.target.name === host : (bundle.groups[grant.target.name] ?? []).includes(host);
  if (!onTarget) return deny("wrong-host", `grant is for ${target}, not host '${host}'`, grant);
  const refusing = signers.find((issuer) => !issuerAllows(issuer, target));
  if (refusing !== undefined) {
    return deny("target-not-allowed", `issuer key ${refusing.keyId} may not grant access to ${target}`, grant);
  }
  if (grant.sourceAddress !== undefined && !sourceAllowed(grant.sourceAddress, input.remoteAddress)) {
    return deny(
      "wrong-source",
      `grant allows logins from ${grant.sourceAddress} only, not from ${input.remoteAddress ?? "an unknown address"}`,
      grant,
    );
  }
  return {
    allowed: true,
    code: "allowed",
    message: `grant ${grantId} lets '${grant.principal}' in on '${host}' until ${isoTime(grant.notAfter)}`,
    grant,
  };
}
