import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  decodeGrant,
  decodeGrantText,
  importPublicKey,
  readAuditHead,
  sha256,
  toHex,
  verifyAuditLog,
  verifySignature,
} from "@airgrant/core";
import { makeTestToken, type TestToken } from "@airgrant/testkit/token";
import { generateOtp } from "@airgrant/yubikey-otp/generate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportBundle } from "./export-bundle.js";
import { initIssuer } from "./init-issuer.js";
import { type IssuerRecord, readIssuerRecord } from "./issuer-record.js";
import { counterObjectLabel } from "./log-backed-counters.js";
import { type GrantRequest, type MintOptions, type MintResult, mintGrant } from "./mint-grant.js";
import { enrolOfficer } from "./officer-enrolment.js";
import { findPkcs11Module } from "./pkcs11-module-path.js";
import { rotateIssuer } from "./rotate-issuer.js";
import { withSigner } from "./signer.js";
import { type SignerHome, signerHome } from "./signer-home.js";
import { openToken, type TokenSession } from "./token-session.js";

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

let token: TestToken<TokenSession>;
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
  token = makeTestToken(openToken, findPkcs11Module(), "airgrant-mint-test");
  session = token.open();
  work = mkdtempSync(join(tmpdir(), "airgrant-mint-"));
});
afterAll(() => {
  token.remove();
  rmSync(work, { recursive: true, force: true });
});

/** One `airgrant-signer grant` in this process: the signer's lock, the mint, `otp` as the officer's touch. */
function mint(home: SignerHome, otpText: string, req: GrantRequest = request, options: MintOptions = {}): MintResult {
  return withSigner(home, session, (signer) => mintGrant(signer, req, () => otpText, options));
}

function issuerOf(home: SignerHome): IssuerRecord {
  const issuer = readIssuerRecord(home.issuerPath);
  if (issuer === undefined) throw new Error(`no issuer in ${home.dir}`);
  return issuer;
}

function lastEntry(home: SignerHome): { seq: number; type: string; hash: string; data: Record<string, unknown> } {
  return JSON.parse(readFileSync(home.auditLogPath, "utf8").trimEnd().split("\n").at(-1) ?? "");
}

function entries(home: SignerHome): { seq: number; type: string; data: Record<string, unknown> }[] {
  return readFileSync(home.auditLogPath, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

/** otp-counters.json as an attacker who can write the home would forge it: any counters, the log's head, a fresh checksum. */
function forgeCounterCache(home: SignerHome, keys: Record<string, [number, number]>): void {
  const head = readAuditHead(home.auditLogPath);
  const body = JSON.stringify({
    format: "airgrant-signer-otp-counters-v1",
    logSeq: head?.seq,
    logHash: head?.hash,
    keys,
  });
  writeFileSync(home.countersPath, `${body.slice(0, -1)},"sha256":"${toHex(sha256(Buffer.from(body)))}"}\n`);
}

describe("mintGrant", () => {
  it("mints a grant anchored to the log head, signed by the issuer, with the clock's window, then a checkpoint", () => {
    const home = newHome();
    const result = mint(home, otp(), request, { clock: fixedClock, randomBytes: (n) => new Uint8Array(n).fill(9) });
    if (!result.ok) throw new Error(result.message);
    if (result.grant === undefined) throw new Error("a pending grant without --approvals");
    expect(result).toMatchObject({
      grantId: "09".repeat(16),
      notBefore: 1795608000,
      notAfter: 1795609800,
      officer: "alice",
    });
    const grant = decodeGrant(decodeGrantText(result.grant));
    expect(grant.anchor.seq).toBe(result.auditSeq - 1);
    const issuer = issuerOf(home);
    const key = importPublicKey("ecdsa-p256-sha256", issuer.publicKey);
    expect(
      verifySignature("ecdsa-p256-sha256", key, grant.signedBytes, grant.signatures[0]?.signature ?? new Uint8Array()),
    ).toBe(true);
    expect(toHex(grant.issuerKeyId)).toBe(issuer.keyId);
    expect(
      entries(home)
        .slice(-2)
        .map((e) => [e.seq, e.type]),
    ).toEqual([
      [result.auditSeq, "grant-issued"],
      [result.auditSeq + 1, "checkpoint"],
    ]);
  });

  it("refuses a field a grant cannot hold before reading the OTP", () => {
    const home = newHome();
    let asked = false;
    const long = { ...request, reason: "x".repeat(400) };
    expect(() =>
      withSigner(home, session, (signer) =>
        mintGrant(signer, long, () => {
          asked = true;
          return otp();
        }),
      ),
    ).toThrow(expect.objectContaining({ code: "invalid-grant-field" }));
    expect(asked).toBe(false);
  });

  it("refuses a replay in the same home and in a new process, without a counter cache, a torn one or a stale one", () => {
    const home = newHome();
    const first = otp();
    const second = otp();
    expect(mint(home, second).ok).toBe(true);
    expect(mint(home, first)).toMatchObject({ ok: false, code: "otp-replayed" });
    const saved = readFileSync(home.countersPath, "utf8");
    expect(JSON.parse(saved)).toMatchObject({
      format: "airgrant-signer-otp-counters-v1",
      keys: { [PUBLIC_ID]: lastCounter() },
    });

    rmSync(home.countersPath);
    expect(mint(home, second)).toMatchObject({ ok: false, code: "otp-replayed" });
    writeFileSync(home.countersPath, saved.replace(JSON.stringify(lastCounter()), "[0,0]"));
    expect(mint(home, second)).toMatchObject({ ok: false, code: "otp-replayed" });
    writeFileSync(home.countersPath, saved.slice(0, 40));
    expect(mint(home, second)).toMatchObject({ ok: false, code: "otp-replayed" });
    // A cache saved before the latest mint: behind the log, so the log is read.
    const third = otp();
    writeFileSync(home.countersPath, saved);
    expect(mint(home, third).ok).toBe(true);
    writeFileSync(home.countersPath, saved);
    expect(mint(home, second)).toMatchObject({ ok: false, code: "otp-replayed" });
    expect(mint(home, third)).toMatchObject({ ok: false, code: "otp-replayed" });
  });

  it("recovers the counters past a torn log tail, and refuses a cache ahead of the log", () => {
    const home = newHome();
    const used = otp();
    expect(mint(home, used).ok).toBe(true);
    appendFileSync(home.auditLogPath, '{"seq":99,"time":"2026-');
    rmSync(home.countersPath);
    expect(mint(home, used)).toMatchObject({ ok: false, code: "otp-replayed" });
    expect(mint(home, otp()).ok).toBe(true);
    expect(verifyAuditLog(home.auditLogPath)).toMatchObject({ ok: true, recoveries: 1 });

    // The log replaced by a shorter one while the cache remembers more: refused.
    expect(mint(home, otp()).ok).toBe(true);
    const lines = readFileSync(home.auditLogPath, "utf8").split("\n");
    writeFileSync(home.auditLogPath, `${lines.slice(0, 3).join("\n")}\n`);
    expect(() => mint(home, otp())).toThrow(expect.objectContaining({ code: "state-corrupt" }));
  });

  it("refuses a request outside the policy after accepting the OTP, and records its counter", () => {
    const home = newHome();
    expect(mint(home, otp(), { ...request, ttl: 7200 })).toMatchObject({ ok: false, code: "ttl-too-long" });
    expect(lastEntry(home)).toMatchObject({
      type: "grant-refused",
      data: { code: "ttl-too-long", officer: "alice", otpCounter: lastCounter() },
    });
  });

  it("records the OTP's counter and the failure when the token fails after the OTP was accepted", () => {
    const home = newHome();
    const used = otp();
    const issuer = issuerOf(home);
    // The key goes while the officer touches their YubiKey.
    const pulled = () =>
      withSigner(home, session, (signer) =>
        mintGrant(signer, request, () => {
          session.deleteObjects(issuer.keyLabel);
          return used;
        }),
      );
    expect(pulled).toThrow(expect.objectContaining({ code: "key-missing" }));
    expect(lastEntry(home)).toMatchObject({
      type: "grant-refused",
      data: { code: "key-missing", otpCounter: lastCounter() },
    });
    rmSync(home.countersPath, { force: true });
    // A fresh process (no cache) still refuses the OTP: the log and the token have its counter.
    expect(mintGrant({ home, session, issuer }, request, () => used)).toMatchObject({
      ok: false,
      code: "otp-replayed",
    });
  });

  it("keeps the counter cache current across configuration changes, so the next grant need not read the log", () => {
    const home = newHome();
    expect(mint(home, otp()).ok).toBe(true);
    withSigner(home, session, (signer) =>
      exportBundle(signer, join(work, `bundle-${homes}.json`), {
        maxLifetime: 3600,
        clockSkew: 60,
        groups: {},
      }),
    );
    const last = lastEntry(home);
    expect(last.type).toBe("bundle-exported");
    expect(JSON.parse(readFileSync(home.countersPath, "utf8"))).toMatchObject({ logSeq: last.seq, logHash: last.hash });
  });
});

describe("OTP counters anchored on the token", () => {
  it("keeps each YubiKey's counter in a private data object on the token, written by the mint", () => {
    const home = newHome();
    expect(mint(home, otp()).ok).toBe(true);
    const values = session.readDataObjects(counterObjectLabel(issuerOf(home).keyId, PUBLIC_ID));
    const [usage, sessionCounter] = lastCounter();
    expect(values.map(toHex)).toEqual([
      toHex(Uint8Array.of(usage >> 8, usage & 255, sessionCounter >> 8, sessionCounter & 255)),
    ]);
  });

  it("refuses a used OTP after otp-counters.json is forged with [0,0], the log's head and a fresh checksum", () => {
    const home = newHome();
    const used = otp();
    expect(mint(home, used).ok).toBe(true);
    forgeCounterCache(home, { [PUBLIC_ID]: [0, 0] });
    const before = entries(home).length;
    expect(() => mint(home, used)).toThrow(expect.objectContaining({ code: "otp-counter-rollback" }));
    expect(entries(home)).toHaveLength(before);
    // A fresh OTP is refused too while the home disagrees with the token.
    expect(() => mint(home, otp())).toThrow(expect.objectContaining({ code: "otp-counter-rollback" }));
  });

  it("refuses a used OTP after the log is cut back before its first grant and the cache deleted", () => {
    for (const earlierGrant of [false, true]) {
      const home = newHome();
      if (earlierGrant) expect(mint(home, otp()).ok).toBe(true);
      const cut = join(work, `cut-${homes}.log`);
      copyFileSync(home.auditLogPath, cut);
      const used = otp();
      expect(mint(home, used).ok).toBe(true);
      copyFileSync(cut, home.auditLogPath);
      rmSync(home.countersPath);
      expect(() => mint(home, used)).toThrow(expect.objectContaining({ code: "otp-counter-rollback" }));
    }
  });

  it("keeps counting the retired key's token counters after a rotation: a used OTP stays refused", () => {
    const home = newHome();
    const used = otp();
    expect(mint(home, used).ok).toBe(true);
    const retired = issuerOf(home).keyId;
    rotateIssuer(home, session, { keyLabel: `issuer-${homes}-rotated`, alg: undefined });
    expect(issuerOf(home).keyId).not.toBe(retired);
    expect(mint(home, used)).toMatchObject({ ok: false, code: "otp-replayed" });
    // The new key has no counter object yet: the retired key's is what catches the forged cache.
    expect(session.readDataObjects(counterObjectLabel(issuerOf(home).keyId, PUBLIC_ID))).toEqual([]);
    forgeCounterCache(home, { [PUBLIC_ID]: [0, 0] });
    expect(() => mint(home, used)).toThrow(expect.objectContaining({ code: "otp-counter-rollback" }));
  });

  it("moves a token behind the home forward (a crash between the log's flush and the token's write)", () => {
    const home = newHome();
    const used = otp();
    expect(mint(home, used).ok).toBe(true);
    session.deleteObjects(counterObjectLabel(issuerOf(home).keyId, PUBLIC_ID));
    expect(mint(home, used)).toMatchObject({ ok: false, code: "otp-replayed" });
    expect(mint(home, otp()).ok).toBe(true);
    const [usage, sessionCounter] = lastCounter();
    expect(session.readDataObjects(counterObjectLabel(issuerOf(home).keyId, PUBLIC_ID))).toEqual([
      Uint8Array.of(usage >> 8, usage & 255, sessionCounter >> 8, sessionCounter & 255),
    ]);
  });
});
