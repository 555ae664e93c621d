import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeGrant, decodeGrantText, importPublicKey, toHex, verifyAuditLog, verifySignature } from "@airgrant/core";
import { generateOtp } from "@airgrant/yubikey-otp/generate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportBundle } from "./export-bundle.js";
import { initIssuer } from "./init-issuer.js";
import { type GrantRequest, mintGrant, prepareSigner, saveCounters } from "./mint-grant.js";
import { enrolOfficer } from "./officer-enrolment.js";
import { findPkcs11Module } from "./pkcs11-module-path.js";
import { type SignerHome, signerHome } from "./signer-home.js";
import { makeTestToken, type TestToken } from "./test-token.fixture.js";
import type { TokenSession } from "./token-session.js";

const AES_KEY = Buffer.from("0f1e2d3c4b5a69788796a5b4c3d2e1f0", "hex");
const PRIVATE_ID = "8792ebfe26cc";
const PUBLIC_ID = "cccccccccccb";
const request: GrantRequest = {
  user: "alice",
  target: { kind: "host", name: "db1.example" },
  ttl: 1800,
  reason: "patch",
  maxUses: 1,
};
const fixedClock = () => new Date("2026-11-25T12:00:00.000Z");

let token: TestToken;
let session: TokenSession;
let work: string;
let touches = 0;

/** The counter pair of the latest touch, as a YubiKey counts: 256 touches a session. */
function lastCounter(): [number, number] {
  return [1 + Math.floor(touches / 256), touches % 256];
}

function otp(): string {
  touches += 1;
  const [usageCounter, sessionCounter] = lastCounter();
  return generateOtp({
    aesKey: AES_KEY,
    publicId: PUBLIC_ID,
    privateId: Buffer.from(PRIVATE_ID, "hex"),
    usageCounter,
    sessionCounter,
    timestamp: touches,
    random: 7,
  });
}

let homes = 0;
function newHome(): SignerHome {
  homes += 1;
  const home = signerHome(join(work, `home-${homes}`));
  initIssuer(home, session, { keyLabel: `issuer-${homes}`, alg: "ecdsa-p256" });
  enrolOfficer(home, session, {
    name: "alice",
    yubikeyId: PUBLIC_ID,
    privateId: PRIVATE_ID,
    aesKey: new Uint8Array(AES_KEY),
    targets: ["*"],
    maxTtl: 3600,
  });
  return home;
}

beforeAll(() => {
  token = makeTestToken(findPkcs11Module(), "airgrant-mint-test");
  session = token.open();
  work = mkdtempSync(join(tmpdir(), "airgrant-mint-"));
});
afterAll(() => {
  token.remove();
  rmSync(work, { recursive: true, force: true });
});

describe("mintGrant", () => {
  it("mints a grant anchored to the log head, signed by the issuer, with the clock's window", () => {
    const home = newHome();
    const signer = prepareSigner(home, session);
    const result = mintGrant(signer, otp(), request, {
      clock: fixedClock,
      randomBytes: (n) => new Uint8Array(n).fill(9),
    });
    if (!result.ok) throw new Error(result.message);
    expect(result).toMatchObject({
      grantId: "09".repeat(16),
      notBefore: 1795608000,
      notAfter: 1795609800,
      officer: "alice",
    });
    const grant = decodeGrant(decodeGrantText(result.grant));
    expect(grant.anchor.seq).toBe(result.auditSeq - 1);
    const key = importPublicKey("ecdsa-p256-sha256", signer.issuer.publicKey);
    expect(
      verifySignature("ecdsa-p256-sha256", key, grant.signedBytes, grant.signatures[0]?.signature ?? new Uint8Array()),
    ).toBe(true);
    expect(toHex(grant.issuerKeyId)).toBe(signer.issuer.keyId);
  });

  it("draws a fresh grant id for every grant, across refills of its random pool", () => {
    const signer = prepareSigner(newHome(), session);
    const ids = new Set<string>();
    // 4 KiB of pool is 256 ids: 300 grants cross a refill.
    for (let i = 0; i < 300; i++) {
      const result = mintGrant(signer, otp(), request);
      if (!result.ok) throw new Error(result.message);
      expect(result.grantId).toMatch(/^[0-9a-f]{32}$/);
      ids.add(result.grantId);
    }
    expect(ids.size).toBe(300);
  });

  it("refuses a replay in the same process and in a new one, without a counter cache, a torn one or a stale one", () => {
    const home = newHome();
    const first = otp();
    const second = otp();
    const signer = prepareSigner(home, session);
    expect(mintGrant(signer, second, request).ok).toBe(true);
    expect(mintGrant(signer, first, request)).toMatchObject({ ok: false, code: "otp-replayed" });
    saveCounters(signer);
    const saved = readFileSync(home.countersPath, "utf8");
    expect(JSON.parse(saved)).toMatchObject({
      format: "airgrant-signer-otp-counters-v1",
      keys: { [PUBLIC_ID]: lastCounter() },
    });

    const fresh = () => mintGrant(prepareSigner(home, session), second, request);
    rmSync(home.countersPath);
    expect(fresh()).toMatchObject({ ok: false, code: "otp-replayed" });
    writeFileSync(home.countersPath, saved.replace(JSON.stringify(lastCounter()), "[0,0]"));
    expect(fresh()).toMatchObject({ ok: false, code: "otp-replayed" });
    writeFileSync(home.countersPath, saved.slice(0, 40));
    expect(fresh()).toMatchObject({ ok: false, code: "otp-replayed" });
    // A cache saved before the latest mint: behind the log, so the log is read.
    const signer2 = prepareSigner(home, session);
    const third = otp();
    writeFileSync(home.countersPath, saved);
    expect(mintGrant(signer2, third, request).ok).toBe(true);
    writeFileSync(home.countersPath, saved);
    expect(fresh()).toMatchObject({ ok: false, code: "otp-replayed" });
    expect(mintGrant(prepareSigner(home, session), third, request)).toMatchObject({ ok: false, code: "otp-replayed" });
  });

  it("recovers the counters past a torn log tail, and refuses a cache ahead of the log", () => {
    const home = newHome();
    const used = otp();
    const signer = prepareSigner(home, session);
    expect(mintGrant(signer, used, request).ok).toBe(true);
    saveCounters(signer);
    appendFileSync(home.auditLogPath, '{"seq":99,"time":"2026-');
    rmSync(home.countersPath);
    expect(mintGrant(prepareSigner(home, session), used, request)).toMatchObject({ ok: false, code: "otp-replayed" });
    expect(mintGrant(prepareSigner(home, session), otp(), request).ok).toBe(true);
    expect(verifyAuditLog(home.auditLogPath)).toMatchObject({ ok: true, recoveries: 1 });

    // The log replaced by a shorter one while the cache remembers more: refused.
    const again = prepareSigner(home, session);
    expect(mintGrant(again, otp(), request).ok).toBe(true);
    saveCounters(again);
    const lines = readFileSync(home.auditLogPath, "utf8").split("\n");
    writeFileSync(home.auditLogPath, `${lines.slice(0, 3).join("\n")}\n`);
    expect(() => mintGrant(prepareSigner(home, session), otp(), request)).toThrow(
      expect.objectContaining({ code: "state-corrupt" }),
    );
  });

  it("refuses a request outside the policy after accepting the OTP, and records its counter", () => {
    const home = newHome();
    const signer = prepareSigner(home, session);
    const tooLong = mintGrant(signer, otp(), { ...request, ttl: 7200 });
    expect(tooLong).toMatchObject({ ok: false, code: "ttl-too-long" });
    const entry = JSON.parse(readFileSync(home.auditLogPath, "utf8").trimEnd().split("\n").at(-1) ?? "");
    expect(entry).toMatchObject({
      type: "grant-refused",
      data: { code: "ttl-too-long", officer: "alice", otpCounter: lastCounter() },
    });
  });

  it("records the OTP's counter and the failure when the token fails after the OTP was accepted", () => {
    const home = newHome();
    const signer = prepareSigner(home, session);
    const used = otp();
    session.deleteObjects(signer.issuer.keyLabel);
    expect(() => mintGrant(signer, used, request)).toThrow(expect.objectContaining({ code: "key-missing" }));
    const entry = JSON.parse(readFileSync(home.auditLogPath, "utf8").trimEnd().split("\n").at(-1) ?? "");
    expect(entry).toMatchObject({ type: "grant-refused", data: { code: "key-missing", otpCounter: lastCounter() } });
    rmSync(home.countersPath, { force: true });
    // A fresh process (no counters in memory, no cache) still refuses the OTP: the log has its counter.
    const fresh = { home, session, issuer: signer.issuer };
    expect(mintGrant(fresh, used, request)).toMatchObject({ ok: false, code: "otp-replayed" });
  });

  it("keeps the counter cache current across configuration changes, so the next grant need not read the log", () => {
    const home = newHome();
    const signer = prepareSigner(home, session);
    expect(mintGrant(signer, otp(), request).ok).toBe(true);
    saveCounters(signer);
    exportBundle(home, join(work, `bundle-${homes}.json`), {
      maxLifetime: 3600,
      clockSkew: 60,
      groups: {},
      revokedGrants: [],
    });
    const last = JSON.parse(readFileSync(home.auditLogPath, "utf8").trimEnd().split("\n").at(-1) ?? "");
    expect(last.type).toBe("bundle-exported");
    expect(JSON.parse(readFileSync(home.countersPath, "utf8"))).toMatchObject({ logSeq: last.seq, logHash: last.hash });
  });
});
