// The README's first command: the whole airgrant flow on this machine, with
// SoftHSM2 as the token and a demo officer whose "YubiKey" is a generated
// secret. Everything it makes lives in .demo/ (git-ignored); running it again
// reuses the token, the issuer key and the officer.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
// AIRGRANT_DEMO_DIR lets the test suite run the quickstart without touching .demo/.
const DEMO = process.env.AIRGRANT_DEMO_DIR || join(ROOT, ".demo");
const SOFTHSM_PATHS = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"];
const TOKEN = "airgrant-demo";
const USER = "demo";
const HOST = "demo-host";

const bold = (s) => (process.stdout.isTTY ? `\u001b[1m${s}\u001b[0m` : s);
let stepNo = 0;
function step(title) {
  stepNo++;
  console.log(`\n${bold(`${stepNo}. ${title}`)}`);
}
function fail(message, status = 3) {
  console.error(`quickstart: ${message}`);
  process.exit(status);
}
const rel = (p) => relative(process.cwd(), p) || ".";

/** Run one of our commands, show it, and return its result; stdin is given, never a secret on argv. */
function run(label, args, { input, env = {}, expect = 0, quiet = false } = {}) {
  if (!quiet) console.log(`$ ${label} ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")}`);
  const result = spawnSync(process.execPath, [join(ROOT, bins[label]), ...args], {
    input: input ?? "",
    encoding: "utf8",
    env: { ...process.env, ...demoEnv, ...env },
  });
  if (result.stdout && !quiet) process.stdout.write(indent(result.stdout));
  if (result.stderr) process.stdout.write(indent(result.stderr));
  if (result.status !== expect) fail(`${label} ${args[0]} exited ${result.status}, expected ${expect}`);
  return result;
}
const indent = (text) => text.replace(/^/gm, "    ").replace(/ +$/, "");
const bins = {
  "airgrant-signer": "apps/signer/dist/airgrant-signer.cjs",
  "airgrant-verifier": "packages/verifier/dist/airgrant-verifier.cjs",
  "airgrant-auditor": "apps/auditor/dist/cli.js",
};

// --- 1. what the machine needs
step("Check the machine: Node 20 and SoftHSM2");
if (!SOFTHSM_PATHS.some((p) => existsSync(p))) {
  if (process.getuid?.() === 0) {
    console.log("SoftHSM2 is missing; installing it with apt-get (running as root)");
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "softhsm2"], { stdio: "inherit" });
  } else {
    fail(
      "SoftHSM2 is not installed. Install it with: sudo apt-get install softhsm2   (then run npm run quickstart again)",
    );
  }
}
console.log(`node ${process.version}, SoftHSM2 at ${SOFTHSM_PATHS.find((p) => existsSync(p))}`);

// --- 2. build
step("Build the packages (turbo, tsc)");
execFileSync("npx", ["turbo", "run", "build", "--output-logs=errors-only"], {
  cwd: ROOT,
  stdio: "inherit",
  env: { ...process.env, TURBO_TELEMETRY_DISABLED: "1", TURBO_NO_UPDATE_NOTIFIER: "1" },
});

// Only now: these modules are what the build just produced.
const { createSoftHsmToken } = await import("../apps/signer/dist/index.js");
const { generateOtp } = await import("../packages/yubikey-otp/dist/generate-otp.js");

// --- 3. the demo token
step(`Create a demo SoftHSM2 token '${TOKEN}' in ${rel(join(DEMO, "softhsm"))}`);
mkdirSync(DEMO, { recursive: true, mode: 0o700 });
const pinFile = join(DEMO, "pin");
if (!existsSync(pinFile)) writeFileSync(pinFile, `${randomBytes(6).toString("hex")}\n`, { mode: 0o600 });
const pin = readFileSync(pinFile, "utf8").trim();
const token = createSoftHsmToken({
  dir: join(DEMO, "softhsm"),
  tokenLabel: TOKEN,
  soPin: `${pin}so`,
  pin,
});
console.log(token.created ? "token created" : "token already there: reused");
console.log(`(demo PIN in ${rel(pinFile)}; a real PIN comes from a prompt, AIRGRANT_PIN or --pin-file, never argv)`);
const signerHome = join(DEMO, "signer");
const hostState = join(DEMO, "host");
const demoEnv = {
  SOFTHSM2_CONF: token.confPath,
  AIRGRANT_HOME: signerHome,
  AIRGRANT_TOKEN: TOKEN,
  AIRGRANT_PIN: pin,
  AIRGRANT_STATE: hostState,
};

// --- 4. issuer key
step("Generate the issuer key on the token (or find it)");
run("airgrant-signer", ["init"]);

// --- 5. the demo officer and their YubiKey
step("Enrol a demo officer with a generated YubiKey OTP secret");
const officerDir = join(DEMO, "officer");
mkdirSync(officerDir, { recursive: true, mode: 0o700 });
const yubikeyFile = join(officerDir, "yubikey.json");
if (!existsSync(yubikeyFile)) {
  const modhex = "cbdefghijklnrtuv";
  const publicId = Array.from(randomBytes(6), (b) => modhex[b >> 4] + modhex[b & 15]).join("");
  const key = {
    publicId,
    privateId: randomBytes(6).toString("hex"),
    aesKey: randomBytes(16).toString("hex"),
    usageCounter: 0,
  };
  writeFileSync(yubikeyFile, `${JSON.stringify(key)}\n`, { mode: 0o600 });
}
const yubikey = JSON.parse(readFileSync(yubikeyFile, "utf8"));
const aesKeyFile = join(officerDir, "aes-key.hex");
writeFileSync(aesKeyFile, `${yubikey.aesKey}\n`, { mode: 0o600 });
chmodSync(aesKeyFile, 0o600);
// The private id is a secret too: from a file only its owner reads, never argv.
const privateIdFile = join(officerDir, "private-id.hex");
writeFileSync(privateIdFile, `${yubikey.privateId}\n`, { mode: 0o600 });
chmodSync(privateIdFile, 0o600);
const officers = JSON.parse(run("airgrant-signer", ["officer", "list", "--json"]).stdout);
if ((officers.officers ?? []).some((o) => o.name === "demo-officer")) {
  console.log("demo-officer is already enrolled");
} else {
  run("airgrant-signer", [
    "officer",
    "add",
    "--name",
    "demo-officer",
    "--yubikey-id",
    yubikey.publicId,
    "--private-id-file",
    privateIdFile,
    "--aes-key-file",
    aesKeyFile,
    "--targets",
    HOST,
    "--max-ttl",
    "1h",
  ]);
}

// --- 6. the officer touches their YubiKey and approves a grant
step(`Mint a 15-minute grant for user '${USER}' on host '${HOST}' (the officer's touch is a generated OTP)`);
yubikey.usageCounter += 1;
writeFileSync(yubikeyFile, `${JSON.stringify(yubikey)}\n`, { mode: 0o600 });
const otp = generateOtp({
  aesKey: Buffer.from(yubikey.aesKey, "hex"),
  publicId: yubikey.publicId,
  privateId: Buffer.from(yubikey.privateId, "hex"),
  usageCounter: yubikey.usageCounter,
  sessionCounter: 0,
  timestamp: randomBytes(3).readUIntLE(0, 3),
  random: randomBytes(2).readUInt16LE(0),
});
console.log(`OTP typed by the "YubiKey": ${otp}`);
const minted = run(
  "airgrant-signer",
  ["grant", "--user", USER, "--host", HOST, "--ttl", "15m", "--reason", "quickstart demo", "--qr"],
  { input: `${otp}\n` },
);
const grant = minted.stdout.trim();

// --- 7. carry the trust bundle to the host, once
step("Export the trust bundle and install it on the demo host");
const bundleFile = join(DEMO, "bundle.json");
run("airgrant-signer", ["bundle", "--out", bundleFile]);
// The first install starts sealing the host log; its receipt is the auditor's to keep.
const receipt = join(DEMO, "auditor", "seal-receipt.json");
mkdirSync(dirname(receipt), { recursive: true, mode: 0o700 });
run("airgrant-verifier", ["install-bundle", bundleFile, "--receipt", receipt]);

// --- 8. the engineer logs in
step("The host checks the grant: allowed, and used up");
run("airgrant-verifier", ["check", "--user", USER, "--host", HOST], { input: `${grant}\n` });
step("The same grant again: refused as replayed");
run("airgrant-verifier", ["check", "--user", USER, "--host", HOST], { input: `${grant}\n`, expect: 1 });

// --- 9. the auditor's view
step(
  "The auditor verifies both logs (chains, the signer's signed checkpoints, the host's seals) and reconciles uses with grants",
);
const logs = [rel(join(signerHome, "audit.log")), rel(join(hostState, "audit.log"))];
// The auditor keeps each audit's --json output: the next one checks that nothing it saw was cut off or rewritten.
const lastAudit = join(DEMO, "auditor", "last-audit.json");
const evidence = ["--key", rel(receipt), "--bundle", rel(bundleFile)];
const since = existsSync(lastAudit) ? ["--since", rel(lastAudit)] : [];
run("airgrant-auditor", ["verify", ...logs, ...evidence, ...since]);
const audit = run("airgrant-auditor", ["verify", ...logs, ...evidence, "--json"], { quiet: true });
writeFileSync(lastAudit, audit.stdout, { mode: 0o600 });
run("airgrant-auditor", [
  "reconcile",
  "--signer",
  logs[0],
  "--host",
  logs[1],
  "--key",
  rel(receipt),
  "--bundle",
  rel(bundleFile),
]);
run("airgrant-verifier", ["status"]);
console.log(
  `\n${bold("Done.")} Everything above lives in ${rel(DEMO)}/; run 'npm run quickstart' again to mint another grant.`,
);
