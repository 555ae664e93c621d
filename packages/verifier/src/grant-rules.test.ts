// The verdict vectors of test/vectors/verdicts-v1.json (keys from RFC 8032
// section 7.1), run through both carriers of a grant: its text form and the
// OpenSSH certificate the signer mints for it.
import { createPrivateKey, createPublicKey, type KeyObject, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  APPROVALS_EXTENSION,
  decodeGrant,
  encodeCarriedApprovals,
  encodeGrant,
  encodeGrantBody,
  encodeGrantText,
  encodeSshCertificate,
  encodeSshCertificateBody,
  fromHex,
  type GrantFields,
  keyIdOf,
  MIN_TRUST_VERSION_EXTENSION,
  parseTarget,
  REQUEST_EXTENSION,
  sshSignatureBlob,
  type TrustBundle,
  toHex,
} from "@airgrant/core";
import { makeGrantBytes, makeSignedBundle, makeTestIssuer, T0, testFields, trustedApprover } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeCertificateClaims } from "./certificate-claims.js";
import type { GrantClaims } from "./claims.js";
import { decodeGrantClaims } from "./grant-claims.js";
import { decideGrant, type RuleContext } from "./grant-rules.js";

interface IssuerSpec {
  key: string;
  targets: string[];
  notBefore?: number;
  notAfter?: number;
  retireAt?: number;
}
interface GrantSpec {
  grantId: string;
  principal: string;
  target: string;
  notBefore: number;
  notAfter: number;
  maxUses: number;
  signers: string[];
  sourceAddress?: string;
  forceCommand?: string;
  challenge?: string;
  minTrustVersion?: number;
}
interface BundleSpec {
  issuers: IssuerSpec[];
  issuerNotBefore: number;
  issuerNotAfter: number;
  groups: Record<string, string[]>;
  maxLifetime: number;
  clockSkew: number;
  requiredSignatures: number;
  revokedGrants: string[];
  /** A version 2 bundle's expiry; its roots (key C) play no part in a grant's verdict. */
  signedTrust?: { trustVersion?: number; expires: number; onExpiry: "warn" | "refuse" };
  /** A version 2 bundle's two-person rule. */
  approvers?: { key: string; officer: string; targets: string[] }[];
  approvalPolicy?: { target: string; approvals: number }[];
  requestPolicy?: TrustBundle["requestPolicy"];
}
interface ContextSpec {
  user: string;
  host: string;
  now: number;
  remoteAddress: string | null;
}
interface VerdictCase {
  name: string;
  bundle?: Partial<BundleSpec>;
  grant?: Partial<GrantSpec>;
  context?: Partial<ContextSpec>;
  expect: string;
  certificate?: { expect: string; why: string } | null;
  why?: string;
}
interface Vectors {
  keys: Record<string, string>;
  defaults: { bundle: BundleSpec; grant: GrantSpec; context: ContextSpec };
  cases: VerdictCase[];
}

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/vectors/verdicts-v1.json", import.meta.url), "utf8"),
) as Vectors;

/** An Ed25519 key from its RFC 8032 secret: the PKCS#8 prefix of RFC 8410, then the 32 bytes. */
function keyFromSecret(secretHex: string): { privateKey: KeyObject; spki: Uint8Array } {
  const der = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from(secretHex, "hex")]);
  const privateKey = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  const spki = new Uint8Array(createPublicKey(privateKey).export({ format: "der", type: "spki" }));
  return { privateKey, spki };
}

const keys = Object.fromEntries(Object.entries(vectors.keys).map(([name, hex]) => [name, keyFromSecret(hex)]));
function key(name: string) {
  const found = keys[name];
  if (found === undefined) throw new Error(`no key ${name} in the vectors`);
  return found;
}

function bundleOf(spec: BundleSpec): TrustBundle {
  return {
    bundleId: "00112233445566778899aabbccddeeff",
    created: spec.issuerNotBefore,
    issuers: spec.issuers
      .map((issuer) => ({
        keyId: toHex(keyIdOf(key(issuer.key).spki)),
        algorithm: "ed25519" as const,
        publicKey: key(issuer.key).spki,
        notBefore: issuer.notBefore ?? spec.issuerNotBefore,
        notAfter: issuer.notAfter ?? spec.issuerNotAfter,
        targets: issuer.targets,
        ...(issuer.retireAt === undefined ? {} : { retireAt: issuer.retireAt }),
      }))
      .sort((a, b) => (a.keyId < b.keyId ? -1 : 1)),
    groups: spec.groups,
    maxLifetime: spec.maxLifetime,
    clockSkew: spec.clockSkew,
    requiredSignatures: spec.requiredSignatures,
    revokedGrants: spec.revokedGrants,
    ...(spec.requestPolicy === undefined ? {} : { requestPolicy: spec.requestPolicy }),
    ...(spec.signedTrust === undefined
      ? {}
      : {
          signedTrust: {
            trustVersion: 1,
            ...spec.signedTrust,
            roots: {
              keys: [{ keyId: toHex(keyIdOf(key("C").spki)), algorithm: "ed25519" as const, publicKey: key("C").spki }],
              threshold: 1,
            },
          },
        }),
    ...(spec.approvers === undefined
      ? {}
      : {
          approvals: {
            approvers: spec.approvers.map((a) => ({
              keyId: toHex(keyIdOf(key(a.key).spki)),
              algorithm: "ed25519" as const,
              publicKey: key(a.key).spki,
              officer: a.officer,
              targets: a.targets,
            })),
            policy: spec.approvalPolicy ?? [],
          },
        }),
  };
}

function grantBinary(spec: GrantSpec): Uint8Array {
  const first = key(spec.signers[0] as string);
  const fields: GrantFields = {
    grantId: fromHex(spec.grantId, 16, "bad-input", "grant id"),
    issuerKeyId: keyIdOf(first.spki),
    notBefore: spec.notBefore,
    notAfter: spec.notAfter,
    maxUses: spec.maxUses,
    principal: spec.principal,
    target: parseTarget(spec.target),
    anchor: { seq: 7, headPrefix: new Uint8Array(8).fill(0xa1) },
  };
  if (spec.sourceAddress !== undefined) fields.sourceAddress = spec.sourceAddress;
  if (spec.forceCommand !== undefined) fields.forceCommand = spec.forceCommand;
  if (spec.minTrustVersion !== undefined) fields.minTrustVersion = spec.minTrustVersion;
  if (spec.challenge !== undefined)
    fields.challenge = fromHex(spec.challenge, spec.challenge.length / 2, "bad-input", "challenge");
  const body = encodeGrantBody(fields);
  const signatures = spec.signers.map((name) => ({
    keyId: keyIdOf(key(name).spki),
    algorithm: "ed25519" as const,
    signature: new Uint8Array(sign(null, body, key(name).privateKey)),
  }));
  return encodeGrant(body, signatures);
}

function grantText(spec: GrantSpec): Uint8Array {
  return new TextEncoder().encode(encodeGrantText(grantBinary(spec)));
}

/** `approvals@airgrant` of the grant: its body and its signatures after the first (docs/openssh.md, "Approvals"). */
function carriedApprovals(spec: GrantSpec): string {
  const grant = decodeGrant(grantBinary(spec));
  return Buffer.from(encodeCarriedApprovals(grant.signedBytes, grant.signatures.slice(1))).toString("base64");
}

/**
 * The certificate the signer mints for the grant (docs/openssh.md), signed
 * by its first signer; for a grant made with approvals (`certify`) it
 * carries them in `approvals@airgrant`.
 */
function certificate(spec: GrantSpec, withApprovals: boolean): Uint8Array {
  const ca = key(spec.signers[0] as string);
  const subject = key("C").spki;
  const subjectKey = Buffer.concat([
    Buffer.from([0, 0, 0, 11]),
    Buffer.from("ssh-ed25519"),
    Buffer.from([0, 0, 0, 32]),
    subject.subarray(subject.length - 32),
  ]);
  const criticalOptions: Record<string, string> = {};
  if (spec.forceCommand !== undefined) criticalOptions["force-command"] = spec.forceCommand;
  if (spec.sourceAddress !== undefined) criticalOptions["source-address"] = spec.sourceAddress;
  const uses = spec.maxUses === 1 ? "" : `/${spec.maxUses}`;
  const body = encodeSshCertificateBody(
    {
      subjectKey: new Uint8Array(subjectKey),
      nonce: new Uint8Array(32).fill(9),
      serial: 42n,
      keyId: `${spec.grantId}${uses}@${spec.target}`,
      principals: [spec.principal],
      validAfter: BigInt(spec.notBefore),
      validBefore: BigInt(spec.notAfter),
      criticalOptions,
      extensions: {
        "permit-pty": "",
        ...(spec.minTrustVersion === undefined ? {} : { [MIN_TRUST_VERSION_EXTENSION]: String(spec.minTrustVersion) }),
        ...(spec.challenge === undefined
          ? {}
          : { [REQUEST_EXTENSION]: Buffer.from(spec.challenge, "hex").toString("latin1") }),
        ...(withApprovals && spec.signers.length > 1 ? { [APPROVALS_EXTENSION]: carriedApprovals(spec) } : {}),
      },
    },
    "ed25519",
    ca.spki,
  );
  return encodeSshCertificate(body, sshSignatureBlob("ed25519", new Uint8Array(sign(null, body, ca.privateKey))));
}

function contextOf(spec: ContextSpec): RuleContext {
  const context: RuleContext = { user: spec.user, host: spec.host.toLowerCase(), now: spec.now, clockBehind: 0 };
  if (spec.remoteAddress !== null) context.remoteAddress = spec.remoteAddress;
  return context;
}

function codeOf(claims: GrantClaims | { code: string }, bundle: TrustBundle, context: RuleContext): string {
  if ("code" in claims) return claims.code;
  const decision = decideGrant(claims, bundle, context);
  return decision.allowed ? "allowed" : decision.code;
}

describe("the verdict vectors (test/vectors/verdicts-v1.json)", () => {
  for (const c of vectors.cases) {
    const bundle = bundleOf({ ...vectors.defaults.bundle, ...c.bundle });
    const grant = { ...vectors.defaults.grant, ...c.grant };
    const context = contextOf({ ...vectors.defaults.context, ...c.context });

    it(`${c.name}: ${c.expect} as a grant text`, () => {
      expect(codeOf(decodeGrantClaims(grantText(grant)), bundle, context)).toBe(c.expect);
    });

    if (c.certificate === null) {
      it(`${c.name}: no certificate can carry it`, () => {
        expect(c.why).toMatch(/\w/);
        expect(grant.challenge).toBeDefined();
      });
    } else {
      const differs = c.certificate;
      const expected = differs?.expect ?? c.expect;
      it(`${c.name}: ${expected} as a certificate`, () => {
        if (differs !== undefined) expect(differs.why).toMatch(/\w/);
        const blob = certificate(grant, bundle.approvals !== undefined);
        expect(codeOf(decodeCertificateClaims(blob), bundle, context)).toBe(expected);
      });
    }
  }

  it("covers every code the rules can give", () => {
    const codes = new Set(vectors.cases.flatMap((c) => [c.expect, c.certificate?.expect ?? c.expect]));
    for (const code of [
      "allowed",
      "invalid-user",
      "unknown-issuer",
      "issuer-not-valid",
      "not-enough-signatures",
      "not-enough-approvals",
      "grant-revoked",
      "trust-version-required",
      "grant-lifetime-exceeded",
      "grant-not-yet-valid",
      "grant-expired",
      "wrong-user",
      "wrong-host",
      "target-not-allowed",
      "wrong-source",
      "request-required",
      "request-unknown",
      "request-wrong-host",
      "constraint-unenforceable",
    ]) {
      expect(codes, code).toContain(code);
    }
  });
});

describe("the certificate carrier", () => {
  const spec = vectors.defaults.grant;
  const bundle = bundleOf(vectors.defaults.bundle);
  const context = contextOf(vectors.defaults.context);
  const reSigned = (edit: (fields: Parameters<typeof encodeSshCertificateBody>[0]) => void) => {
    const ca = key("A");
    const fields: Parameters<typeof encodeSshCertificateBody>[0] = {
      subjectKey: decodeCertificateClaimsSubject(),
      nonce: new Uint8Array(32),
      serial: 1n,
      keyId: `${spec.grantId}@${spec.target}`,
      principals: [spec.principal],
      validAfter: BigInt(spec.notBefore),
      validBefore: BigInt(spec.notAfter),
      criticalOptions: {},
      extensions: { "permit-pty": "" },
    };
    edit(fields);
    const body = encodeSshCertificateBody(fields, "ed25519", ca.spki);
    return encodeSshCertificate(body, sshSignatureBlob("ed25519", new Uint8Array(sign(null, body, ca.privateKey))));
  };
  function decodeCertificateClaimsSubject(): Uint8Array {
    const subject = key("B").spki;
    return new Uint8Array(
      Buffer.concat([
        Buffer.from([0, 0, 0, 11]),
        Buffer.from("ssh-ed25519"),
        Buffer.from([0, 0, 0, 32]),
        subject.subarray(subject.length - 32),
      ]),
    );
  }

  it("takes an approvals@airgrant body that says what the certificate says, and refuses one that differs", () => {
    const spec = {
      ...vectors.defaults.grant,
      signers: ["A", "B"],
      sourceAddress: "10.0.0.0/8",
      forceCommand: "/usr/bin/uptime",
    };
    const carried = carriedApprovals(spec);
    // B signs as a second issuer here: the rules verify every carried signature as they do a text's.
    const bundle = bundleOf({
      ...vectors.defaults.bundle,
      issuers: [
        { key: "A", targets: ["*"] },
        { key: "B", targets: ["*"] },
      ],
    });
    const as = (edit: (fields: Parameters<typeof encodeSshCertificateBody>[0]) => void) =>
      codeOf(
        decodeCertificateClaims(
          reSigned((f) => {
            f.criticalOptions = { "force-command": "/usr/bin/uptime", "source-address": "10.0.0.0/8" };
            f.extensions[APPROVALS_EXTENSION] = carried;
            edit(f);
          }),
        ),
        bundle,
        { ...context, remoteAddress: "10.1.2.3" },
      );
    expect(as(() => {})).toBe("allowed");
    const other = `${"0".repeat(31)}1`;
    for (const edit of [
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.keyId = `${other}@${spec.target}`),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.keyId = `${spec.grantId}/2@${spec.target}`),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.keyId = `${spec.grantId}@group:dbs`),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.principals = ["root"]),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.principals = [spec.principal, "root"]),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.validBefore += 1n),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.validAfter -= 1n),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => delete f.criticalOptions["force-command"],
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.criticalOptions["source-address"] = "0.0.0.0/0"),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.extensions[MIN_TRUST_VERSION_EXTENSION] = "1"),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.extensions[APPROVALS_EXTENSION] = `${carried} `),
      (f: Parameters<typeof encodeSshCertificateBody>[0]) => (f.extensions[APPROVALS_EXTENSION] = carried.slice(8)),
      // A body bound to a request the certificate does not carry.
      (f: Parameters<typeof encodeSshCertificateBody>[0]) =>
        (f.extensions[APPROVALS_EXTENSION] = carriedApprovals({ ...spec, challenge: "41".repeat(18) })),
    ]) {
      expect(as(edit)).toBe("malformed-certificate");
    }
  });

  it("checks the carried signatures, and never carries a grant that a prompt would take", () => {
    const bundle = bundleOf({
      ...vectors.defaults.bundle,
      issuers: [
        { key: "A", targets: ["*"] },
        { key: "B", targets: ["*"] },
      ],
    });
    const carried = carriedApprovals({ ...vectors.defaults.grant, signers: ["A", "B"] });
    const withCarried = (base64: string) => reSigned((f) => (f.extensions[APPROVALS_EXTENSION] = base64));
    expect(codeOf(decodeCertificateClaims(withCarried(carried)), bundle, context)).toBe("allowed");
    const bytes = Buffer.from(carried, "base64");
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    expect(codeOf(decodeCertificateClaims(withCarried(bytes.toString("base64"))), bundle, context)).toBe(
      "bad-signature",
    );
    // The issuer's signature over the body is not in the extension: what it holds is no grant.
    expect(() => decodeGrant(new Uint8Array(Buffer.from(carried, "base64")))).toThrow(
      /first signature is not by the grant's issuer/,
    );
    // The issuer's signature put back is refused, and so is a body another issuer made, under this CA.
    const whole = Buffer.from(grantBinary({ ...vectors.defaults.grant, signers: ["A", "B"] })).toString("base64");
    expect(codeOf(decodeCertificateClaims(withCarried(whole)), bundle, context)).toBe("malformed-certificate");
    const others = carriedApprovals({ ...vectors.defaults.grant, signers: ["B", "A"] });
    expect(codeOf(decodeCertificateClaims(withCarried(others)), bundle, context)).toBe("unknown-issuer");
  });

  it("reads the grant id, its uses and its target from the key id, in one spelling only", () => {
    const id = spec.grantId;
    const claims = decodeCertificateClaims(reSigned((f) => (f.keyId = `${id}/255@group:dbs`)));
    expect(claims).toMatchObject({ grantId: id, maxUses: 255, target: { kind: "group", name: "dbs" } });
    for (const keyId of [
      id,
      `${id}/1@db1.example`,
      `${id}/02@db1.example`,
      `${id}/256@db1.example`,
      `${id}@DB1.example`,
      `${id}@`,
      `${id}@group:`,
      `${id.toUpperCase()}@db1.example`,
      "alice",
    ]) {
      expect(codeOf(decodeCertificateClaims(reSigned((f) => (f.keyId = keyId))), bundle, context), keyId).toBe(
        "malformed-certificate",
      );
    }
  });

  it("refuses rights no grant gives and critical options no grant carries", () => {
    const forwarding = reSigned((f) => (f.extensions = { "permit-port-forwarding": "", "permit-pty": "" }));
    expect(codeOf(decodeCertificateClaims(forwarding), bundle, context)).toBe("malformed-certificate");
    const unknown = reSigned((f) => (f.criticalOptions = { "verify-required": "" }));
    expect(codeOf(decodeCertificateClaims(unknown), bundle, context)).toBe("constraint-unenforceable");
  });

  it("reads min-trust-version@airgrant in one decimal spelling of 1..2^32-1, and no data on permit-pty", () => {
    const withExtensions = (extensions: Record<string, string>) =>
      decodeCertificateClaims(reSigned((f) => (f.extensions = extensions)));
    expect(withExtensions({ [MIN_TRUST_VERSION_EXTENSION]: "7", "permit-pty": "" })).toMatchObject({
      minTrustVersion: 7,
    });
    for (const value of ["", "0", "07", "+7", "7 ", "4294967296", "1e3", "x"]) {
      expect(
        codeOf(withExtensions({ [MIN_TRUST_VERSION_EXTENSION]: value, "permit-pty": "" }), bundle, context),
        value,
      ).toBe("malformed-certificate");
    }
    expect(codeOf(withExtensions({ "permit-pty": "yes" }), bundle, context)).toBe("malformed-certificate");
  });

  it("refuses a forever certificate and an inverted one on their lifetime", () => {
    const forever = reSigned((f) => (f.validBefore = 0xffff_ffff_ffff_ffffn));
    expect(codeOf(decodeCertificateClaims(forever), bundle, context)).toBe("grant-lifetime-exceeded");
    const inverted = reSigned((f) => {
      f.validAfter = BigInt(spec.notAfter);
      f.validBefore = BigInt(spec.notBefore);
    });
    expect(codeOf(decodeCertificateClaims(inverted), bundle, context)).toBe("grant-lifetime-exceeded");
  });

  it("refuses a certificate whose key type is not the one sshd names", () => {
    const blob = certificate(spec, false);
    expect(codeOf(decodeCertificateClaims(blob, "ssh-rsa-cert-v01@openssh.com"), bundle, context)).toBe(
      "malformed-certificate",
    );
    expect(codeOf(decodeCertificateClaims(blob, "ssh-ed25519-cert-v01@openssh.com"), bundle, context)).toBe("allowed");
  });

  it("gives a verdict, never an exception, for any bytes and any mutation of a good certificate", () => {
    // One that carries approvals, so mutations reach approvals@airgrant too.
    const good = certificate({ ...spec, signers: ["A", "B"] }, true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(codeOf(decodeCertificateClaims(bytes), bundle, context)).not.toBe("allowed");
      }),
    );
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const blob = good.slice();
        blob[at] = (blob[at] as number) ^ xor;
        expect(typeof codeOf(decodeCertificateClaims(blob), bundle, context)).toBe("string");
      }),
    );
  });
});

describe("the grant text carrier", () => {
  const spec = vectors.defaults.grant;
  const bundle = bundleOf(vectors.defaults.bundle);
  const context = contextOf(vectors.defaults.context);

  it("accepts the text as a person types it", () => {
    const text = new TextDecoder().decode(grantText(spec)).toLowerCase().replaceAll("-", " ");
    expect(codeOf(decodeGrantClaims(new TextEncoder().encode(text)), bundle, context)).toBe("allowed");
  });

  it("decodes the grant before it judges the user: garbage is malformed whoever asks", () => {
    const garbage = new TextEncoder().encode("not a grant");
    expect(codeOf(decodeGrantClaims(garbage), bundle, { ...context, user: "Not A User" })).toBe("malformed-grant");
  });

  it("refuses tampered signatures, and a signature claiming the other algorithm", () => {
    const bytes = grantBinary(spec);
    const text = (b: Uint8Array) => new TextEncoder().encode(encodeGrantText(b));
    for (const index of [5, 30, bytes.length - 5]) {
      const flipped = Uint8Array.from(bytes);
      flipped[index] = (flipped[index] as number) ^ 1;
      expect(codeOf(decodeGrantClaims(text(flipped)), bundle, context), `flip at ${index}`).toBe("bad-signature");
    }
    const otherAlgorithm = Uint8Array.from(bytes);
    otherAlgorithm[bytes.length - 65] = 1;
    expect(codeOf(decodeGrantClaims(text(otherAlgorithm)), bundle, context)).toBe("bad-signature");
  });

  it("refuses garbage with a parse code, never an exception", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        expect(["malformed-grant", "bad-checksum", "unsupported-version"]).toContain(
          codeOf(decodeGrantClaims(bytes), bundle, context),
        );
      }),
    );
    expect(codeOf(decodeGrantClaims(grantText(spec), true), bundle, context)).toBe("malformed-grant");
  });
});

describe("approvals", () => {
  const issuer = makeTestIssuer();
  const [bob, carol, bobSpare] = [makeTestIssuer(), makeTestIssuer("ed25519"), makeTestIssuer()];
  const bundle = makeSignedBundle([issuer], {
    trustVersion: 1,
    roots: [makeTestIssuer()],
    threshold: 1,
    overrides: {
      groups: { prod: ["db1.example"] },
      approvals: {
        approvers: [
          trustedApprover(bob, "bob"),
          trustedApprover(carol, "carol", ["group:prod"]),
          trustedApprover(bobSpare, "bob"),
        ],
        policy: [{ target: "group:prod", approvals: 2 }],
      },
    },
  });
  const context: RuleContext = { user: "alice", host: "db1.example", now: T0 + 60, clockBehind: 0 };
  const fields = testFields(issuer, { target: { kind: "group", name: "prod" } });
  const decide = (bytes: Uint8Array) => {
    const claims = decodeGrantClaims(new TextEncoder().encode(encodeGrantText(bytes)));
    if ("code" in claims) throw new Error(claims.message);
    return decideGrant(claims, bundle, context);
  };

  it("lets a grant in with two officers' approvals and names them, the issuer apart", () => {
    const decision = decide(makeGrantBytes(fields, [issuer, bob, carol]));
    expect(decision.allowed).toBe(true);
    expect(decision.signers.map((s) => s.keyId)).toEqual([toHex(issuer.keyId)]);
    expect(decision.approvals.map((a) => a.officer)).toEqual(["bob", "carol"]);
  });

  it("says how many counted, how many are needed, and why each other did not count", () => {
    const decision = decide(makeGrantBytes(fields, [issuer, bob, bobSpare]));
    expect(decision.allowed).toBe(false);
    if (decision.allowed) return;
    expect(decision.code).toBe("not-enough-approvals");
    expect(decision.message).toContain(
      "1 approval(s) that count; host 'db1.example' needs 2 (approvalPolicy 'group:prod')",
    );
    expect(decision.message).toContain(`officer bob (key ${toHex(bobSpare.keyId)}) approved it already`);
    const other = decide(
      makeGrantBytes({ ...fields, target: { kind: "host", name: "db1.example" } }, [issuer, bob, carol]),
    );
    expect(other.allowed ? "" : other.message).toContain(
      `officer carol (key ${toHex(carol.keyId)}) may not approve db1.example`,
    );
  });

  it("does not count an approval whose signature does not verify", () => {
    const bytes = makeGrantBytes(fields, [issuer, bob, carol]);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    const decision = decide(bytes);
    expect(decision.allowed ? "allowed" : decision.code).toBe("not-enough-approvals");
    expect(decision.allowed ? "" : decision.message).toContain(
      `signature by key ${toHex(carol.keyId)} does not verify`,
    );
  });

  it("does not count the approval of the officer the grant lets in", () => {
    const forBob = { ...fields, principal: "bob" };
    const decision = decideGrantFor(makeGrantBytes(forBob, [issuer, bob, carol]), "bob");
    expect(decision.allowed ? "" : decision.message).toContain("officer bob");
    expect(decision.allowed ? "" : decision.message).toContain("is the account it grants");
  });

  it("refuses a signature by a key neither issuer nor approver as before", () => {
    const stranger = makeTestIssuer();
    const decision = decide(makeGrantBytes(fields, [issuer, stranger]));
    expect(decision.allowed ? "" : decision.code).toBe("unknown-issuer");
  });

  function decideGrantFor(bytes: Uint8Array, user: string) {
    const claims = decodeGrantClaims(new TextEncoder().encode(encodeGrantText(bytes)));
    if ("code" in claims) throw new Error(claims.message);
    return decideGrant(claims, bundle, { ...context, user });
  }
});
