import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { appendAuditEntry, decodeGrant, decodeGrantText, verifyAuditLog } from "@airgrant/core";
import { childRun, p1363ToDer, VERIFIER_CLI as VERIFIER } from "@airgrant/testkit";
import { TEST_PIN, TEST_SO_PIN } from "@airgrant/testkit/token";
import { generateOtp } from "@airgrant/yubikey-otp/generate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePendingGrant, encodePendingGrant } from "./pending-grant.js";
import { findPkcs11Module } from "./pkcs11-module-path.js";
import { createSoftHsmToken } from "./softhsm-token.js";

/**
 * airgrant-signer end to end: the built CLI in child processes, on a SoftHSM2
 * token made in a temporary directory, checked by the built airgrant-verifier
 * and by openssl.
 */
const SIGNER = fileURLToPath(new URL("../dist/airgrant-signer.cjs", import.meta.url));
const TOKEN_LABEL = "airgrant-cli-test";
const LOGIN_LOOP = fileURLToPath(new URL("./token-login-loop.fixture.ts", import.meta.url));
const REPOSITORY_ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** A demo YubiKey: its secrets as an officer's enrolment sheet would give them. */
interface TestYubikey {
  publicId: string;
  privateId: string;
  aesKeyHex: string;
  usage: number;
  session: number;
}

function newYubikey(publicId: string, aesKeyHex: string): TestYubikey {
  return { publicId, privateId: "8792ebfe26cc", aesKeyHex, usage: 1, session: 0 };
}

/** The next OTP the YubiKey would type: session counter up by one each touch. */
function touch(key: TestYubikey): string {
  const otp = generateOtp({
    aesKey: Buffer.from(key.aesKeyHex, "hex"),
    publicId: key.publicId,
    privateId: Buffer.from(key.privateId, "hex"),
    usageCounter: key.usage,
    sessionCounter: key.session,
    timestamp: 0x10000 + key.session,
    random: 0x1234,
  });
  key.session += 1;
  return otp;
}

let work: string;
let confPath: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-signer-cli-"));
  confPath = createSoftHsmToken({
    dir: join(work, "hsm"),
    tokenLabel: TOKEN_LABEL,
    soPin: TEST_SO_PIN,
    pin: TEST_PIN,
  }).confPath;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SOFTHSM2_CONF: confPath,
    AIRGRANT_PIN: TEST_PIN,
    AIRGRANT_HOME: home,
    AIRGRANT_TOKEN: TOKEN_LABEL,
    AIRGRANT_PKCS11_MODULE: "",
    AIRGRANT_DEBUG: "",
    ...extra,
  };
}

function signer(home: string, args: string[], input = "", extra: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [SIGNER, ...args], { input, encoding: "utf8", env: childEnv(home, extra) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `signer`, without blocking: for runs side by side. */
function signerAsync(home: string, args: string[], input = "", extra: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [SIGNER, ...args], { env: childEnv(home, extra) });
  const run = childRun(child);
  child.stdin.on("error", () => {
    // It may exit before reading its input.
  });
  child.stdin.end(input);
  return run;
}

function verifier(args: string[], input = ""): Run {
  const r = spawnSync(process.execPath, [VERIFIER, ...args], {
    input,
    encoding: "utf8",
    env: { ...process.env, AIRGRANT_DEBUG: "" },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 0, or the failure's stderr in the assertion message. */
function expectOk(r: Run): Run {
  expect(r.status, r.stderr).toBe(0);
  return r;
}

function expectError(r: Run, status: number, code: string): void {
  expect(r.status, r.stderr).toBe(status);
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]?.startsWith(`error: ${code}: `), r.stderr).toBe(true);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

interface ErrorCase {
  args: string[];
  status: number;
  code: string;
  home?: string;
  input?: string;
  env?: Record<string, string>;
}

/** Runs independent failing commands side by side (each a node process) and checks each one's error line. */
async function expectErrors(home: string, cases: ErrorCase[]): Promise<void> {
  const runs = await Promise.all(cases.map((c) => signerAsync(c.home ?? home, c.args, c.input ?? "", c.env)));
  runs.forEach((r, i) => {
    const c = cases[i] as ErrorCase;
    expect({ args: c.args, status: r.status, line: r.stderr.split("\n")[0]?.split(": ")[1] }).toEqual({
      args: c.args,
      status: c.status,
      line: c.code,
    });
    expectError(r, c.status, c.code);
  });
}

function auditEntries(home: string): { seq: number; type: string; data: Record<string, unknown> }[] {
  return readFileSync(join(home, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

let homes = 0;
function newHome(): string {
  homes += 1;
  return join(work, `home-${homes}`);
}

let secretFiles = 0;
/** A file holding `text`, as a secret file must be: mode 0600 unless told otherwise. */
function secretFile(text: string, mode = 0o600): string {
  secretFiles += 1;
  const path = join(work, `secret-${secretFiles}`);
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
}

let yubikeys = 0;
/** Enrols a new demo YubiKey (unique public id and AES key) for officer `name`. */
function enrol(
  home: string,
  name: string,
  targets: string,
  maxTtl: string,
  env: Record<string, string> = {},
): TestYubikey {
  yubikeys += 1;
  const id = yubikeys.toString(16).padStart(4, "0");
  const key = newYubikey(
    `cccccccc${[...id].map((c) => "cbdefghijklnrtuv"[Number.parseInt(c, 16)]).join("")}`,
    `${id}112233445566778899aabbccddee`,
  );
  const keyFile = join(work, `aes-${yubikeys}`);
  writeFileSync(keyFile, `${key.aesKeyHex}\n`, { mode: 0o600 });
  const add = signer(
    home,
    [
      "officer",
      "add",
      "--name",
      name,
      "--yubikey-id",
      key.publicId,
      "--private-id-file",
      secretFile(`${key.privateId}\n`),
      "--aes-key-file",
      keyFile,
      "--targets",
      targets,
      "--max-ttl",
      maxTtl,
    ],
    "",
    env,
  );
  expect(add.status, add.stderr).toBe(0);
  return key;
}

/** A home with an issuer key (label unique to the home) and one officer, alice, who may approve anything for 2h. */
function readyHome(options: { alg?: string; targets?: string; maxTtl?: string } = {}): {
  home: string;
  key: TestYubikey;
} {
  const home = newHome();
  const args = ["init", "--key-label", `issuer-${homes}`];
  if (options.alg !== undefined) args.push("--alg", options.alg);
  expectOk(signer(home, args));
  return { home, key: enrol(home, "alice", options.targets ?? "*", options.maxTtl ?? "2h") };
}

function mint(home: string, key: TestYubikey, args: string[] = [], env: Record<string, string> = {}): Run {
  return signer(
    home,
    ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "30m", "--reason", "patch CVE-2026-1", ...args],
    `${touch(key)}\n`,
    env,
  );
}

function openssl(args: string[]): void {
  execFileSync("openssl", args, { stdio: "pipe" });
}

describe("airgrant-signer init", () => {
  it("generates an ECDSA P-256 key once and reports the same key when run again", () => {
    const home = newHome();
    const first = signer(home, ["init", "--json"]);
    expect(first.status, first.stderr).toBe(0);
    const one = JSON.parse(first.stdout);
    expect(one).toMatchObject({
      ok: true,
      alg: "ecdsa-p256",
      keyLabel: "airgrant-issuer",
      generated: true,
      recorded: true,
    });
    expect(one.keyId).toMatch(/^[0-9a-f]{16}$/);
    const again = JSON.parse(signer(home, ["init", "--json"]).stdout);
    expect(again).toMatchObject({ keyId: one.keyId, generated: false, recorded: false });
    expect(statSync(home).mode & 0o777).toBe(0o700);
    for (const file of ["issuer.json", "audit.log"]) expect(statSync(join(home, file)).mode & 0o777).toBe(0o600);
    const text = signer(home, ["init"]);
    expect(text.stdout).toContain(`issuer key ${one.keyId} (ecdsa-p256`);
    expect(text.stdout).toContain("-----BEGIN PUBLIC KEY-----");
    // Exactly one issuer-initialised entry: the second run changed nothing.
    expect(auditEntries(home).filter((e) => e.type === "issuer-initialised")).toHaveLength(1);
  });

  it("generates an Ed25519 key with --alg ed25519", () => {
    const home = newHome();
    const r = signer(home, ["init", "--alg", "ed25519", "--key-label", "issuer-ed", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ alg: "ed25519", generated: true });
    expect(JSON.parse(signer(home, ["init", "--key-label", "issuer-ed", "--json"]).stdout)).toMatchObject({
      alg: "ed25519",
      generated: false,
    });
  });

  it("refuses a wrong PIN, an unknown token and an unknown algorithm", async () => {
    await expectErrors(newHome(), [
      { args: ["init"], env: { AIRGRANT_PIN: "not-the-pin" }, status: 3, code: "wrong-pin" },
      { args: ["init", "--token", "no-such-token"], status: 3, code: "token-not-found" },
      { args: ["init", "--module", join(work, "missing.so")], status: 3, code: "module-not-found" },
      { args: ["init", "--alg", "rsa"], status: 2, code: "usage" },
    ]);
  });
});

describe("airgrant-signer remembers the token init opened", () => {
  /** A token not labelled airgrant, in a module at a path of its own: only the home's record names them. */
  function siteToken(): { moduleLink: string; env: Record<string, string> } {
    createSoftHsmToken({ dir: join(work, "hsm"), tokenLabel: "site-hsm", soPin: TEST_SO_PIN, pin: TEST_PIN });
    const moduleLink = join(work, "site-lib", "libsofthsm2.so");
    mkdirSync(dirname(moduleLink), { recursive: true });
    if (!existsSync(moduleLink)) symlinkSync(findPkcs11Module({}), moduleLink);
    // Neither the environment nor the defaults lead there: the default label
    // is airgrant, and the module variable names a file that does not exist.
    return { moduleLink, env: { AIRGRANT_TOKEN: "", AIRGRANT_PKCS11_MODULE: join(work, "no-such-module.so") } };
  }

  it("opens init's --token and --module in grant, bundle, status, checkpoint and officer add; a flag still wins", async () => {
    const { moduleLink, env } = siteToken();
    const home = newHome();
    expectOk(signer(home, ["init", "--token", "site-hsm", "--module", moduleLink], "", env));
    const record = JSON.parse(readFileSync(join(home, "issuer.json"), "utf8"));
    expect(record).toMatchObject({
      format: "airgrant-signer-issuer-v2",
      tokenLabel: "site-hsm",
      modulePath: moduleLink,
    });

    const key = enrol(home, "alice", "*", "2h", env);
    const grant = mint(home, key, [], env);
    expect(grant.stdout, grant.stderr).toMatch(/^AG1-/);
    expectOk(signer(home, ["bundle", "--out", join(home, "..", "site-bundle.json")], "", env));
    expectOk(signer(home, ["checkpoint"], "", env));
    const status = signer(home, ["status", "--json"], "", env);
    expect(JSON.parse(status.stdout).issuer.token).toEqual({ tokenLabel: "site-hsm", modulePath: moduleLink });
    expect(signer(home, ["status"], "", env).stdout).toContain(`token:           "site-hsm" in ${moduleLink}\n`);
    expect(auditEntries(home).find((e) => e.type === "issuer-initialised")?.data.token).toBe("site-hsm");

    // A flag wins over the record: another token (which lacks the issuer key), one that is not there, another module.
    const other = mint(home, key, ["--token", "airgrant-cli-test"], env);
    expectError(other, 3, "key-missing");
    expect(other.stderr).toContain('on token "airgrant-cli-test"');
    const missing = mint(home, key, ["--token", "no-such-token"], env);
    expectError(missing, 3, "token-not-found");
    expect(missing.stderr).toContain('no token labelled "no-such-token"');
    expect(missing.stderr).toContain('"site-hsm"');
    await expectErrors(home, [
      { args: ["checkpoint", "--module", join(work, "missing.so")], env, status: 3, code: "module-not-found" },
    ]);

    // The recorded module gone: said so, naming the record.
    renameSync(moduleLink, `${moduleLink}.moved`);
    try {
      const gone = signer(home, ["checkpoint"], "", env);
      expectError(gone, 3, "module-not-found");
      expect(gone.stderr).toContain(`${join(home, "issuer.json")} records the PKCS#11 module ${moduleLink}`);
      expectOk(signer(home, ["checkpoint", "--module", `${moduleLink}.moved`], "", env));
    } finally {
      renameSync(`${moduleLink}.moved`, moduleLink);
    }
  });

  it("keeps a home made before init recorded its token working with the defaults", () => {
    const { moduleLink, env } = siteToken();
    const home = newHome();
    expectOk(signer(home, ["init", "--token", "site-hsm", "--module", moduleLink], "", env));
    const key = enrol(home, "alice", "*", "2h", env);
    const {
      tokenLabel: _label,
      modulePath: _module,
      ...v1
    } = JSON.parse(readFileSync(join(home, "issuer.json"), "utf8"));
    writeFileSync(
      join(home, "issuer.json"),
      `${JSON.stringify({ ...v1, format: "airgrant-signer-issuer-v1" }, null, 2)}\n`,
    );
    expect(signer(home, ["status"], "", env).stdout).toContain("token:           not recorded");
    expect(JSON.parse(signer(home, ["status", "--json"]).stdout).issuer.token).toBe(null);
    const defaults = signer(home, ["checkpoint"], "", { AIRGRANT_TOKEN: "", AIRGRANT_PKCS11_MODULE: "" });
    expectError(defaults, 3, "token-not-found");
    expect(defaults.stderr).toContain('no token labelled "airgrant"');
    const fromEnv = { AIRGRANT_TOKEN: "site-hsm", AIRGRANT_PKCS11_MODULE: moduleLink };
    expectOk(signer(home, ["checkpoint"], "", fromEnv));
    expect(mint(home, key, [], fromEnv).stdout).toMatch(/^AG1-/);
    expectOk(mint(home, key, ["--token", "site-hsm", "--module", moduleLink], env));
  });

  it("refuses an issuer.json that someone else could have written: another owner, group or other bits, a symbolic link", async () => {
    const home = newHome();
    expectOk(signer(home, ["init"]));
    const path = join(home, "issuer.json");
    const saved = readFileSync(path, "utf8");
    const checkRefused = async (why: string) => {
      await expectErrors(home, [
        { args: ["checkpoint"], status: 3, code: "state-insecure" },
        { args: ["status"], status: 3, code: "state-insecure" },
        { args: ["init"], status: 3, code: "state-insecure" },
      ]);
      expect(signer(home, ["status"]).stderr).toContain(`${path} ${why}`);
    };
    // The attack: another local user who can write the home plants a record
    // naming their own library, which the signer would load as the officer.
    chownSync(path, 1234, 1234);
    await checkRefused("is owned by another user (uid 1234)");
    chownSync(path, 0, 0);
    for (const mode of [0o640, 0o604, 0o660]) {
      chmodSync(path, mode);
      await checkRefused(`is accessible by others (mode 0${mode.toString(8)})`);
    }
    chmodSync(path, 0o600);
    const elsewhere = join(work, "planted-issuer.json");
    writeFileSync(elsewhere, saved, { mode: 0o600 });
    rmSync(path);
    symlinkSync(elsewhere, path);
    await checkRefused("is a symbolic link");
    rmSync(path);
    writeFileSync(path, saved, { mode: 0o600 });
    expectOk(signer(home, ["checkpoint"]));
  });
});

describe("airgrant-signer officer", () => {
  it("adds, lists and removes officers; a removed YubiKey's old OTPs stay refused", () => {
    const { home, key } = readyHome({ targets: "group:dbs,db1.example", maxTtl: "1h30m" });
    const list = JSON.parse(signer(home, ["officer", "list", "--json"]).stdout);
    expect(list.officers).toEqual([
      expect.objectContaining({
        name: "alice",
        yubikeyId: key.publicId,
        targets: ["db1.example", "group:dbs"],
        maxTtl: 5400,
      }),
    ]);
    expect(JSON.stringify(list)).not.toContain(key.privateId);
    const policy = readFileSync(join(home, "policy.json"), "utf8");
    expect(policy).not.toContain(key.aesKeyHex);
    expect(statSync(join(home, "policy.json")).mode & 0o777).toBe(0o600);

    const keyFile = secretFile(key.aesKeyHex);
    const idFile = secretFile(key.privateId);
    const dup = ["officer", "add", "--name", "alice", "--yubikey-id", "cbcbcbcbcbcb", "--private-id-file", idFile];
    expectError(signer(home, [...dup, "--aes-key-file", keyFile]), 1, "officer-exists");

    const oldOtp = touch(key);
    expectOk(mint(home, key));
    const removed = signer(home, ["officer", "remove", "--name", "alice"]);
    expect(removed.status, removed.stderr).toBe(0);
    expect(signer(home, ["officer", "list"]).stdout).toBe("no officers enrolled\n");
    expectError(mint(home, key), 1, "otp-unknown-key");
    expectError(signer(home, ["officer", "remove", "--name", "alice"]), 1, "unknown-officer");

    // Enrolled again, the same YubiKey's earlier OTP is still a replay.
    // The private id from stdin this time.
    const again = ["officer", "add", "--name", "alice", "--yubikey-id", key.publicId];
    expectOk(signer(home, [...again, "--aes-key-file", keyFile], `${key.privateId}\n`));
    const replay = signer(
      home,
      ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "5m", "--reason", "x"],
      oldOtp,
    );
    expectError(replay, 1, "otp-replayed");
    expectOk(mint(home, key));
    expect(auditEntries(home).map((e) => e.type)).toContain("officer-removed");
  });

  it("refuses a malformed AES key file and enrolment details", async () => {
    const home = newHome();
    expectOk(signer(home, ["init"]));
    const short = secretFile("00112233");
    const good = secretFile("00112233445566778899aabbccddeeff\n");
    const id = secretFile("8792ebfe26cc\n");
    const args = ["officer", "add", "--name", "carol", "--yubikey-id", "vvvvvvvvvvvv", "--private-id-file", id];
    await expectErrors(home, [
      { args: [...args, "--aes-key-file", short], status: 2, code: "bad-input" },
      { args: [...args, "--aes-key-file", join(work, "nope")], status: 2, code: "file-unreadable" },
      {
        args: [...args.slice(0, 5), "xyz", "--private-id-file", id, "--aes-key-file", good],
        status: 2,
        code: "bad-input",
      },
      {
        args: [...args.slice(0, 6), "--aes-key-file", good, "--private-id-file", secretFile("123\n")],
        status: 2,
        code: "bad-input",
      },
      { args: [...args.slice(0, 6), "--aes-key-file", good], input: "123\n", status: 2, code: "bad-input" },
      { args: [...args, "--aes-key-file", good, "--max-ttl", "10"], status: 2, code: "bad-input" },
      { args: [...args, "--aes-key-file", good, "--targets", "Bad Host!"], status: 2, code: "bad-input" },
    ]);
  });
});

describe("airgrant-signer secret files", () => {
  it("takes no private id on argv, and refuses secret files others may read, that are not files, or are someone else's", async () => {
    const home = newHome();
    expectOk(signer(home, ["init"]));
    const aes = "00112233445566778899aabbccddeeff\n";
    const id = "8792ebfe26cc\n";
    const base = ["officer", "add", "--name", "dave", "--yubikey-id", "vvvvvvvvvvvc"];
    const theirs = secretFile(aes);
    chownSync(theirs, 1234, 1234);
    const grant = ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "5m", "--reason", "x"];
    const cases: ErrorCase[] = [
      { args: [...base, "--private-id", "8792ebfe26cc", "--aes-key-file", secretFile(aes)], status: 2, code: "usage" },
      {
        args: [...base, "--private-id-file", secretFile(id), "--aes-key-file", secretFile(aes, 0o644)],
        status: 2,
        code: "secret-file-exposed",
      },
      {
        args: [...base, "--private-id-file", secretFile(id, 0o640), "--aes-key-file", secretFile(aes)],
        status: 2,
        code: "secret-file-exposed",
      },
      {
        args: [...base, "--private-id-file", secretFile(id, 0o604), "--aes-key-file", secretFile(aes)],
        status: 2,
        code: "secret-file-exposed",
      },
      {
        args: [...base, "--private-id-file", secretFile(id), "--aes-key-file", "/dev/null"],
        status: 2,
        code: "secret-file-exposed",
      },
      {
        args: [...base, "--private-id-file", secretFile(id), "--aes-key-file", work],
        status: 2,
        code: "secret-file-exposed",
      },
      {
        args: [...base, "--private-id-file", secretFile(id), "--aes-key-file", theirs],
        status: 2,
        code: "secret-file-exposed",
      },
      { args: [...grant, "--pin-file", secretFile(`${TEST_PIN}\n`, 0o644)], status: 2, code: "secret-file-exposed" },
    ];
    await expectErrors(home, cases);
    const exposed = signer(home, cases[1]?.args ?? []);
    expect(exposed.stderr).toContain(cases[1]?.args.at(-1));
    expect(exposed.stderr).toContain("mode 0644");
    expect(signer(home, ["officer", "list"]).stdout).toBe("no officers enrolled\n");
    expect(signer(home, ["--help"]).stdout).toContain("--private-id-file FILE");
    expect(signer(home, ["--help"]).stdout).not.toMatch(/--private-id HEX/);
  });
});

describe("airgrant-signer grant", () => {
  it("mints a grant that the verifier allows once, and that openssl verifies (ECDSA P-256 and Ed25519)", () => {
    for (const alg of ["ecdsa-p256", "ed25519"]) {
      const { home, key } = readyHome({ alg });
      const bundleFile = join(home, "..", `bundle-${alg}.json`);
      expectOk(signer(home, ["bundle", "--out", bundleFile]));
      const state = join(work, `host-${alg}`);
      expectOk(verifier(["install-bundle", bundleFile, "--state", state]));

      const r = mint(home, key);
      expect(r.status, r.stderr).toBe(0);
      const grantText = r.stdout.trimEnd();
      expect(r.stdout).toMatch(/^AG1-[0-9A-Z-]+\n$/);
      const allowed = verifier(["check", "--user", "bob", "--host", "db1.example", "--state", state], r.stdout);
      expect(allowed.status, allowed.stderr).toBe(0);
      expectError(
        verifier(["check", "--user", "bob", "--host", "db1.example", "--state", state], r.stdout),
        1,
        "grant-replayed",
      );

      // openssl, from the public key init printed, over the signed bytes.
      const grant = decodeGrant(decodeGrantText(grantText));
      const pem = JSON.parse(signer(home, ["init", "--key-label", `issuer-${homes}`, "--json"]).stdout).publicKey;
      const files = {
        pem: join(work, `pub-${alg}.pem`),
        body: join(work, `body-${alg}`),
        sig: join(work, `sig-${alg}`),
      };
      writeFileSync(files.pem, pem);
      writeFileSync(files.body, grant.signedBytes);
      const signature = grant.signatures[0]?.signature ?? new Uint8Array();
      if (alg === "ecdsa-p256") {
        writeFileSync(files.sig, p1363ToDer(signature));
        openssl(["dgst", "-sha256", "-verify", files.pem, "-signature", files.sig, files.body]);
      } else {
        writeFileSync(files.sig, signature);
        openssl([
          "pkeyutl",
          "-verify",
          "-pubin",
          "-inkey",
          files.pem,
          "-rawin",
          "-in",
          files.body,
          "-sigfile",
          files.sig,
        ]);
      }

      const issued = auditEntries(home).find((e) => e.type === "grant-issued");
      expect(issued?.data).toMatchObject({
        user: "bob",
        target: "db1.example",
        officer: "alice",
        maxUses: 1,
        reason: "patch CVE-2026-1",
      });
      expect(issued?.data.grantSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(readFileSync(join(home, "audit.log"), "utf8")).not.toContain(grantText);
      // The grant is anchored to the log head just before its own entry.
      expect(grant.anchor.seq).toBe((issued?.seq ?? 0) - 1);
      expect(verifyAuditLog(join(home, "audit.log")).ok).toBe(true);
    }
  });

  it("prints the grant and its fields with --json, and QR codes on request", () => {
    const { home, key } = readyHome();
    const png = join(work, "grant.png");
    const svg = join(work, "grant.svg");
    const r = mint(home, key, [
      "--json",
      "--max-uses",
      "3",
      "--qr",
      "--qr-png",
      png,
      "--qr-svg",
      svg,
      "--host",
      "group:dbs",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ ok: true, user: "bob", target: "group:dbs", maxUses: 3, officer: "alice" });
    expect(out.grant).toMatch(/^AG1-/);
    expect(out.grantId).toMatch(/^[0-9a-f]{32}$/);
    expect(out.notAfter - out.notBefore).toBe(1800);
    const entries = auditEntries(home);
    expect(out.auditSeq).toBe(entries.at(-2)?.seq);
    // Every grant is followed by a checkpoint signing the log up to it.
    expect(entries.at(-1)).toMatchObject({ type: "checkpoint", data: { seq: out.auditSeq } });
    expect(r.stderr).toContain("█");
    expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
    expect(readFileSync(svg, "utf8")).toContain("<svg");
  });

  it("also mints an OpenSSH certificate for the engineer's key that ssh-keygen reads as intended", () => {
    const { home, key } = readyHome({ alg: "ed25519" });
    const pub = join(home, "id_ecdsa");
    execFileSync("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-C", "bob@laptop", "-f", pub]);
    const r = expectOk(mint(home, key, ["--ssh-pubkey", `${pub}.pub`, "--max-uses", "2", "--json"]));
    const out = JSON.parse(r.stdout);
    expect(out.certificateFile).toBe(`${pub}-cert.pub`);
    const listed = execFileSync("ssh-keygen", ["-L", "-f", `${pub}-cert.pub`], { encoding: "utf8" });
    expect(listed).toContain("Type: ecdsa-sha2-nistp256-cert-v01@openssh.com user certificate");
    expect(listed).toContain("Signing CA: ED25519 SHA256:");
    expect(listed).toContain(`Key ID: "${out.grantId}/2@db1.example"`);
    expect(listed).toMatch(/Principals: \n\s+bob\n/);
    expect(listed).toMatch(/Valid: from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d to /);
    const issued = auditEntries(home).find((e) => e.type === "grant-issued");
    expect(issued?.data.sshCertificate).toMatchObject({ keyId: `${out.grantId}/2@db1.example` });
    expectError(mint(home, key, ["--ssh-pubkey", join(home, "missing.pub")]), 2, "file-unreadable");
    writeFileSync(join(home, "bad.pub"), "ssh-dss AAAA\n");
    expectError(mint(home, key, ["--ssh-pubkey", join(home, "bad.pub")]), 2, "malformed-ssh-key");
  });

  it("refuses a replayed OTP, an unknown YubiKey and requests outside the officer's policy, and logs each", () => {
    const { home, key } = readyHome({ targets: "db1.example,group:dbs", maxTtl: "1h" });
    const otp = touch(key);
    const grant = ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "30m", "--reason", "x"];
    expectOk(signer(home, grant, otp));
    const replay = signer(home, [...grant, "--json"], otp);
    expectError(replay, 1, "otp-replayed");
    expect(JSON.parse(replay.stdout)).toMatchObject({ ok: false, code: "otp-replayed" });

    const stranger = newYubikey("vvvvvvvvvvvv", "ffeeddccbbaa99887766554433221100");
    expectError(signer(home, grant, touch(stranger)), 1, "otp-unknown-key");
    const forged = { ...key, aesKeyHex: "ffeeddccbbaa99887766554433221100" };
    expectError(signer(home, grant, touch(forged)), 1, "otp-bad-crc");
    expectError(signer(home, grant, "not an otp"), 1, "otp-malformed");
    expectError(mint(home, key, ["--host", "db2.example"]), 1, "officer-not-allowed");
    expectError(mint(home, key, ["--ttl", "2h"]), 1, "ttl-too-long");

    const refused = auditEntries(home).filter((e) => e.type === "grant-refused");
    expect(refused.map((e) => e.data.code)).toEqual([
      "otp-replayed",
      "otp-unknown-key",
      "otp-bad-crc",
      "otp-malformed",
      "officer-not-allowed",
      "ttl-too-long",
    ]);
    expect(refused[0]?.data).toMatchObject({ user: "bob", target: "db1.example", yubikeyId: key.publicId });
    expect(refused[0]?.data.officer).toBeUndefined();
    expect(refused[4]?.data).toMatchObject({ officer: "alice", target: "db2.example" });
    const log = readFileSync(join(home, "audit.log"), "utf8");
    expect(log).not.toContain(otp);
    expect(verifyAuditLog(join(home, "audit.log")).ok).toBe(true);
  });

  it("refuses a grant longer than the hosts' maximum lifetime from the last bundle", () => {
    const { home, key } = readyHome({ maxTtl: "8h" });
    expectOk(signer(home, ["bundle", "--out", join(work, "short.json"), "--max-lifetime", "1h"]));
    expectError(mint(home, key, ["--ttl", "2h"]), 1, "ttl-too-long");
    expectOk(mint(home, key, ["--ttl", "1h"]));
  });

  it("says to run init when there is no issuer key, before asking for a PIN or OTP", () => {
    const home = newHome();
    const r = signer(home, ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "5m", "--reason", "x"], "", {
      AIRGRANT_PIN: "",
    });
    expectError(r, 3, "key-missing");
    expect(r.stderr).toContain("airgrant-signer init");
  });

  it("refuses a wrong PIN with exit 3 and nothing logged", () => {
    const { home, key } = readyHome();
    const before = auditEntries(home).length;
    const r = signer(
      home,
      ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "5m", "--reason", "x"],
      touch(key),
      {
        AIRGRANT_PIN: "0000",
      },
    );
    expectError(r, 3, "wrong-pin");
    expect(auditEntries(home)).toHaveLength(before);
    const pinFile = secretFile(`${TEST_PIN}\n`);
    expect(
      signer(
        home,
        ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "5m", "--reason", "x", "--pin-file", pinFile],
        touch(key),
        {
          AIRGRANT_PIN: "0000",
        },
      ).status,
    ).toBe(0);
  });

  it("mints from two signer processes at once (two officers, distinct OTPs): both succeed, the log stays intact", async () => {
    const { home, key } = readyHome();
    const carol = enrol(home, "carol", "*", "2h");
    const args = ["grant", "--user", "bob", "--host", "db1.example", "--ttl", "5m", "--reason", "x", "--json"];
    const spawnGrant = (otp: string) => signerAsync(home, args, `${otp}\n`);
    const minted: { grantId: string; grant: string }[] = [];
    for (let round = 0; round < 3; round++) {
      const runs = await Promise.all([spawnGrant(touch(key)), spawnGrant(touch(carol))]);
      for (const r of runs) {
        expect(r.status, r.stderr).toBe(0);
        minted.push(JSON.parse(r.stdout));
      }
    }
    const issued = auditEntries(home).filter((e) => e.type === "grant-issued");
    expect(issued.map((e) => e.data.grantId).sort()).toEqual(minted.map((o) => o.grantId).sort());
    const anchors = minted.map((o) => decodeGrant(decodeGrantText(o.grant)).anchor.seq);
    expect(new Set(anchors).size).toBe(anchors.length);
    const report = verifyAuditLog(join(home, "audit.log"));
    expect(report.ok).toBe(true);
  });

  it("opens the token while another program logs in to it over and over (SoftHSM2 rewrites it at each login)", async () => {
    const { home } = readyHome();
    const stopFile = join(work, `stop-${homes}`);
    const loop = spawn(
      process.execPath,
      ["--import", "tsx", LOGIN_LOOP, findPkcs11Module(), TOKEN_LABEL, stopFile],
      // From the repository root, where node finds the tsx loader.
      { cwd: REPOSITORY_ROOT, env: childEnv(home) },
    );
    let loopOut = "";
    let loopErr = "";
    loop.stdout.on("data", (d) => {
      loopOut += d;
    });
    loop.stderr.on("data", (d) => {
      loopErr += d;
    });
    const loopDone = new Promise<number | null>((resolve) => loop.on("close", resolve));
    // The loop's first login, so that the signers below start while it runs.
    while (!loopOut.startsWith("ready\n")) {
      const ended = await Promise.race([loopDone, new Promise((r) => setTimeout(r, 10, "waiting"))]);
      if (ended !== "waiting") throw new Error(`the login loop ended before its first login: ${loopErr}`);
    }
    const chain = async () => {
      const runs: Run[] = [];
      for (let i = 0; i < 4; i++) runs.push(await signerAsync(home, ["checkpoint"]));
      return runs;
    };
    let runs: Run[];
    try {
      runs = (await Promise.all([chain(), chain(), chain()])).flat();
    } finally {
      writeFileSync(stopFile, "");
    }
    // Its own logins, retried by openToken like the signers', never failed either.
    expect(await loopDone, loopErr).toBe(0);
    expect(Number(loopOut.split("\n")[1])).toBeGreaterThan(runs.length);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    expect(auditEntries(home).filter((e) => e.type === "checkpoint")).toHaveLength(runs.length);
    expect(verifyAuditLog(join(home, "audit.log")).ok).toBe(true);
  });

  it("refuses bad flags with exit 2 before reading an OTP", async () => {
    const { home } = readyHome();
    const base = ["grant", "--user", "bob", "--host", "db1.example", "--reason", "x"];
    await expectErrors(home, [
      { args: base, status: 2, code: "usage" },
      { args: [...base, "--ttl", "30"], status: 2, code: "bad-input" },
      { args: [...base, "--ttl", "8d"], status: 2, code: "bad-input" },
      { args: [...base, "--ttl", "5m", "--max-uses", "0"], status: 2, code: "bad-input" },
      { args: [...base, "--ttl", "5m", "--not-before", "tomorrow"], status: 2, code: "bad-input" },
      { args: [...base, "--ttl", "5m", "--frobnicate"], status: 2, code: "usage" },
      { args: [...base, "--ttl", "5m", "--out", "x"], status: 2, code: "usage" },
      { args: [...base, "--ttl", "5m", "--host", "group:"], status: 2, code: "bad-input" },
      {
        args: ["grant", "--user", "Bob!", "--host", "db1.example", "--ttl", "5m", "--reason", "x"],
        status: 1,
        code: "invalid-grant-field",
      },
      { args: [], status: 2, code: "usage" },
      { args: ["officer"], status: 2, code: "usage" },
      { args: ["officer", "add", "extra"], status: 2, code: "usage" },
      { args: ["status", "extra"], status: 2, code: "usage" },
    ]);
  });
});

describe("airgrant-signer grant --request", () => {
  it("binds a grant to the code a host showed: the host lets it in once, for that account, and records the code", () => {
    const { home, key } = readyHome();
    const bundleFile = join(home, "..", "bundle-request.json");
    expectOk(signer(home, ["bundle", "--out", bundleFile]));
    const state = join(work, "host-request");
    expectOk(verifier(["install-bundle", bundleFile, "--state", state]));
    const shown = JSON.parse(
      expectOk(verifier(["request", "--user", "bob", "--host", "db1.example", "--state", state, "--json"])).stdout,
    );
    expect(shown).toMatchObject({ ok: true, code: "request-pending", user: "bob", host: "db1.example", new: true });
    // Typed as read over a phone: lower case, spaces for dashes.
    const typed = shown.request.toLowerCase().replaceAll("-", " ");
    const r = mint(home, key, ["--request", typed, "--json"]);
    expect(r.stderr).toContain(`request ${shown.request}: made on db1.example for bob (its checks match)`);
    const minted = JSON.parse(r.stdout);
    expect(minted.request).toBe(shown.request.replaceAll("-", ""));
    expect(auditEntries(home).at(-2)?.data).toMatchObject({ grantId: minted.grantId, request: minted.request });
    const grant = decodeGrant(decodeGrantText(minted.grant));
    expect(new TextDecoder().decode(grant.challenge)).toBe(minted.request);
    const check = ["check", "--user", "bob", "--host", "db1.example", "--state", state];
    expect(verifier(check, minted.grant).status).toBe(0);
    expectError(verifier(check, minted.grant), 1, "request-redeemed");
    // A certificate minted with a code carries it in request@airgrant.
    const pub = join(home, "id_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", pub]);
    const next = JSON.parse(
      expectOk(verifier(["request", "--user", "bob", "--host", "db1.example", "--state", state, "--json"])).stdout,
    );
    const withCert = mint(home, key, ["--request", next.request, "--ssh-pubkey", `${pub}.pub`]);
    expect(withCert.status, withCert.stderr).toBe(0);
    const listed = execFileSync("ssh-keygen", ["-L", "-f", `${pub}-cert.pub`], { encoding: "utf8" });
    // ssh-keygen prints an extension it does not know as its data: a string of the 18 symbols.
    const data = `00000012${Buffer.from(next.request.replaceAll("-", "")).toString("hex")}`;
    expect(listed).toContain(`request@airgrant UNKNOWN OPTION: ${data} (len 22)`);
  });

  it("refuses a code with a typo, or read for another host or account, before the OTP is used", async () => {
    const { home, key } = readyHome();
    const code = "B8BW79-7J2132-RPKMN5"; // made on db1.example for alice (docs/requests.md)
    const before = auditEntries(home).length;
    const otp = touch(key);
    const grant = ["grant", "--host", "db1.example", "--ttl", "30m", "--reason", "x"];
    await expectErrors(home, [
      {
        args: [...grant, "--user", "alice", "--request", "B8BW79-7J2132-RPKMN6"],
        input: otp,
        status: 2,
        code: "bad-request-code",
      },
      { args: [...grant, "--user", "bob", "--request", code], input: otp, status: 1, code: "request-wrong-user" },
      {
        args: ["grant", "--user", "alice", "--host", "db2.example", "--ttl", "30m", "--reason", "x", "--request", code],
        input: otp,
        status: 1,
        code: "request-wrong-host",
      },
      {
        args: [...grant, "--user", "alice", "--request", code, "--max-uses", "2"],
        input: otp,
        status: 2,
        code: "usage",
      },
      {
        args: [...grant, "--user", "alice", "--request", code, "--not-before", "2026-12-01T00:00:00Z"],
        input: otp,
        status: 2,
        code: "usage",
      },
      {
        args: ["grant", "--user", "alice", "--host", "group:dbs", "--ttl", "30m", "--reason", "x", "--request", code],
        input: otp,
        status: 2,
        code: "usage",
      },
    ]);
    expect(auditEntries(home)).toHaveLength(before);
    // The OTP was never read: it still mints.
    const ok = signer(home, [...grant, "--user", "alice", "--request", code], otp);
    expect(ok.status, ok.stderr).toBe(0);
  });
});

describe("airgrant-signer bundle and status", () => {
  it("writes a bundle the verifier installs, with groups and every revocation of the log, and logs its hash", async () => {
    const { home, key } = readyHome();
    const first = JSON.parse(mint(home, key, ["--json", "--host", "group:dbs"]).stdout);
    const kept = JSON.parse(mint(home, key, ["--json", "--host", "group:dbs"]).stdout);
    expectOk(signer(home, ["revoke", first.grantId, "--reason", "its text was pasted in a ticket"]));
    const out = join(work, "bundle-groups.json");
    const r = signer(home, [
      "bundle",
      "--out",
      out,
      "--group",
      "dbs=db1.example,db2.example",
      "--clock-skew",
      "1m",
      "--json",
    ]);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ ok: true, clockSkew: 60, maxLifetime: 28800, revokedGrants: [first.grantId] });
    const bundle = JSON.parse(readFileSync(out, "utf8"));
    expect(bundle).toMatchObject({ groups: { dbs: ["db1.example", "db2.example"] }, revokedGrants: [first.grantId] });
    expect(bundle.issuers[0].targets).toEqual(["*"]);
    const exported = auditEntries(home).at(-2);
    expect(auditEntries(home).at(-1)).toMatchObject({ type: "checkpoint", data: { seq: exported?.seq } });
    expect(exported).toMatchObject({
      type: "bundle-exported",
      data: { sha256: result.sha256, bundleId: bundle.bundleId, revokedGrants: [first.grantId] },
    });

    const state = join(work, "host-groups");
    expectOk(verifier(["install-bundle", out, "--state", state]));
    expectError(
      verifier(["check", "--user", "bob", "--host", "db2.example", "--state", state], first.grant),
      1,
      "grant-revoked",
    );
    expect(verifier(["check", "--user", "bob", "--host", "db2.example", "--state", state], kept.grant).status).toBe(0);

    await expectErrors(home, [
      { args: ["bundle", "--out", out, "--group", "dbs"], status: 2, code: "bad-input" },
      { args: ["bundle", "--out", out, "--revoke", first.grantId], status: 2, code: "usage" },
      { args: ["bundle", "--out", out, "--max-lifetime", "8d"], status: 2, code: "bad-input" },
      { args: ["bundle"], status: 2, code: "usage" },
      { args: ["bundle", "--out", out], home: newHome(), status: 3, code: "key-missing" },
    ]);
  });

  it("reports status, help and version", () => {
    const { home } = readyHome();
    const status = JSON.parse(signer(home, ["status", "--json"]).stdout);
    expect(status).toMatchObject({ ok: true, officers: 1, issuer: { alg: "ecdsa-p256" }, maxLifetime: 28800 });
    expect(status.logHead.seq).toBe(auditEntries(home).length);
    expect(signer(newHome(), ["status"]).stdout).toContain('run "airgrant-signer init"');
    expect(signer(home, ["--help"]).stdout).toContain("usage: airgrant-signer");
    expect(signer(home, ["--version"]).stdout).toMatch(/^airgrant-signer \d+\.\d+\.\d+\n$/);
  });
});

describe("airgrant-signer revoke", () => {
  it("records the revocation of a grant it issued, once, with its reason and a checkpoint, with no OTP", async () => {
    const { home, key } = readyHome();
    const grant = JSON.parse(mint(home, key, ["--json"]).stdout);
    const r = expectOk(
      signer(home, ["revoke", grant.grantId.toUpperCase(), "--reason", "laptop stolen, SEC-412", "--json"]),
    );
    const result = JSON.parse(r.stdout);
    expect(result).toEqual({ ok: true, grantId: grant.grantId, auditSeq: result.auditSeq });
    const entries = auditEntries(home);
    expect(entries.at(-2)).toMatchObject({
      seq: result.auditSeq,
      type: "grant-revoked",
      data: { grantId: grant.grantId, reason: "laptop stolen, SEC-412" },
    });
    expect(entries.at(-1)).toMatchObject({ type: "checkpoint", data: { seq: result.auditSeq } });
    expect(Object.keys(entries.at(-2)?.data ?? {}).sort()).toEqual(["grantId", "reason"]);

    const again = signer(home, ["revoke", grant.grantId, "--reason", "again"]);
    expectError(again, 1, "already-revoked");
    expect(again.stderr).toContain(`(audit log entry ${result.auditSeq})`);
    await expectErrors(home, [
      { args: ["revoke", "00".repeat(16), "--reason", "never issued"], status: 1, code: "unknown-grant" },
      { args: ["revoke", grant.grantId, "--reason", "x", "--json"], status: 1, code: "already-revoked" },
    ]);
    // Refusals change nothing.
    expect(auditEntries(home)).toHaveLength(entries.length);
    expect(verifyAuditLog(join(home, "audit.log")).ok).toBe(true);
  });

  it("refuses a bad grant id and hostile or oversized reasons before asking for the PIN", async () => {
    const { home, key } = readyHome();
    const { grantId } = JSON.parse(mint(home, key, ["--json"]).stdout);
    const before = auditEntries(home).length;
    // With no PIN anywhere, reaching the token would be pin-required (exit 3).
    const env = { AIRGRANT_PIN: "" };
    const revoke = (...args: string[]): ErrorCase => ({ args: ["revoke", ...args], env, status: 2, code: "bad-input" });
    await expectErrors(home, [
      { ...revoke(), code: "usage" },
      { ...revoke(grantId), code: "usage" },
      { ...revoke(grantId, grantId, "--reason", "r"), code: "usage" },
      { ...revoke(grantId, "--reason", "r", "--out", "x"), code: "usage" },
      revoke("xyz", "--reason", "r"),
      revoke(grantId, "--reason", "z".repeat(129)),
      revoke(grantId, "--reason", "two\nlines"),
      revoke(grantId, "--reason", "\u001b[2Jcleared"),
      revoke(grantId, "--reason", "\u202etxt.exe"),
      revoke(grantId, "--reason", "   "),
    ]);
    expect(auditEntries(home)).toHaveLength(before);
    expectError(signer(home, ["revoke", grantId, "--reason", "r"], "", env), 3, "pin-required");
  });

  it("refuses to revoke from a log that fails verification", () => {
    const { home, key } = readyHome();
    const { grantId } = JSON.parse(mint(home, key, ["--json"]).stdout);
    const log = join(home, "audit.log");
    // The attack: an edit that hides a grant-issued entry's grant id from whoever reads the log.
    writeFileSync(log, readFileSync(log, "utf8").replace(grantId, "ff".repeat(16)));
    expectError(signer(home, ["revoke", grantId, "--reason", "r"]), 3, "audit-log-corrupt");
  });
});

describe("airgrant-signer krl", () => {
  /** ssh-keygen -Q's verdict on a certificate file: REVOKED (exit 1) or ok (exit 0). */
  function queried(krl: string, cert: string): string {
    const r = spawnSync("ssh-keygen", ["-Q", "-f", krl, cert], { encoding: "utf8" });
    const said = r.stdout.trim().split(": ").at(-1);
    expect(r.status, r.stderr).toBe(said === "REVOKED" ? 1 : 0);
    return said ?? "";
  }

  it("writes a KRL that revokes the certificates of revoked grants and no other, the same bytes from the same log", () => {
    const { home, key } = readyHome();
    const pub = join(home, "..", `id_krl_${homes}`);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", pub]);
    const certified = (name: string, args: string[] = []) => {
      const certOut = join(work, `${name}-${homes}-cert.pub`);
      const g = JSON.parse(
        expectOk(mint(home, key, ["--ssh-pubkey", `${pub}.pub`, "--cert-out", certOut, "--json", ...args])).stdout,
      );
      return { grantId: g.grantId as string, cert: certOut };
    };
    const one = certified("one");
    const two = certified("two", ["--max-uses", "2"]);
    const kept = certified("kept");
    const plain = JSON.parse(mint(home, key, ["--json"]).stdout).grantId as string;
    for (const grantId of [one.grantId, two.grantId, plain]) {
      expectOk(signer(home, ["revoke", grantId, "--reason", "engagement cancelled"]));
    }
    const lastRevocation = auditEntries(home)
      .filter((e) => e.type === "grant-revoked")
      .at(-1)?.seq;

    const out = join(work, `revoked-${homes}.krl`);
    const r = expectOk(signer(home, ["krl", "--out", out, "--json"], "", { AIRGRANT_PIN: "" }));
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      ok: true,
      out,
      krlVersion: lastRevocation,
      keyIds: [`${one.grantId}@db1.example`, `${two.grantId}/2@db1.example`].sort(),
    });
    expect(statSync(out).mode & 0o777).toBe(0o644);
    expect(queried(out, one.cert)).toBe("REVOKED");
    expect(queried(out, two.cert)).toBe("REVOKED");
    expect(queried(out, kept.cert)).toBe("ok");
    const listed = execFileSync("ssh-keygen", ["-Q", "-l", "-f", out], { encoding: "utf8" });
    expect(listed).toContain(`# KRL version ${lastRevocation}`);

    // More entries but no new revocation: the same bytes; a revocation: a higher version.
    const bytes = readFileSync(out);
    mint(home, key);
    expectOk(signer(home, ["checkpoint"]));
    expectOk(signer(home, ["krl", "--out", out]));
    expect(readFileSync(out).equals(bytes)).toBe(true);
    expectOk(signer(home, ["revoke", kept.grantId, "--reason", "done early"]));
    const next = JSON.parse(expectOk(signer(home, ["krl", "--out", out, "--json"])).stdout);
    expect(next.krlVersion).toBeGreaterThan(result.krlVersion);
    expect(queried(out, kept.cert)).toBe("REVOKED");
  });

  it("writes a KRL that revokes nothing for a home with no log, and refuses a bad --out", async () => {
    const home = newHome();
    const out = join(work, "nothing.krl");
    const r = JSON.parse(expectOk(signer(home, ["krl", "--out", out, "--json"])).stdout);
    expect(r).toMatchObject({ krlVersion: 0, keyIds: [] });
    expect(execFileSync("ssh-keygen", ["-Q", "-l", "-f", out], { encoding: "utf8" })).toContain("# KRL version 0");
    await expectErrors(home, [
      { args: ["krl"], status: 2, code: "usage" },
      { args: ["krl", "--out", out, "extra"], status: 2, code: "usage" },
      { args: ["krl", "--out", join(work, "no-such-dir", "x.krl")], status: 3, code: "state-unwritable" },
    ]);
  });

  it("refuses a log whose certificate key id would stop sshd loading the KRL, or that fails verification", () => {
    // The attack: a key id with a NUL, which sshd cannot read, so that the
    // KRL fails to load and every public-key login on the host is refused.
    const home = newHome();
    mkdirSync(home, { mode: 0o700 });
    const log = join(home, "audit.log");
    const grantId = "ab".repeat(16);
    appendAuditEntry(log, "grant-issued", {
      grantId,
      user: "bob",
      target: "db1.example",
      notBefore: 1,
      notAfter: 2,
      maxUses: 1,
      officer: "alice",
      yubikeyId: "cccccccccccb",
      reason: "r",
      issuerKeyId: "1".repeat(16),
      grantSha256: "2".repeat(64),
      sshCertificate: { serial: "1", keyId: `${grantId}\u0000@db1.example`, subjectKeySha256: "3".repeat(64) },
    });
    appendAuditEntry(log, "grant-revoked", { grantId, reason: "r" });
    const out = join(work, "never.krl");
    const corrupt = signer(home, ["krl", "--out", out]);
    expectError(corrupt, 3, "state-corrupt");
    expect(corrupt.stderr).toContain(`for grant ${grantId}, which does not name it`);
    expect(existsSync(out)).toBe(false);
    writeFileSync(log, readFileSync(log, "utf8").replace('"reason":"r"}', '"reason":"s"}'));
    expectError(signer(home, ["krl", "--out", out]), 3, "audit-log-corrupt");
  });
});

describe("airgrant-signer certify", () => {
  /** A pending grant needing one approval, and the same file with a forged approval (the host, not certify, judges it). */
  function pendingPair(home: string, key: TestYubikey): { open: string; approved: string } {
    const open = join(work, `pending-${homes}-${Math.random().toString(36).slice(2)}.json`);
    expectOk(mint(home, key, ["--approvals", "1", "--out", open]));
    const pending = decodePendingGrant(new Uint8Array(readFileSync(open)));
    const approval = {
      keyId: "ab".repeat(8),
      algorithm: "ed25519" as const,
      officer: "carol",
      signature: new Uint8Array(64),
    };
    const approved = `${open}.approved`;
    writeFileSync(approved, encodePendingGrant({ ...pending, approvals: [approval] }));
    return { open, approved };
  }

  it("refuses a grant without its approvals, a denied one and another signer's, and the KRL revokes one it certified", () => {
    const { home, key } = readyHome();
    const pub = join(home, "..", `id_certify_${homes}`);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", pub]);
    const certify = (h: string, file: string) =>
      signer(h, ["certify", file, "--ssh-pubkey", `${pub}.pub`, "--cert-out", `${file}-cert.pub`, "--json"]);
    const { open, approved } = pendingPair(home, key);
    expect(certify(home, open).stderr).toMatch(/^error: pending-grant-incomplete: .* has 0 of the 1 approvals/m);
    const pending = decodePendingGrant(new Uint8Array(readFileSync(approved)));
    const denied = `${approved}.denied`;
    writeFileSync(denied, encodePendingGrant({ ...pending, denied: { officer: "carol", reason: "no" } }));
    expect(certify(home, denied).stderr).toMatch(/^error: pending-grant-closed: /m);
    const other = readyHome();
    const foreign = certify(other.home, approved);
    expect(foreign.stderr).toMatch(/^error: key-missing: .* was issued by key [0-9a-f]{16}, not by this signer's/m);
    expect(foreign.status).toBe(3);

    const made = JSON.parse(expectOk(certify(home, approved)).stdout);
    const cert = readFileSync(`${approved}-cert.pub`, "utf8");
    const listed = execFileSync("ssh-keygen", ["-L", "-f", "-"], { input: cert, encoding: "utf8" });
    expect(listed).toContain(`Key ID: "${made.grantId}@db1.example"`);
    expect(listed).toMatch(/Extensions: [\s\S]*approvals@airgrant/);
    const entry = auditEntries(home).findLast((e) => e.type === "grant-certified");
    expect(entry?.data).toMatchObject({ grantId: made.grantId, sshCertificate: { serial: made.serial } });
    expectOk(signer(home, ["revoke", made.grantId, "--reason", "engagement cancelled"]));
    const krl = join(work, `certified-${homes}.krl`);
    const r = JSON.parse(expectOk(signer(home, ["krl", "--out", krl, "--json"], "", { AIRGRANT_PIN: "" })).stdout);
    expect(r.keyIds).toEqual([`${made.grantId}@db1.example`]);
  });
});
