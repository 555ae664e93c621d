// `airgrant-signer grant` as an officer waits for it: one whole process, the
// OTP on stdin, SoftHSM2 as the token, against the least any signer process
// must do: a fresh node process that loads pkcs11js, logs in, decrypts the
// OTP (C_Decrypt), signs (C_Sign) and appends one fsynced line. The two
// alternate, and the ratio of their medians is the figure (target <= 1.3).
// `--runs N` (default 40), `--alg ed25519`, `--signer PATH` (another build's
// dist/airgrant-signer.cjs, to compare), `--json`. Needs a build and SoftHSM2.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { toHex } from "@airgrant/core";
import {
  createSoftHsmToken,
  enrolOfficer,
  findPkcs11Module,
  initIssuer,
  isIssuerKeyAlg,
  openToken,
  signerHome,
} from "@airgrant/signer";
import { SIGNER_BUNDLE } from "@airgrant/testkit";
import { decodeModhex } from "@airgrant/yubikey-otp";
import { generateOtp } from "@airgrant/yubikey-otp/generate";
import { fmt, JSON_OUTPUT, median, numberOption, option, ROOT, workDir } from "./bench-support.js";

const RUNS = numberOption("runs", 40);
const ALG = option("alg", "ecdsa-p256");
if (!isIssuerKeyAlg(ALG)) throw new Error(`--alg must be ecdsa-p256 or ed25519, not '${ALG}'`);
const SIGNER = option("signer", SIGNER_BUNDLE);
const PIN = "bench-1234";
const PUBLIC_ID = "cccccccccccb";

const dir = workDir("signer");
const token = createSoftHsmToken({ dir: join(dir, "hsm"), tokenLabel: "bench", soPin: "bench-so-1234", pin: PIN });
const modulePath = findPkcs11Module();
process.env.SOFTHSM2_CONF = token.confPath;
const home = signerHome(join(dir, "home"));
const aesKey = randomBytes(16);
const privateId = Buffer.from("8792ebfe26cc", "hex");
{
  const session = openToken({ modulePath, tokenLabel: "bench", pin: PIN });
  try {
    initIssuer(home, session, { keyLabel: "airgrant-issuer", alg: ALG });
    enrolOfficer(home, session, {
      name: "alice",
      yubikeyId: PUBLIC_ID,
      privateId: privateId.toString("hex"),
      aesKey: new Uint8Array(aesKey),
      targets: ["*"],
      maxTtl: 8 * 3600,
    });
  } finally {
    session.close();
  }
}

let touches = 0;
function otp(): string {
  touches += 1;
  return generateOtp({
    aesKey,
    publicId: PUBLIC_ID,
    privateId,
    usageCounter: 1,
    sessionCounter: touches,
    timestamp: touches,
    random: touches,
  });
}

const env = {
  ...process.env,
  SOFTHSM2_CONF: token.confPath,
  AIRGRANT_HOME: home.dir,
  AIRGRANT_TOKEN: "bench",
  AIRGRANT_PIN: PIN,
  AIRGRANT_PKCS11_MODULE: modulePath,
};
const GRANT = ["grant", "--user", "alice", "--host", "db1.example", "--ttl", "30m", "--reason", "patch CVE-2026-0001"];

function grant(): void {
  const r = spawnSync(process.execPath, [SIGNER, ...GRANT], { input: `${otp()}\n`, env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bench grant failed: ${r.stderr}`);
}

// The baseline: what no signer process can skip, as plainly as pkcs11js allows.
const baselineScript = join(dir, "baseline.mjs");
writeFileSync(
  baselineScript,
  `import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
const pkcs11js = createRequire(${JSON.stringify(join(ROOT, "package.json"))})("pkcs11js");
const [modulePath, pin, ciphertextHex, logPath, ed25519] = process.argv.slice(2);
const p = new pkcs11js.PKCS11();
p.load(modulePath);
p.C_Initialize();
const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trimEnd() === "bench");
const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
p.C_Login(session, pkcs11js.CKU_USER, pin);
function find(objectClass, label) {
  p.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_CLASS, value: objectClass }, { type: pkcs11js.CKA_LABEL, value: label }]);
  const [handle] = p.C_FindObjects(session, 1);
  p.C_FindObjectsFinal(session);
  return handle;
}
p.C_DecryptInit(session, { mechanism: pkcs11js.CKM_AES_ECB }, find(pkcs11js.CKO_SECRET_KEY, "airgrant-otp-${PUBLIC_ID}"));
p.C_Decrypt(session, Buffer.from(ciphertextHex, "hex"), Buffer.alloc(16));
const body = Buffer.alloc(180, 0x41);
p.C_SignInit(session, { mechanism: ed25519 === "1" ? 0x1057 : pkcs11js.CKM_ECDSA }, find(pkcs11js.CKO_PRIVATE_KEY, "airgrant-issuer"));
p.C_Sign(session, ed25519 === "1" ? body : createHash("sha256").update(body).digest(), Buffer.alloc(64));
const fd = openSync(logPath, "a", 0o600);
writeSync(fd, Buffer.alloc(600, 0x61));
fsyncSync(fd);
closeSync(fd);
p.C_Logout(session);
p.C_CloseSession(session);
p.C_Finalize();
`,
);
const floorLog = join(dir, "floor.log");
function baseline(): void {
  const hex = toHex(decodeModhex(otp().slice(PUBLIC_ID.length)));
  const args = [baselineScript, modulePath, PIN, hex, floorLog, ALG === "ed25519" ? "1" : "0"];
  const r = spawnSync(process.execPath, args, { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`baseline failed: ${r.stderr}`);
}

function timed(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

// Warm the page cache and the token's files for both, then alternate.
grant();
baseline();
const ours: number[] = [];
const floor: number[] = [];
for (let i = 0; i < RUNS; i++) {
  if (i % 2 === 0) {
    ours.push(timed(grant));
    floor.push(timed(baseline));
  } else {
    floor.push(timed(baseline));
    ours.push(timed(grant));
  }
}
const oursMs = median(ours);
const floorMs = median(floor);
const ratio = oursMs / floorMs;
if (JSON_OUTPUT) {
  const result = {
    bench: "signer-grant-process",
    token: "softhsm2",
    alg: ALG,
    runs: RUNS,
    grantMs: Number(oursMs.toFixed(1)),
    baselineMs: Number(floorMs.toFixed(1)),
    ratio: Number(ratio.toFixed(3)),
    target: 1.3,
  };
  console.log(JSON.stringify(result));
} else {
  console.log(`token: SoftHSM2 (${modulePath}), issuer ${ALG}, ${RUNS} runs of each, alternating`);
  console.log(`airgrant-signer grant, whole process:  ${fmt(oursMs, 1)} ms (median)`);
  console.log(`baseline (pkcs11js, login, C_Decrypt + C_Sign, one fsynced append): ${fmt(floorMs, 1)} ms (median)`);
  console.log(`ratio grant/baseline: ${fmt(ratio)} (target <= 1.30)`);
}
