import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeTestToken, type TestToken } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initIssuer } from "./init-issuer.js";
import { readIssuerRecord } from "./issuer-record.js";
import { findPkcs11Module } from "./pkcs11-module-path.js";
import { readRetiredIssuers, writeRetiredIssuers } from "./retired-issuers.js";
import { rotateIssuer } from "./rotate-issuer.js";
import { type SignerHome, signerHome } from "./signer-home.js";
import { openToken, type TokenSession } from "./token-session.js";

let token: TestToken<TokenSession>;
let session: TokenSession;
let work: string;
let homes = 0;

beforeAll(() => {
  token = makeTestToken(openToken, findPkcs11Module(), "airgrant-rotate-test");
  session = token.open();
  work = mkdtempSync(join(tmpdir(), "airgrant-rotate-"));
});
afterAll(() => {
  token.remove();
  rmSync(work, { recursive: true, force: true });
});

function newHome(): SignerHome {
  homes += 1;
  const home = signerHome(join(work, `home-${homes}`));
  initIssuer(home, session, { keyLabel: `issuer-${homes}`, alg: "ecdsa-p256" }, () => new Date("2026-11-01T00:00:00Z"));
  return home;
}

const at = (iso: string) => () => new Date(iso);

function entryTypes(home: SignerHome): string[] {
  return readFileSync(home.auditLogPath, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line).type);
}

describe("rotateIssuer", () => {
  it("makes the new key the issuer, keeps the old one with retireAt = now, and logs issuer-rotated", () => {
    const home = newHome();
    const old = readIssuerRecord(home.issuerPath);
    const result = rotateIssuer(
      home,
      session,
      { keyLabel: `issuer-${homes}-b`, alg: "ed25519" },
      at("2026-11-20T10:00:00Z"),
    );
    expect(result).toMatchObject({ generated: true, issuer: { alg: "ed25519", created: "2026-11-20T10:00:00.000Z" } });
    expect(readIssuerRecord(home.issuerPath)).toMatchObject({ keyId: result.issuer.keyId, token: old?.token });
    expect(readRetiredIssuers(home)).toEqual([
      {
        keyId: old?.keyId,
        alg: "ecdsa-p256",
        publicKey: old?.publicKey,
        keyLabel: old?.keyLabel,
        created: "2026-11-01T00:00:00.000Z",
        retireAt: Date.parse("2026-11-20T10:00:00Z") / 1000,
      },
    ]);
    expect(entryTypes(home).at(-1)).toBe("issuer-rotated");
    // Again: each rotation retires the key signing then; no label is used twice.
    for (const label of [`issuer-${homes}`, `issuer-${homes}-b`]) {
      expect(() => rotateIssuer(home, session, { keyLabel: label, alg: undefined })).toThrow(
        expect.objectContaining({ code: "bad-input" }),
      );
    }
    rotateIssuer(home, session, { keyLabel: `issuer-${homes}-c`, alg: undefined }, at("2026-11-21T10:00:00Z"));
    expect(readRetiredIssuers(home).map((k) => k.keyId)).toEqual([old?.keyId, result.issuer.keyId]);
  });

  it("finishes a rotation a crash cut short after retired-issuers.json was written, listing the old key once", () => {
    const home = newHome();
    const old = readIssuerRecord(home.issuerPath);
    if (old === undefined) throw new Error("no issuer");
    writeRetiredIssuers(home, [{ ...old, retireAt: Date.parse("2026-11-10T00:00:00Z") / 1000 }]);
    const result = rotateIssuer(
      home,
      session,
      { keyLabel: `issuer-${homes}-b`, alg: undefined },
      at("2026-11-11T00:00:00Z"),
    );
    expect(readRetiredIssuers(home)).toMatchObject([
      { keyId: old.keyId, retireAt: Date.parse("2026-11-11T00:00:00Z") / 1000 },
    ]);
    expect(readIssuerRecord(home.issuerPath)?.keyId).toBe(result.issuer.keyId);
  });
});

describe("retired-issuers.json", () => {
  it("is refused when others can read it, or when it is not exactly what the signer writes", () => {
    const home = newHome();
    const old = readIssuerRecord(home.issuerPath);
    if (old === undefined) throw new Error("no issuer");
    const retired = { ...old, retireAt: Date.parse("2026-11-02T00:00:00Z") / 1000 };
    writeRetiredIssuers(home, [retired]);
    const good = readFileSync(home.retiredIssuersPath, "utf8");
    chmodSync(home.retiredIssuersPath, 0o644);
    expect(() => readRetiredIssuers(home)).toThrow(expect.objectContaining({ code: "state-insecure" }));
    chmodSync(home.retiredIssuersPath, 0o600);
    const value = JSON.parse(good);
    for (const bad of [
      { ...value, keys: [{ ...value.keys[0], keyId: "0".repeat(16) }] },
      { ...value, keys: [value.keys[0], value.keys[0]] },
      { ...value, keys: [{ ...value.keys[0], retireAt: Date.parse("2026-10-01T00:00:00Z") / 1000 }] },
      { ...value, keys: [{ ...value.keys[0], retireAt: 1.5 }] },
      { ...value, keys: [{ ...value.keys[0], extra: 1 }] },
      { ...value, format: "airgrant-signer-retired-issuers-v2" },
    ]) {
      writeFileSync(home.retiredIssuersPath, `${JSON.stringify(bad)}\n`, { mode: 0o600 });
      expect(() => readRetiredIssuers(home), JSON.stringify(bad).slice(0, 80)).toThrow(
        expect.objectContaining({ code: "state-corrupt" }),
      );
    }
  });
});
