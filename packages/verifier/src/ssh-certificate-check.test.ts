import { randomBytes } from "node:crypto";
import {
  encodeSshCertificate,
  encodeSshCertificateBody,
  type SshCertificateFields,
  sshSignatureBlob,
  type TrustBundle,
  toHex,
} from "@airgrant/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  makeBundle,
  makeTestIssuer,
  signWith,
  T0,
  type TestIssuer,
  trustedIssuer,
} from "../../core/src/testing/test-issuer.js";
import { sshAuditData } from "./ssh-audit-data.js";
import { checkSshCertificate } from "./ssh-certificate-check.js";

const issuer = makeTestIssuer("ecdsa-p256-sha256");
const edIssuer = makeTestIssuer("ed25519");
const stranger = makeTestIssuer("ed25519");
const subject = makeTestIssuer("ed25519");
const bundle = makeBundle([issuer, edIssuer]);
const HOST = "db1.example";
const GRANT_ID = "0123456789abcdef0123456789abcdef";

/** The SSH blob of an Ed25519 subject key: string "ssh-ed25519", string key. */
function subjectKeyBlob(key: TestIssuer): Uint8Array {
  const raw = key.spki.subarray(key.spki.length - 32);
  const type = Buffer.from("ssh-ed25519");
  const out = Buffer.alloc(4 + type.length + 4 + 32);
  out.writeUInt32BE(type.length, 0);
  type.copy(out, 4);
  out.writeUInt32BE(32, 4 + type.length);
  Buffer.from(raw).copy(out, 8 + type.length);
  return new Uint8Array(out);
}

function certificate(over: Partial<SshCertificateFields> = {}, by: TestIssuer = issuer): Uint8Array {
  const fields: SshCertificateFields = {
    subjectKey: subjectKeyBlob(subject),
    nonce: new Uint8Array(randomBytes(32)),
    serial: 42n,
    keyId: GRANT_ID,
    principals: ["alice"],
    validAfter: BigInt(T0),
    validBefore: BigInt(T0 + 3600),
    criticalOptions: {},
    extensions: ["permit-pty"],
    ...over,
  };
  const body = encodeSshCertificateBody(fields, by.algorithm, by.spki);
  return encodeSshCertificate(body, sshSignatureBlob(by.algorithm, signWith(by, body)));
}

function check(blob: Uint8Array, over: { user?: string; host?: string; now?: number; bundle?: TrustBundle } = {}) {
  return checkSshCertificate({ blob, bundle, user: "alice", host: HOST, now: T0 + 60, ...over });
}

describe("checkSshCertificate", () => {
  it("allows a certificate of either issuer algorithm and reads the grant from its key id", () => {
    for (const by of [issuer, edIssuer]) {
      const verdict = check(certificate({}, by));
      expect(verdict).toMatchObject({ allowed: true, code: "allowed" });
      expect(verdict.facts).toMatchObject({ grantId: GRANT_ID, maxUses: 1, issuer: toHex(by.keyId), serial: "42" });
    }
  });

  it("takes /N in the key id as N uses, and only canonical spellings", () => {
    expect(check(certificate({ keyId: `${GRANT_ID}/2` })).facts?.maxUses).toBe(2);
    expect(check(certificate({ keyId: `${GRANT_ID}/255` })).facts?.maxUses).toBe(255);
    for (const keyId of [`${GRANT_ID}/1`, `${GRANT_ID}/02`, `${GRANT_ID}/256`, GRANT_ID.toUpperCase(), "alice", ""]) {
      expect(check(certificate({ keyId })).code, keyId).toBe("malformed-certificate");
    }
  });

  it("refuses a CA that is not a bundle issuer, and a signature that does not verify", () => {
    expect(check(certificate({}, stranger)).code).toBe("unknown-issuer");
    const blob = certificate();
    blob[blob.length - 5] = (blob[blob.length - 5] as number) ^ 1;
    expect(check(blob).code).toBe("bad-signature");
  });

  it("applies the bundle's rules: revocation, lifetime, window with skew, user, issuer validity and targets", () => {
    expect(check(certificate(), { bundle: { ...bundle, revokedGrants: [GRANT_ID] } }).code).toBe("grant-revoked");
    expect(check(certificate({ validBefore: BigInt(T0 + 8 * 3600 + 1) })).code).toBe("grant-lifetime-exceeded");
    expect(check(certificate({ validBefore: 0xffffffffffffffffn })).code).toBe("grant-lifetime-exceeded");
    expect(check(certificate(), { now: T0 - 301 }).code).toBe("grant-not-yet-valid");
    expect(check(certificate(), { now: T0 - 300 }).code).toBe("allowed");
    expect(check(certificate(), { now: T0 + 3600 + 299 }).code).toBe("allowed");
    expect(check(certificate(), { now: T0 + 3600 + 300 }).code).toBe("grant-expired");
    expect(check(certificate(), { user: "bob" }).code).toBe("wrong-user");
    expect(check(certificate({ principals: ["alice", "bob"] })).code).toBe("wrong-user");
    expect(check(certificate(), { user: "Not A User" }).code).toBe("invalid-user");
    expect(check(certificate(), { bundle: { ...bundle, requiredSignatures: 2 } }).code).toBe("not-enough-signatures");
    const expiredIssuer = { ...trustedIssuer(issuer), notAfter: T0 - 1000 };
    expect(check(certificate(), { bundle: { ...bundle, issuers: [expiredIssuer] } }).code).toBe("issuer-not-valid");
  });

  it("lets an issuer in only where its targets reach: *, this host, or a group holding it", () => {
    const limited = (targets: string[]) => ({ ...bundle, issuers: [trustedIssuer(issuer, targets)] });
    expect(check(certificate(), { bundle: limited([HOST]) }).code).toBe("allowed");
    expect(check(certificate(), { bundle: limited(["group:dbs"]) }).code).toBe("allowed");
    expect(check(certificate(), { bundle: limited(["web1.example"]) }).code).toBe("target-not-allowed");
    expect(check(certificate(), { bundle: limited(["group:web"]) }).code).toBe("target-not-allowed");
  });

  it("gives a verdict, never an exception, for any bytes and any mutation of a good certificate", () => {
    const good = certificate();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(check(bytes).allowed).toBe(false);
      }),
    );
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const blob = good.slice();
        blob[at] = (blob[at] as number) ^ xor;
        expect(typeof check(blob).code).toBe("string");
      }),
    );
  });
});

describe("sshAuditData", () => {
  it("cuts names by code points, so that a certificate's principal cannot leave the check unlogged", () => {
    const verdict = check(certificate({ principals: [`a${"\u{1F600}".repeat(70)}`] }));
    const data = sshAuditData(verdict, new Uint8Array(1), `a${"\u{1F600}".repeat(70)}`, HOST);
    expect(data.userTruncated).toBe(true);
    expect(Array.from(data.user as string)).toHaveLength(64);
    expect(Array.from(data.principal as string)).toHaveLength(64);
    expect(JSON.stringify(data)).not.toMatch(/\\ud83d"/);
  });
});
