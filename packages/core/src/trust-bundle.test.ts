import { createPublicKey, ECDH } from "node:crypto";
import { codeOf, makeBundle, makeBundleBytes, makeTestIssuer } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AirgrantError } from "./airgrant-error.js";
import { toHex } from "./hex.js";
import { keyIdOf } from "./signature-algorithm.js";
import { decodeTrustBundle, encodeTrustBundle } from "./trust-bundle.js";

const a = makeTestIssuer("ecdsa-p256-sha256");
const b = makeTestIssuer("ed25519");
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = (s: string) => new TextEncoder().encode(s);

describe("trust bundle", () => {
  it("round-trips through its canonical encoding", () => {
    const bundle = makeBundle([a, b], { revokedGrants: ["ff".repeat(16), "00".repeat(16)] });
    const bytes = encodeTrustBundle(bundle);
    const decoded = decodeTrustBundle(bytes);
    expect(decoded.issuers.map((i) => i.keyId).sort()).toEqual(bundle.issuers.map((i) => i.keyId).sort());
    expect(decoded.revokedGrants).toEqual(["00".repeat(16), "ff".repeat(16)]);
    expect(encodeTrustBundle(decoded)).toEqual(bytes);
    expect(text(bytes)).toMatch(/^\{"bundleId":"[0-9a-f]{32}","clockSkew":300,/);
  });

  it("refuses anything but the canonical bytes", () => {
    const canonical = text(makeBundleBytes([a]));
    expect(codeOf(() => decodeTrustBundle(bytesOf(canonical.slice(0, -1))))).toBe("malformed-bundle");
    expect(codeOf(() => decodeTrustBundle(bytesOf(canonical.replace('{"bundleId"', '{ "bundleId"'))))).toBe(
      "malformed-bundle",
    );
    const parsed = JSON.parse(canonical);
    expect(codeOf(() => decodeTrustBundle(bytesOf(`${JSON.stringify(parsed, null, 2)}\n`)))).toBe("malformed-bundle");
  });

  it("refuses a key id that does not match its key, unknown members and bad values", () => {
    const canonical = text(makeBundleBytes([a]));
    const mutate = (f: (o: Record<string, unknown>) => void) => {
      const o = JSON.parse(canonical);
      f(o);
      return codeOf(() => decodeTrustBundle(encodeTrustBundleLoose(o)));
    };
    expect(
      mutate((o) => {
        for (const i of o.issuers as { keyId: string }[]) i.keyId = "00".repeat(8);
      }),
    ).toBe("malformed-bundle");
    expect(mutate((o) => (o.clockSkew = -1))).toBe("malformed-bundle");
    expect(mutate((o) => (o.maxLifetime = 1.5))).toBe("malformed-bundle");
    expect(mutate((o) => (o.extra = 1))).toBe("malformed-bundle");
    expect(mutate((o) => (o.version = 2))).toBe("malformed-bundle");
    expect(mutate((o) => (o.requiredSignatures = 2))).toBe("malformed-bundle");
    expect(mutate((o) => (o.groups = { "bad group": ["h"] }))).toBe("malformed-bundle");
    expect(mutate((o) => (o.revokedGrants = ["xyz"]))).toBe("malformed-bundle");
    expect(codeOf(() => decodeTrustBundle(new Uint8Array([0xff, 0xfe, 0x0a])))).toBe("malformed-bundle");
  });
});

describe("one key, one encoding", () => {
  /** The same P-256 key as a DER SPKI with its point compressed (SEC 1, 2.3.3): 33 bytes instead of 65. */
  function compressedSpki(spki: Uint8Array): Uint8Array {
    const point = new Uint8Array(spki.subarray(spki.length - 65));
    const compressed = ECDH.convertKey(point, "prime256v1", undefined, undefined, "compressed") as Buffer;
    const prefix = Buffer.from("3039301306072a8648ce3d020106082a8648ce3d030107032200", "hex");
    return new Uint8Array(Buffer.concat([prefix, compressed]));
  }

  it("refuses a bundle listing one P-256 key both uncompressed and compressed", () => {
    const compressed = compressedSpki(a.spki);
    // Node reads both as the same key, under two key ids: the attack is real.
    const asJwk = (spki: Uint8Array) =>
      createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }).export({ format: "jwk" });
    expect(asJwk(compressed)).toEqual(asJwk(a.spki));
    expect(toHex(keyIdOf(compressed))).not.toBe(toHex(keyIdOf(a.spki)));

    const o = JSON.parse(text(makeBundleBytes([a])));
    const twin = {
      ...o.issuers[0],
      keyId: toHex(keyIdOf(compressed)),
      publicKey: Buffer.from(compressed).toString("base64"),
    };
    o.issuers = [...o.issuers, twin].sort((x: { keyId: string }, y: { keyId: string }) => (x.keyId < y.keyId ? -1 : 1));
    o.requiredSignatures = 2;
    expect(codeOf(() => decodeTrustBundle(encodeTrustBundleLoose(o)))).toBe("malformed-bundle");
    o.issuers = [twin];
    o.requiredSignatures = 1;
    expect(codeOf(() => decodeTrustBundle(encodeTrustBundleLoose(o)))).toBe("malformed-bundle");
  });

  it("refuses an SPKI with anything after the key, for both algorithms", () => {
    for (const issuer of [a, b]) {
      const o = JSON.parse(text(makeBundleBytes([issuer])));
      const padded = Uint8Array.from([...issuer.spki, 0]);
      o.issuers[0].publicKey = Buffer.from(padded).toString("base64");
      o.issuers[0].keyId = toHex(keyIdOf(padded));
      expect(
        codeOf(() => decodeTrustBundle(encodeTrustBundleLoose(o))),
        issuer.algorithm,
      ).toBe("malformed-bundle");
    }
  });
});

/** Canonical JSON of an arbitrary object, sorted recursively, for building invalid bundles. */
function encodeTrustBundleLoose(value: unknown): Uint8Array {
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

describe("trust bundle decoder under hostile input", () => {
  it("decodes any bytes and any mutation of a good bundle to a bundle that re-encodes to them, or to malformed-bundle", () => {
    const good = makeBundleBytes([a, b]);
    const check = (bytes: Uint8Array) => {
      try {
        expect(encodeTrustBundle(decodeTrustBundle(bytes))).toEqual(bytes);
      } catch (err) {
        expect(err).toBeInstanceOf(AirgrantError);
        expect((err as AirgrantError).code).toBe("malformed-bundle");
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => check(bytes)));
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
