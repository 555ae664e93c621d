import { execFile, execFileSync } from "node:child_process";
import { createCipheriv, createPublicKey, randomBytes, verify } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { AirgrantError, isLowS } from "@airgrant/core";
import { p1363ToDer, spkiToPem } from "@airgrant/testkit";
import { makeTestToken, TEST_PIN, type TestToken } from "@airgrant/testkit/token";
import pkcs11js from "pkcs11js";
import { afterEach, describe, expect, it } from "vitest";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { findPkcs11Module } from "./pkcs11-module-path.js";
import { openToken, type TokenSession } from "./token-session.js";

const modulePath = findPkcs11Module();
const repositoryRoot = fileURLToPath(new URL("../../..", import.meta.url));
const message = new TextEncoder().encode("grant: alice@db-01 for 30m, reason: patch CVE");

let token: TestToken<TokenSession> | undefined;
afterEach(() => {
  token?.remove();
  token = undefined;
});

function newToken(label?: string): TestToken<TokenSession> {
  token = makeTestToken(openToken, modulePath, label);
  return token;
}

function thrownBy(run: () => unknown): AirgrantError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(AirgrantError);
    return err as AirgrantError;
  }
  throw new Error("expected an AirgrantError");
}

/**
 * A raw pkcs11js session on the test token, below our API, to look at what a
 * generated key really is. Only while no TokenSession is open: it finalises the module.
 */
function withRawSession<T>(tokenLabel: string, run: (pkcs11: pkcs11js.PKCS11, session: Buffer) => T): T {
  const pkcs11 = new pkcs11js.PKCS11();
  pkcs11.load(modulePath);
  pkcs11.C_Initialize();
  try {
    const slot = pkcs11.C_GetSlotList(true).find((s) => pkcs11.C_GetTokenInfo(s).label.trimEnd() === tokenLabel);
    if (slot === undefined) throw new Error(`no token ${tokenLabel}`);
    const session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    pkcs11.C_Login(session, pkcs11js.CKU_USER, TEST_PIN);
    return run(pkcs11, session);
  } finally {
    pkcs11.C_Finalize();
    pkcs11.close();
  }
}

function findByLabel(pkcs11: pkcs11js.PKCS11, session: Buffer, objectClass: number, label: string): Buffer {
  pkcs11.C_FindObjectsInit(session, [
    { type: pkcs11js.CKA_CLASS, value: objectClass },
    { type: pkcs11js.CKA_LABEL, value: label },
  ]);
  const handle = pkcs11.C_FindObjects(session);
  pkcs11.C_FindObjectsFinal(session);
  if (handle === null) throw new Error(`no object ${label}`);
  return handle;
}

function booleanAttribute(pkcs11: pkcs11js.PKCS11, session: Buffer, handle: Buffer, type: number): boolean {
  const [result] = pkcs11.C_GetAttributeValue(session, handle, [{ type }]);
  return result?.value[0] === 1;
}

function verifyWithNode(alg: IssuerKeyAlg, spki: Uint8Array, signature: Uint8Array): boolean {
  const key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  return alg === "ecdsa-p256"
    ? verify("sha256", message, { key, dsaEncoding: "ieee-p1363" }, signature)
    : verify(null, message, key, signature);
}

/** Verifies with the openssl CLI from the PEM of the exported key, as an auditor would. */
function verifyWithOpenssl(dir: string, alg: IssuerKeyAlg, spki: Uint8Array, signature: Uint8Array): string {
  const pem = join(dir, "issuer.pem");
  const msg = join(dir, "message.bin");
  const sig = join(dir, "signature.bin");
  writeFileSync(pem, spkiToPem(spki));
  writeFileSync(msg, message);
  if (alg === "ecdsa-p256") {
    writeFileSync(sig, p1363ToDer(signature));
    return execFileSync("openssl", ["dgst", "-sha256", "-verify", pem, "-signature", sig, msg], { encoding: "utf8" });
  }
  writeFileSync(sig, signature);
  return execFileSync(
    "openssl",
    ["pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", msg, "-sigfile", sig],
    {
      encoding: "utf8",
    },
  );
}

describe.each<IssuerKeyAlg>(["ecdsa-p256", "ed25519"])("issuer key %s", (alg) => {
  it("is generated on the token once and found again, with the same public key", () => {
    const t = newToken();
    const first = t.open().findOrCreateIssuerKey({ label: "airgrant-issuer", alg, create: true });
    expect(first.created).toBe(true);
    expect(first.publicKeySpki.length).toBe(alg === "ecdsa-p256" ? 91 : 44);
    const again = t.open().findOrCreateIssuerKey({ label: "airgrant-issuer", alg, create: true });
    expect(again).toEqual({ ...first, created: false });
    const lookup = t.open().findOrCreateIssuerKey({ label: "airgrant-issuer", alg, create: false });
    expect(lookup.publicKeySpki).toEqual(first.publicKeySpki);
  });

  it("cannot be read out of the token", () => {
    const t = newToken();
    const session = t.open();
    session.findOrCreateIssuerKey({ label: "airgrant-issuer", alg, create: true });
    session.close();
    withRawSession(t.tokenLabel, (pkcs11, raw) => {
      const key = findByLabel(pkcs11, raw, pkcs11js.CKO_PRIVATE_KEY, "airgrant-issuer");
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_TOKEN)).toBe(true);
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_PRIVATE)).toBe(true);
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_SENSITIVE)).toBe(true);
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_EXTRACTABLE)).toBe(false);
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_NEVER_EXTRACTABLE)).toBe(true);
      expect(() => pkcs11.C_GetAttributeValue(raw, key, [{ type: pkcs11js.CKA_VALUE }])).toThrow(
        /CKR_ATTRIBUTE_SENSITIVE/,
      );
      // Nor can it be made extractable afterwards (PKCS#11 v2.40 §4.9: CKA_EXTRACTABLE only goes to false).
      expect(() => pkcs11.C_SetAttributeValue(raw, key, [{ type: pkcs11js.CKA_EXTRACTABLE, value: true }])).toThrow(
        /CKR_/,
      );
    });
  });

  it("signs so that node:crypto and the openssl CLI verify the signature", () => {
    const t = newToken();
    const session = t.open();
    const { publicKeySpki } = session.findOrCreateIssuerKey({ label: "airgrant-issuer", alg, create: true });
    const signature = session.sign("airgrant-issuer", message);
    expect(signature).toBeInstanceOf(Uint8Array);
    expect(signature.length).toBe(64);
    expect(verifyWithNode(alg, publicKeySpki, signature)).toBe(true);
    expect(verifyWithOpenssl(t.dir, alg, publicKeySpki, signature)).toMatch(
      /Verified OK|Signature Verified Successfully/,
    );
    const tampered = Uint8Array.from(signature);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(verifyWithNode(alg, publicKeySpki, tampered)).toBe(false);
  });

  // Ed25519 has one signature per message already: the rule is ECDSA's.
  if (alg === "ecdsa-p256")
    it("signs with s at most n/2, the one form verifiers accept", () => {
      const session = newToken().open();
      session.findOrCreateIssuerKey({ label: "airgrant-issuer", alg, create: true });
      // The token returns s > n/2 about half the time: 24 signatures all low by chance is 2^-24.
      for (let i = 0; i < 24; i++) {
        expect(isLowS(session.sign("airgrant-issuer", Uint8Array.of(i, ...message))), `signature ${i}`).toBe(true);
      }
    });

  it("is refused under the other algorithm's name", () => {
    const other: IssuerKeyAlg = alg === "ecdsa-p256" ? "ed25519" : "ecdsa-p256";
    const session = newToken().open();
    session.findOrCreateIssuerKey({ label: "airgrant-issuer", alg, create: true });
    const err = thrownBy(() => session.findOrCreateIssuerKey({ label: "airgrant-issuer", alg: other, create: true }));
    expect(err.code).toBe("bad-input");
    expect(err.message).toContain(alg);
  });
});

describe("keys that are not there", () => {
  it("gives key-missing when asked not to create, and when signing", () => {
    const session = newToken().open();
    expect(
      thrownBy(() => session.findOrCreateIssuerKey({ label: "nope", alg: "ecdsa-p256", create: false })).code,
    ).toBe("key-missing");
    expect(thrownBy(() => session.sign("nope", message)).code).toBe("key-missing");
    expect(thrownBy(() => session.aesEcbDecrypt("nope", new Uint8Array(16))).code).toBe("key-missing");
  });

  it("deletes every object with a label and forgets the cached handle", () => {
    const session = newToken().open();
    session.findOrCreateIssuerKey({ label: "old-issuer", alg: "ed25519", create: true });
    session.sign("old-issuer", message);
    expect(session.deleteObjects("old-issuer")).toBe(2);
    expect(session.deleteObjects("old-issuer")).toBe(0);
    expect(thrownBy(() => session.sign("old-issuer", message)).code).toBe("key-missing");
  });
});

describe("opening the token", () => {
  it("lists the mechanisms we need on SoftHSM2", () => {
    const session = newToken().open();
    expect(session.supportsAlg("ecdsa-p256")).toBe(true);
    expect(session.supportsAlg("ed25519")).toBe(true);
    expect(session.mechanisms().has(pkcs11js.CKM_AES_ECB)).toBe(true);
  });

  it("refuses a wrong PIN with wrong-pin and does not echo it", () => {
    const t = newToken();
    const err = thrownBy(() => t.open("not-the-pin-1234"));
    expect(err.code).toBe("wrong-pin");
    expect(err.message).not.toContain("not-the-pin-1234");
    expect(err.message).toContain(t.tokenLabel);
    // The failed attempt released the module: the right PIN works next.
    expect(t.open().supportsAlg("ecdsa-p256")).toBe(true);
  });

  it("names the tokens it saw when the label is unknown", () => {
    newToken("officer-desk");
    const err = thrownBy(() => openToken({ modulePath, tokenLabel: "no-such-token", pin: TEST_PIN }));
    expect(err.code).toBe("token-not-found");
    expect(err.message).toContain('"officer-desk"');
  });

  it("gives module-not-found for a path that is no PKCS#11 library", () => {
    newToken();
    for (const bad of ["/nonexistent/libpkcs11.so", "/etc/hostname"]) {
      const err = thrownBy(() => openToken({ modulePath: bad, tokenLabel: "airgrant-test", pin: TEST_PIN }));
      expect(err.code).toBe("module-not-found");
      expect(err.message).toContain(bad);
    }
  });

  it("lets two sessions in one process share the module and its login", () => {
    const t = newToken();
    const first = t.open();
    first.findOrCreateIssuerKey({ label: "airgrant-issuer", alg: "ecdsa-p256", create: true });
    const second = t.open();
    first.close();
    expect(second.sign("airgrant-issuer", message).length).toBe(64);
  });
});

describe("OTP AES secrets", () => {
  it("decrypts on the token exactly as node:crypto aes-128-ecb does", () => {
    const session = newToken().open();
    const key = randomBytes(16);
    session.importAesSecret("officer-cccccbhkevrr", key);
    const cipher = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
    for (let i = 0; i < 8; i += 1) {
      const plain = randomBytes(16);
      const block = cipher.update(plain);
      expect(session.aesEcbDecrypt("officer-cccccbhkevrr", block)).toEqual(new Uint8Array(plain));
    }
  });

  it("matches the FIPS-197 Appendix C.1 AES-128 vector", () => {
    const session = newToken().open();
    session.importAesSecret("fips-197", Buffer.from("000102030405060708090a0b0c0d0e0f", "hex"));
    const plain = session.aesEcbDecrypt("fips-197", Buffer.from("69c4e0d86a7b0430d8cdb78070b4c55a", "hex"));
    expect(Buffer.from(plain).toString("hex")).toBe("00112233445566778899aabbccddeeff");
  });

  it("keeps the secret sensitive and unextractable, and refuses a second key under one label", () => {
    const t = newToken();
    const session = t.open();
    session.importAesSecret("officer", randomBytes(16));
    expect(thrownBy(() => session.importAesSecret("officer", randomBytes(16))).code).toBe("bad-input");
    expect(thrownBy(() => session.importAesSecret("short", randomBytes(15))).code).toBe("bad-input");
    expect(thrownBy(() => session.aesEcbDecrypt("officer", new Uint8Array(17))).code).toBe("bad-input");
    session.close();
    withRawSession(t.tokenLabel, (pkcs11, raw) => {
      const key = findByLabel(pkcs11, raw, pkcs11js.CKO_SECRET_KEY, "officer");
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_SENSITIVE)).toBe(true);
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_EXTRACTABLE)).toBe(false);
      expect(booleanAttribute(pkcs11, raw, key, pkcs11js.CKA_ENCRYPT)).toBe(false);
      expect(() => pkcs11.C_GetAttributeValue(raw, key, [{ type: pkcs11js.CKA_VALUE }])).toThrow(
        /CKR_ATTRIBUTE_SENSITIVE/,
      );
    });
  });
});

describe("a key with CKA_ALWAYS_AUTHENTICATE, like a YubiKey's PIV slot 9c", () => {
  it("signs after a context-specific login with the session's PIN", () => {
    const t = newToken();
    withRawSession(t.tokenLabel, (pkcs11, raw) => {
      pkcs11.C_GenerateKeyPair(
        raw,
        { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_LABEL, value: "Public key for Digital Signature" },
          { type: pkcs11js.CKA_ID, value: Buffer.of(2) },
          { type: pkcs11js.CKA_VERIFY, value: true },
          { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from("06082a8648ce3d030107", "hex") },
        ],
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_LABEL, value: "Private key for Digital Signature" },
          { type: pkcs11js.CKA_ID, value: Buffer.of(2) },
          { type: pkcs11js.CKA_SIGN, value: true },
          { type: pkcs11js.CKA_ALWAYS_AUTHENTICATE, value: true },
        ],
      );
      // SoftHSM2 enforces it: without the second login, C_Sign is refused.
      const key = findByLabel(pkcs11, raw, pkcs11js.CKO_PRIVATE_KEY, "Private key for Digital Signature");
      pkcs11.C_SignInit(raw, { mechanism: pkcs11js.CKM_ECDSA }, key);
      expect(() => pkcs11.C_Sign(raw, Buffer.alloc(32), Buffer.alloc(64))).toThrow(/CKR_USER_NOT_LOGGED_IN/);
    });
    const session = t.open();
    const label = "Private key for Digital Signature";
    // The public half has another label, as under ykcs11: it is found by CKA_ID.
    const { publicKeySpki } = session.findOrCreateIssuerKey({ label, alg: "ecdsa-p256", create: false });
    for (let i = 0; i < 3; i += 1) {
      expect(verifyWithNode("ecdsa-p256", publicKeySpki, session.sign(label, message))).toBe(true);
    }
  });
});

describe("keys made by other tools", () => {
  function generateWithParams(tokenLabel: string, label: string, mechanism: number, ecParams: string): void {
    withRawSession(tokenLabel, (pkcs11, raw) => {
      pkcs11.C_GenerateKeyPair(
        raw,
        { mechanism },
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_LABEL, value: label },
          { type: pkcs11js.CKA_EC_PARAMS, value: Buffer.from(ecParams, "hex") },
        ],
        [
          { type: pkcs11js.CKA_TOKEN, value: true },
          { type: pkcs11js.CKA_PRIVATE, value: true },
          { type: pkcs11js.CKA_SENSITIVE, value: true },
          { type: pkcs11js.CKA_LABEL, value: label },
          { type: pkcs11js.CKA_SIGN, value: true },
        ],
      );
    });
  }

  it("uses an Ed25519 key whose parameters name the curve (PKCS#11 v3.0 PrintableString)", () => {
    const t = newToken();
    // 13 0c "edwards25519"; no CKA_ID, so the public half is found by label.
    generateWithParams(t.tokenLabel, "legacy-ed25519", 0x1055, "130c656477617264733235353139");
    const session = t.open();
    const key = session.findOrCreateIssuerKey({ label: "legacy-ed25519", alg: "ed25519", create: false });
    expect(verifyWithNode("ed25519", key.publicKeySpki, session.sign("legacy-ed25519", message))).toBe(true);
  });

  it("refuses an EC key on a curve other than P-256", () => {
    const t = newToken();
    generateWithParams(t.tokenLabel, "p384", pkcs11js.CKM_EC_KEY_PAIR_GEN, "06052b81040022");
    const session = t.open();
    const err = thrownBy(() => session.findOrCreateIssuerKey({ label: "p384", alg: "ecdsa-p256", create: false }));
    expect(err.code).toBe("bad-input");
    expect(thrownBy(() => session.sign("p384", message)).code).toBe("bad-input");
  });
});

describe("two processes", () => {
  it("sign with the same token at the same time", async () => {
    const t = newToken();
    const session = t.open();
    const { publicKeySpki } = session.findOrCreateIssuerKey({
      label: "airgrant-issuer",
      alg: "ecdsa-p256",
      create: true,
    });
    session.close();
    const fixture = fileURLToPath(new URL("./concurrent-signer.fixture.ts", import.meta.url));
    const barrier = join(t.dir, "barrier");
    mkdirSync(barrier);
    const run = () =>
      promisify(execFile)(
        process.execPath,
        [
          "--import",
          "tsx",
          fixture,
          modulePath,
          t.tokenLabel,
          "airgrant-issuer",
          barrier,
          "2",
          "300",
          Buffer.from(message).toString("hex"),
        ],
        // From the repository root, where node finds the tsx loader.
        { cwd: repositoryRoot, env: { ...process.env, SOFTHSM2_CONF: t.confPath, AIRGRANT_PIN: TEST_PIN } },
      );
    const results = await Promise.all([run(), run()]);
    for (const { stdout } of results) {
      const { count, samples } = JSON.parse(stdout) as { count: number; samples: string[] };
      expect(count).toBeGreaterThan(100);
      for (const hex of samples) {
        expect(verifyWithNode("ecdsa-p256", publicKeySpki, Buffer.from(hex, "hex"))).toBe(true);
      }
    }
  });
});
