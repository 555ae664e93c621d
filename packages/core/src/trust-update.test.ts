import {
  codeOf,
  ecdsaTwin,
  makeBundleBytes,
  makeSignedBundle,
  makeSignedBundleBytes,
  makeTestIssuer,
  type SignedBundleSpec,
  T0,
} from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AirgrantError } from "./airgrant-error.js";
import { decodeSignedTrustBundle, decodeTrustBundle } from "./trust-bundle.js";
import { assembleSignedTrustBundle, encodeSignedTrustContent, type SignedTrustBundleFile } from "./trust-bundle-v2.js";
import { acceptSignedTrustBundle, walkTrustChain } from "./trust-update.js";

const issuer = makeTestIssuer("ecdsa-p256-sha256");
const [r1, r2, r3] = [makeTestIssuer("ecdsa-p256-sha256"), makeTestIssuer("ed25519"), makeTestIssuer()];
const [n1, n2] = [makeTestIssuer(), makeTestIssuer("ed25519")];
const oldRoots = { roots: [r1, r2, r3], threshold: 2 };
const newRoots = { roots: [n1, n2], threshold: 2 };
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = (s: string) => new TextEncoder().encode(s);

function file(spec: SignedBundleSpec): SignedTrustBundleFile {
  return decodeSignedTrustBundle(makeSignedBundleBytes([issuer], spec));
}

const v1 = file({ trustVersion: 1, ...oldRoots });
const installed = v1.bundle;

describe("version 2 trust bundle encoding", () => {
  it("round-trips, and signs the bytes of `signed` as they stand in the file", () => {
    const bytes = makeSignedBundleBytes([issuer], { trustVersion: 7, ...oldRoots });
    const decoded = decodeSignedTrustBundle(bytes);
    expect(decoded.bundle.signedTrust.trustVersion).toBe(7);
    expect(decoded.bundle.requiredSignatures).toBe(1);
    expect(decoded.signatures).toHaveLength(3);
    expect(text(bytes)).toMatch(/^\{"signatures":\[\{"keyId":"[0-9a-f]{16}","signature":"/);
    expect(text(bytes).endsWith(`"signed":${text(decoded.signedBytes)}}\n`)).toBe(true);
    expect(decoded.signedBytes).toEqual(encodeSignedTrustContent(decoded.bundle));
    expect(decodeTrustBundle(bytes).signedTrust?.roots.threshold).toBe(2);
  });

  it("refuses a malformed optional member and an unknown one as malformed", () => {
    const good = JSON.parse(text(makeSignedBundleBytes([issuer], { trustVersion: 1, ...oldRoots })));
    const withMember = (name: string, value: unknown) => {
      const o = structuredClone(good);
      o.signed[name] = value;
      return codeOf(() => decodeTrustBundle(loose(o)));
    };
    expect(withMember("approvalPolicy", [])).toBe("malformed-bundle");
    expect(withMember("approvers", [])).toBe("malformed-bundle");
    expect(withMember("requestPolicy", {})).toBe("malformed-bundle");
    expect(withMember("requiredSignatures", 1)).toBe("malformed-bundle");
    expect(withMember("extra", 1)).toBe("malformed-bundle");
    expect(withMember("onExpiry", "ignore")).toBe("malformed-bundle");
    expect(withMember("expires", good.signed.created)).toBe("malformed-bundle");
    expect(withMember("trustVersion", 0)).toBe("malformed-bundle");
    expect(withMember("roots", { keys: good.signed.roots.keys, threshold: 4 })).toBe("malformed-bundle");
    expect(withMember("roots", { keys: [...good.signed.roots.keys].reverse(), threshold: 1 })).toBe("malformed-bundle");
    const top = structuredClone(good);
    top.extra = 1;
    expect(codeOf(() => decodeTrustBundle(loose(top)))).toBe("malformed-bundle");
  });

  it('carries a request policy (docs/requests.md, "Policy"), checked member by member', () => {
    const requestPolicy = { required: ["db1.example", "group:dbs"], lifetime: 1800, maxPendingPerHost: 8 };
    const bytes = makeSignedBundleBytes([issuer], { trustVersion: 1, ...oldRoots, overrides: { requestPolicy } });
    const decoded = decodeSignedTrustBundle(bytes);
    expect(decoded.bundle.requestPolicy).toEqual(requestPolicy);
    expect(decoded.signedBytes).toEqual(encodeSignedTrustContent(decoded.bundle));
    expect(
      decodeSignedTrustBundle(makeSignedBundleBytes([issuer], { trustVersion: 1, ...oldRoots })).bundle.requestPolicy,
    ).toBeUndefined();
    const good = JSON.parse(text(bytes));
    const withPolicy = (policy: unknown) => {
      const o = structuredClone(good);
      o.signed.requestPolicy = policy;
      return codeOf(() => decodeTrustBundle(loose(o)));
    };
    expect(withPolicy({ ...requestPolicy, required: ["*"] })).toBeUndefined();
    expect(withPolicy({ ...requestPolicy, lifetime: 59 })).toBe("malformed-bundle");
    expect(withPolicy({ ...requestPolicy, lifetime: 86_401 })).toBe("malformed-bundle");
    expect(withPolicy({ ...requestPolicy, maxPendingPerHost: 0 })).toBe("malformed-bundle");
    expect(withPolicy({ ...requestPolicy, required: ["group:dbs", "db1.example"] })).toBe("malformed-bundle");
    expect(withPolicy({ ...requestPolicy, required: ["DB1.example"] })).toBe("malformed-bundle");
    expect(withPolicy({ ...requestPolicy, maxPendingPerAccount: 1 })).toBe("malformed-bundle");
    const v1bundle = JSON.parse(text(makeBundleBytes([issuer])));
    v1bundle.requestPolicy = requestPolicy;
    expect(codeOf(() => decodeTrustBundle(loose(v1bundle)))).toBe("malformed-bundle");
  });

  it("refuses a key that is both a root and an issuer", () => {
    expect(codeOf(() => makeSignedBundleBytes([issuer], { trustVersion: 1, roots: [issuer], threshold: 1 }))).toBe(
      "malformed-bundle",
    );
  });

  it("takes retireAt in version 2 only, within the key's validity", () => {
    const [plain] = makeSignedBundle([issuer], { trustVersion: 1, ...oldRoots }).issuers;
    if (plain === undefined) throw new Error("makeSignedBundle made no issuer");
    const retiring = (retireAt: number) => ({
      trustVersion: 1,
      ...oldRoots,
      overrides: { issuers: [{ ...plain, retireAt }] },
    });
    const ok = decodeSignedTrustBundle(makeSignedBundleBytes([issuer], retiring(T0)));
    expect(ok.bundle.issuers[0]?.retireAt).toBe(T0);
    expect(codeOf(() => makeSignedBundleBytes([issuer], retiring(plain.notAfter)))).toBe("malformed-bundle");
    expect(codeOf(() => makeSignedBundleBytes([issuer], retiring(plain.notBefore - 1)))).toBe("malformed-bundle");
    const v1Text = JSON.parse(text(makeBundleBytes([issuer])));
    v1Text.issuers[0].retireAt = T0;
    expect(codeOf(() => decodeTrustBundle(loose(v1Text)))).toBe("malformed-bundle");
  });

  it("refuses a version 1 file where a signed bundle is needed as bundle-unsigned", () => {
    expect(codeOf(() => decodeSignedTrustBundle(makeBundleBytes([issuer])))).toBe("bundle-unsigned");
    expect(codeOf(() => decodeSignedTrustBundle(bytesOf("{}\n")))).toBe("malformed-bundle");
  });

  it("decodes any mutation of a good file to a file that re-assembles to it, or refuses it with a bundle code", () => {
    const good = makeSignedBundleBytes([issuer], { trustVersion: 3, ...oldRoots });
    const check = (bytes: Uint8Array) => {
      try {
        const decoded = decodeSignedTrustBundle(bytes);
        expect(assembleSignedTrustBundle(decoded.signedBytes, decoded.signatures)).toEqual(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(AirgrantError);
        expect((err as AirgrantError).code).toBe("malformed-bundle");
      }
    };
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bytes = good.slice();
        bytes[at] = (bytes[at] as number) ^ xor;
        check(bytes);
      }),
    );
    fc.assert(
      fc.property(fc.nat(good.length), fc.string({ maxLength: 12 }), (at, inserted) => {
        check(bytesOf(`${text(good.subarray(0, at))}${inserted}${text(good.subarray(at))}`));
      }),
    );
  });
});

describe("accepting a signed bundle", () => {
  it("pins a first bundle signed by a threshold of its own roots, and refuses one that is not", () => {
    expect(codeOf(() => acceptSignedTrustBundle(undefined, v1))).toBeUndefined();
    const v1Installed = decodeTrustBundle(makeBundleBytes([issuer]));
    expect(codeOf(() => acceptSignedTrustBundle(v1Installed, v1))).toBeUndefined();
    const oneSignature = file({ trustVersion: 1, ...oldRoots, signers: [r1] });
    expect(codeOf(() => acceptSignedTrustBundle(undefined, oneSignature))).toBe("not-enough-root-signatures");
    const unsigned = file({ trustVersion: 1, ...oldRoots, signers: [] });
    expect(codeOf(() => acceptSignedTrustBundle(v1Installed, unsigned))).toBe("not-enough-root-signatures");
  });

  it("applies a greater trust version signed by 2 of the 3 installed roots", () => {
    expect(
      codeOf(() => acceptSignedTrustBundle(installed, file({ trustVersion: 2, ...oldRoots, signers: [r1, r3] }))),
    ).toBeUndefined();
  });

  it("refuses the same version again and an older one as bundle-rollback, however well signed", () => {
    const v3 = file({ trustVersion: 3, ...oldRoots });
    expect(codeOf(() => acceptSignedTrustBundle(installed, v1))).toBe("bundle-rollback");
    expect(codeOf(() => acceptSignedTrustBundle(v3.bundle, file({ trustVersion: 2, ...oldRoots })))).toBe(
      "bundle-rollback",
    );
  });

  it("refuses too few installed roots, a key that is not a root, and a changed byte", () => {
    expect(
      codeOf(() => acceptSignedTrustBundle(installed, file({ trustVersion: 2, ...oldRoots, signers: [r2] }))),
    ).toBe("not-enough-root-signatures");
    // Signed by a threshold of keys it names as roots itself, none of them installed: a forged bundle.
    const forged = file({ trustVersion: 2, roots: [n1, r2], threshold: 1, signers: [n1] });
    expect(codeOf(() => acceptSignedTrustBundle(installed, forged))).toBe("not-enough-root-signatures");
    const good = makeSignedBundleBytes([issuer], { trustVersion: 2, ...oldRoots });
    const changed = bytesOf(text(good).replace('"maxLifetime":28800', '"maxLifetime":28801'));
    expect(changed).not.toEqual(good);
    expect(codeOf(() => acceptSignedTrustBundle(installed, decodeSignedTrustBundle(changed)))).toBe(
      "not-enough-root-signatures",
    );
  });

  it("does not count the high-S twin of an ECDSA signature", () => {
    const good = decodeSignedTrustBundle(
      makeSignedBundleBytes([issuer], { trustVersion: 2, ...oldRoots, signers: [r1, r3] }),
    );
    const twins = good.signatures.map((s) => ({ ...s, signature: ecdsaTwin(s.signature) }));
    const twinned = decodeSignedTrustBundle(assembleSignedTrustBundle(good.signedBytes, twins));
    expect(codeOf(() => acceptSignedTrustBundle(installed, twinned))).toBe("not-enough-root-signatures");
  });

  it("takes a root rotation only when signed by a threshold of the old roots and of the new", () => {
    const rotation = (signers: (typeof r1)[]) => file({ trustVersion: 2, ...newRoots, signers });
    expect(codeOf(() => acceptSignedTrustBundle(installed, rotation([r1, r2])))).toBe("root-rotation-unsigned");
    expect(codeOf(() => acceptSignedTrustBundle(installed, rotation([n1, n2])))).toBe("not-enough-root-signatures");
    expect(codeOf(() => acceptSignedTrustBundle(installed, rotation([r1, r2, n1])))).toBe("root-rotation-unsigned");
    expect(codeOf(() => acceptSignedTrustBundle(installed, rotation([r1, r2, n1, n2])))).toBeUndefined();
  });
});

describe("a chain of signed bundles", () => {
  const rotated = file({ trustVersion: 2, ...newRoots, signers: [r1, r2, n1, n2] });
  const v3 = file({ trustVersion: 3, ...newRoots });
  const v4 = file({ trustVersion: 4, ...newRoots, signers: [n1, n2] });

  it("walks a host three versions behind forward through a root rotation, in trust version order", () => {
    const chain = walkTrustChain(installed, [v4, rotated, v3]);
    expect(chain.applied.map((f) => f.bundle.signedTrust.trustVersion)).toEqual([2, 3, 4]);
    expect(chain.passedOver).toEqual([]);
  });

  it("refuses the file after a rotation without the rotation, and the whole chain when one step fails", () => {
    expect(codeOf(() => walkTrustChain(installed, [v3]))).toBe("not-enough-root-signatures");
    const badStep = file({ trustVersion: 3, ...newRoots, signers: [n1] });
    expect(codeOf(() => walkTrustChain(installed, [rotated, badStep, v4]))).toBe("not-enough-root-signatures");
  });

  it("passes over the versions the host has, refuses a chain with none newer, and two files of one version", () => {
    const chain = walkTrustChain(v3.bundle, [rotated, v3, v4]);
    expect(chain.applied.map((f) => f.bundle.signedTrust.trustVersion)).toEqual([4]);
    expect(chain.passedOver).toEqual([2, 3]);
    expect(codeOf(() => walkTrustChain(v4.bundle, [rotated, v3, v4]))).toBe("bundle-rollback");
    expect(codeOf(() => walkTrustChain(installed, [v3, file({ trustVersion: 3, ...newRoots })]))).toBe("bad-input");
    expect(codeOf(() => walkTrustChain(installed, []))).toBe("bad-input");
  });
});

/** Canonical JSON of an arbitrary object, sorted recursively, for building invalid bundles. */
function loose(value: unknown): Uint8Array {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return bytesOf(`${JSON.stringify(sort(value))}\n`);
}
