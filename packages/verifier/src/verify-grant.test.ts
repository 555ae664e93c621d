import type { GrantFields } from "@airgrant/core";
import { decodeTrustBundle, encodeGrantText } from "@airgrant/core";
import { describe, expect, it } from "vitest";
import {
  makeBundleBytes,
  makeGrantBytes,
  makeGrantText,
  makeTestIssuer,
  T0,
  type TestIssuer,
  testFields,
  trustedIssuer,
} from "../../core/src/testing/test-issuer.js";
import { type VerifyGrantInput, verifyGrant } from "./verify-grant.js";

const issuer = makeTestIssuer("ecdsa-p256-sha256");
const second = makeTestIssuer("ed25519");
const stranger = makeTestIssuer("ecdsa-p256-sha256");
const bundle = decodeTrustBundle(makeBundleBytes([issuer, second]));

function check(fields: Partial<GrantFields>, input: Partial<VerifyGrantInput> = {}, signers: TestIssuer[] = [issuer]) {
  const text = makeGrantText(testFields(signers[0] as TestIssuer, fields), signers);
  return verifyGrant({ text, bundle, user: "alice", host: "db1.example", now: T0 + 60, ...input });
}

describe("verifyGrant", () => {
  it("allows a genuine grant for this user and host inside its window", () => {
    const verdict = check({});
    expect(verdict).toMatchObject({ allowed: true, code: "allowed" });
    expect(check({}, {}, [second]).code).toBe("allowed");
  });

  it("accepts the text as a person types it", () => {
    const text = makeGrantText(testFields(issuer), [issuer]).toLowerCase().replaceAll("-", " ");
    expect(verifyGrant({ text, bundle, user: "alice", host: "DB1.example", now: T0 }).code).toBe("allowed");
  });

  it("refuses grants outside their window, with the clock skew at both ends", () => {
    expect(check({}, { now: T0 - 301 }).code).toBe("grant-not-yet-valid");
    expect(check({}, { now: T0 - 300 }).code).toBe("allowed");
    expect(check({}, { now: T0 + 3600 + 299 }).code).toBe("allowed");
    expect(check({}, { now: T0 + 3600 + 300 }).code).toBe("grant-expired");
  });

  it("refuses the wrong user, host, group and source", () => {
    expect(check({}, { user: "bob" }).code).toBe("wrong-user");
    expect(check({}, { host: "db2.example" }).code).toBe("wrong-host");
    expect(check({ target: { kind: "group", name: "dbs" } }, { host: "db2.example" }).code).toBe("allowed");
    expect(check({ target: { kind: "group", name: "dbs" } }, { host: "web1.example" }).code).toBe("wrong-host");
    expect(check({ target: { kind: "group", name: "nosuch" } }).code).toBe("wrong-host");
    expect(check({ sourceAddress: "10.1.0.0/16" }, { remoteAddress: "10.1.2.3" }).code).toBe("allowed");
    expect(check({ sourceAddress: "10.1.0.0/16" }, { remoteAddress: "10.2.2.3" }).code).toBe("wrong-source");
    expect(check({ sourceAddress: "10.1.0.0/16" }).code).toBe("wrong-source");
    expect(check({ sourceAddress: "fd00::/8" }, { remoteAddress: "fd00::5" }).code).toBe("allowed");
  });

  it("refuses user names that are not account names before looking at the grant", () => {
    expect(check({}, { user: "a".repeat(10_000) }).code).toBe("invalid-user");
    expect(check({}, { user: "alice\n" }).code).toBe("invalid-user");
  });

  it("refuses unknown issuers, forged and tampered signatures", () => {
    expect(check({}, {}, [stranger]).code).toBe("unknown-issuer");
    const bytes = makeGrantBytes(testFields(issuer), [issuer]);
    for (const index of [5, 30, bytes.length - 5]) {
      const flipped = Uint8Array.from(bytes);
      flipped[index] = (flipped[index] as number) ^ 1;
      const verdict = verifyGrant({
        text: encodeGrantText(flipped),
        bundle,
        user: "alice",
        host: "db1.example",
        now: T0,
      });
      expect(verdict.code, `flip at ${index}`).toBe("bad-signature");
    }
    // A signature claiming the other algorithm for a trusted key.
    const ed = Uint8Array.from(bytes);
    ed[bytes.length - 65] = 2;
    const verdict = verifyGrant({ text: encodeGrantText(ed), bundle, user: "alice", host: "db1.example", now: T0 });
    expect(verdict.code).toBe("bad-signature");
  });

  it("applies the bundle's policy: lifetime, revocation, issuer validity and targets, signatures required", () => {
    expect(check({ notAfter: T0 + 8 * 3600 + 1 }).code).toBe("grant-lifetime-exceeded");
    const fields = testFields(issuer);
    const text = makeGrantText(fields, [issuer]);
    const revoked = decodeTrustBundle(
      makeBundleBytes([issuer], { revokedGrants: [Buffer.from(fields.grantId).toString("hex")] }),
    );
    expect(verifyGrant({ text, bundle: revoked, user: "alice", host: "db1.example", now: T0 }).code).toBe(
      "grant-revoked",
    );
    const narrow = decodeTrustBundle(makeBundleBytes([issuer], { issuers: [trustedIssuer(issuer, ["group:dbs"])] }));
    expect(verifyGrant({ text, bundle: narrow, user: "alice", host: "db1.example", now: T0 }).code).toBe(
      "target-not-allowed",
    );
    const expiredIssuer = decodeTrustBundle(
      makeBundleBytes([issuer], { issuers: [{ ...trustedIssuer(issuer), notAfter: T0 - 1000 }] }),
    );
    expect(verifyGrant({ text, bundle: expiredIssuer, user: "alice", host: "db1.example", now: T0 }).code).toBe(
      "issuer-not-valid",
    );
    const twoPerson = decodeTrustBundle(makeBundleBytes([issuer, second], { requiredSignatures: 2 }));
    expect(verifyGrant({ text, bundle: twoPerson, user: "alice", host: "db1.example", now: T0 }).code).toBe(
      "not-enough-signatures",
    );
    const both = makeGrantText(fields, [issuer, second]);
    expect(verifyGrant({ text: both, bundle: twoPerson, user: "alice", host: "db1.example", now: T0 }).code).toBe(
      "allowed",
    );
  });

  it("refuses garbage with a parse code, never an exception", () => {
    for (const text of ["", "AG1", "AG9-0000", "not a grant", "\u0000\u0001", "AG1-".padEnd(5000, "Z")]) {
      const verdict = check({}, { text });
      expect(["malformed-grant", "bad-checksum", "unsupported-version"]).toContain(verdict.code);
    }
  });
});
