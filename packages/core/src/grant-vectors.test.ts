// Conformance against test/vectors/grant-v1.json (keys from RFC 8032 §7.1 and
// RFC 6979 A.2.5), and the by-hand recipe of docs/grant-format.md run with
// python3 and openssl on the same vectors.
import { execFileSync, spawnSync } from "node:child_process";
import { createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AirgrantError } from "./airgrant-error.js";
import { decodeGrant, encodeGrantBody } from "./grant-codec.js";
import { decodeGrantText } from "./grant-text.js";
import { toHex } from "./hex.js";
import { importPublicKey, keyIdOf, type SignatureAlgorithm, verifySignature } from "./signature-algorithm.js";

interface Vectors {
  keys: Record<SignatureAlgorithm, { spkiBase64: string; keyId: string; seedHex?: string }>;
  valid: {
    name: string;
    algorithm: SignatureAlgorithm;
    fields: Record<string, unknown>;
    bodyHex: string;
    grantHex: string;
    text: string;
  }[];
  invalid: { name: string; text: string; code: string }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("../../../test/vectors/grant-v1.json", import.meta.url), "utf8"),
) as Vectors;
const docs = readFileSync(new URL("../../../docs/grant-format.md", import.meta.url), "utf8");
/** The openssl commands exactly as docs/grant-format.md gives them. */
function documentedCommand(prefix: string): string[] {
  const line = docs.split("\n").find((l) => l.startsWith(`openssl ${prefix}`));
  if (line === undefined) throw new Error(`docs/grant-format.md has no 'openssl ${prefix}' line`);
  return line.split(" ").slice(1);
}
const ED25519_VERIFY = documentedCommand("pkeyutl -verify");
const ECDSA_VERIFY = documentedCommand("dgst -sha256");
const spkiOf = (alg: SignatureAlgorithm) => new Uint8Array(Buffer.from(vectors.keys[alg].spkiBase64, "base64"));

describe("grant format vectors", () => {
  it("key ids are the first 8 bytes of SHA-256 over the SPKI", () => {
    for (const alg of ["ed25519", "ecdsa-p256-sha256"] as const) {
      expect(toHex(keyIdOf(spkiOf(alg)))).toBe(vectors.keys[alg].keyId);
    }
  });

  it.each(vectors.valid)("$name: decodes, re-encodes and verifies", (v) => {
    const bytes = decodeGrantText(v.text);
    expect(toHex(bytes)).toBe(v.grantHex);
    const grant = decodeGrant(bytes);
    expect(toHex(grant.signedBytes)).toBe(v.bodyHex);
    expect(toHex(grant.grantId)).toBe(v.fields.grantId);
    expect(grant.principal).toBe(v.fields.principal);
    expect(grant.minTrustVersion).toBe(v.fields.minTrustVersion);
    expect(toHex(encodeGrantBody(grant))).toBe(v.bodyHex);
    const sig = grant.signatures[0];
    expect(sig?.algorithm).toBe(v.algorithm);
    const key = importPublicKey(v.algorithm, spkiOf(v.algorithm));
    expect(sig && verifySignature(v.algorithm, key, grant.signedBytes, sig.signature)).toBe(true);
  });

  it("Ed25519 signatures are re-created exactly from the RFC 8032 key", () => {
    const seed = Buffer.from(vectors.keys.ed25519.seedHex ?? "", "hex");
    const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
    const key = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
    for (const v of vectors.valid.filter((x) => x.algorithm === "ed25519")) {
      const signature = sign(null, Buffer.from(v.bodyHex, "hex"), key).toString("hex");
      expect(v.grantHex.endsWith(signature)).toBe(true);
    }
  });

  it.each(vectors.invalid)("$name: refused with $code", (v) => {
    let code: string | undefined;
    try {
      const grant = decodeGrant(decodeGrantText(v.text));
      const sig = grant.signatures[0];
      const ok =
        sig &&
        verifySignature(
          sig.algorithm,
          importPublicKey(sig.algorithm, spkiOf(sig.algorithm)),
          grant.signedBytes,
          sig.signature,
        );
      code = ok ? undefined : "bad-signature";
    } catch (err) {
      code = (err as AirgrantError).code;
    }
    expect(code).toBe(v.code);
  });
});

describe("docs/grant-format.md recipe", () => {
  const dir = mkdtempSync(join(tmpdir(), "airgrant-recipe-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const script = /```python\n([\s\S]*?)```/.exec(docs)?.[1] ?? "";
  writeFileSync(join(dir, "decode_grant.py"), script);

  it.each(vectors.valid)("$name: python decodes it and openssl verifies the signature", (v) => {
    const out = execFileSync("python3", [join(dir, "decode_grant.py")], { cwd: dir, input: v.text.toLowerCase() });
    const decoded = JSON.parse(out.toString());
    expect(decoded.grantId).toBe(v.fields.grantId);
    expect(decoded.principal).toBe(v.fields.principal);
    expect(decoded.minTrustVersion).toBe(v.fields.minTrustVersion);
    expect(decoded.signatures[0].keyId).toBe(vectors.keys[v.algorithm].keyId);
    expect(readFileSync(join(dir, "body.bin")).toString("hex")).toBe(v.bodyHex);
    writeFileSync(join(dir, "issuer.der"), spkiOf(v.algorithm));
    execFileSync("openssl", ["pkey", "-pubin", "-inform", "DER", "-in", "issuer.der", "-out", "issuer.pem"], {
      cwd: dir,
    });
    const verify = v.algorithm === "ed25519" ? ED25519_VERIFY : ECDSA_VERIFY;
    expect(execFileSync("openssl", verify, { cwd: dir }).toString()).toMatch(
      /Verified OK|Signature Verified Successfully/,
    );
  });

  it("python refuses a typo and openssl refuses a tampered body", () => {
    const typo = vectors.invalid.find((v) => v.code === "bad-checksum")?.text ?? "";
    expect(() =>
      execFileSync("python3", [join(dir, "decode_grant.py")], { cwd: dir, input: typo, stdio: "pipe" }),
    ).toThrow(/typo in group 1/);
    const tampered = vectors.invalid.find((v) => v.code === "bad-signature")?.text ?? "";
    execFileSync("python3", [join(dir, "decode_grant.py")], { cwd: dir, input: tampered });
    writeFileSync(join(dir, "issuer.der"), spkiOf("ed25519"));
    const r = spawnSync("openssl", ED25519_VERIFY, { cwd: dir, encoding: "utf8" });
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/Signature Verification Failure/);
  });
});
