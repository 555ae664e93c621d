#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import type { ParseArgsConfig } from "node:util";
import {
  AirgrantError,
  type CommandLine,
  DEFAULT_REQUEST_POLICY,
  type ErrorCode,
  exitStatusOf,
  formatRequestCode,
  GRANT_LIMITS,
  isoSeconds,
  MAX_PENDING_REQUESTS,
  MAX_REQUEST_LIFETIME,
  type ParsedArgs,
  packageVersion,
  parseRequestCode,
  parseSshPublicKeyLine,
  parseTarget,
  printableLine,
  type RequestCode,
  type RequestPolicy,
  readAuditHead,
  requestAccountCheck,
  requestHostCheck,
  runCommandLine,
  usageError,
  writeErr,
  writeFileAtomic,
  writeOut,
} from "@airgrant/core";
import {
  approvePendingGrant,
  carriersOf,
  denyPendingGrant,
  describePendingGrant,
  readPendingGrant,
} from "./approve-grant.js";
import { type ApproverRecord, enrolApprover, readApprovers, removeApprover } from "./approver-keys.js";
import { certifyPendingGrant } from "./certify-grant.js";
import { formatDuration, parseDuration } from "./duration.js";
import {
  exportBundle,
  ISSUER_VALIDITY_SECONDS,
  parseApprovalsOption,
  parseGroupOption,
  type SignedBundleRequest,
} from "./export-bundle.js";
import { initIssuer } from "./init-issuer.js";
import { type IssuerKeyAlg, isIssuerKeyAlg } from "./issuer-key-alg.js";
import {
  type IssuerRecord,
  publicKeyPem,
  readIssuerRecord,
  requireIssuerRecord,
  type TokenLocation,
} from "./issuer-record.js";
import { type GrantRequest, mintGrant } from "./mint-grant.js";
import { enrolOfficer, readAesKeyFile, removeOfficer } from "./officer-enrolment.js";
import { encodePendingGrant } from "./pending-grant.js";
import { findPkcs11Module } from "./pkcs11-module-path.js";
import { readRetiredIssuers } from "./retired-issuers.js";
import { checkRevocationReason, parseGrantId, revokeGrant } from "./revoke.js";
import { initRootKey, readRootsRecord, removeRootKey } from "./root-keys.js";
import { rotateIssuer } from "./rotate-issuer.js";
import { findRootKey, signBundleFile } from "./sign-bundle.js";
import { withSigner } from "./signer.js";
import { resolveSignerHome, type SignerHome, signerHome } from "./signer-home.js";
import {
  checkOfficerName,
  DEFAULT_MAX_LIFETIME,
  MAX_LIFETIME_LIMIT,
  normalisePrivateId,
  normaliseYubikeyId,
  parseTargetList,
  readPolicy,
} from "./signer-policy.js";
import type { SshPublicKey } from "./ssh-user-certificate.js";
import { readOtp, readPin, readPrivateId } from "./terminal-input.js";
import { openToken, type TokenSession } from "./token-session.js";
import { writeCheckpoint } from "./write-checkpoint.js";
import { writeKrl } from "./write-krl.js";

const CLI: CommandLine = {
  name: "airgrant-signer",
  version: packageVersion(new URL("../package.json", import.meta.url)),
  usage: `usage: airgrant-signer <command> [options]

Mint airgrant access grants on a PKCS#11 token, approved by an officer's YubiKey.

commands:
  init [--alg ecdsa-p256|ed25519] [--key-label L]
        find or generate the issuer key on the token; print its id and public key
  init --rotate --key-label L [--alg ecdsa-p256|ed25519]
        make key L on the same token the issuer key; retire the old one now
        (signed bundles list it with its retireAt)
  officer add --name NAME --yubikey-id MODHEX [--private-id-file FILE] --aes-key-file FILE
              [--targets LIST] [--max-ttl DURATION]
        enrol an officer's YubiKey (its AES secret goes on the token); the
        private id (12 hex digits) is the first line of --private-id-file,
        else of stdin (asked for with echo off on a terminal), never argv
  officer list
  officer remove --name NAME
  grant --user U --host H|group:NAME --ttl DURATION --reason TEXT [--max-uses N]
        [--not-before ISO | --request CODE] [--min-trust-version N] [--qr] [--qr-png FILE] [--qr-svg FILE]
        [--ssh-pubkey FILE [--cert-out FILE]] [--approvals K --out FILE]
        read the officer's YubiKey OTP (terminal or stdin), check the policy,
        sign on the token, log it, print the grant on stdout; with
        --approvals, write a pending grant for K officers to approve; with
        --request, bound to the request code host H showed for U (docs/requests.md)
  approver enrol --name NAME --token LABEL [--key-label L] [--alg A]
                 [--targets LIST] [--max-ttl DURATION]
        find or generate an officer's approval key on their own token
  approver list
  approver remove --key-id ID
  approve FILE --name NAME [--key-id ID] [--qr] [--qr-png FILE] [--qr-svg FILE]
        show a pending grant, sign it with the officer's approval key; the
        approval that completes it prints the grant on stdout
  deny FILE --name NAME [--key-id ID] --reason TEXT
        end a pending grant: it is refused from then on
  certify FILE --ssh-pubkey FILE [--cert-out FILE]
        sign an OpenSSH certificate for a pending grant with all its approvals,
        carrying them (approvals@airgrant), with the issuer key
  bundle --out FILE [--max-lifetime DURATION] [--clock-skew DURATION]
         [--group NAME=host1,host2]...
         [--signed [--trust-version N] [--root-threshold K] [--expires DURATION]
          [--on-expiry warn|refuse] [--approvals-for TARGET=N]...
          [--require-requests TARGETS] [--request-lifetime DURATION]
          [--max-pending-requests N]]
        write the trust bundle for airgrant-verifier install-bundle; with
        --signed, an unsigned version 2 bundle for its roots to sign; it
        revokes every grant the audit log records as revoked
  bundle sign FILE --token LABEL [--key-label L]
        add the signature of the root key on that token to a signed bundle
  root init --token LABEL [--alg ecdsa-p256|ed25519] [--key-label L]
        find or generate a root key on its own token; record it for bundles
  root list
  root remove --key-id ID
        leave a root key out of the next signed bundle (a root rotation)
  revoke GRANTID --reason TEXT
        record in the audit log that a grant this signer issued is revoked
  krl --out FILE
        write the OpenSSH KRL of every revoked grant's certificate, for sshd's
        RevokedKeys
  checkpoint
        sign the audit log's head on the token (also done after every grant
        and bundle export)
  status
        show the issuer key, officers and the audit log head

options:
  --home DIR        state directory (default: $AIRGRANT_HOME, else ~/.airgrant)
  --module PATH     PKCS#11 library (default: the one init used, recorded in the
                    home; before init: $AIRGRANT_PKCS11_MODULE, else SoftHSM2's)
  --token LABEL     token label (default: the one init used, recorded in the
                    home; before init: $AIRGRANT_TOKEN, else airgrant)
  --pin-file FILE   read the PIN from FILE (default: $AIRGRANT_PIN, else a prompt)

secret files (--pin-file, --aes-key-file, --private-id-file) must be regular
files of this user or root that group and others cannot access (chmod 600)
  --json            print the result as one JSON object on stdout
  --help            show this help
  --version         show the version

durations: 90s, 30m, 2h, 1h30m, 1d
exit status: 0 ok, 1 refused (OTP or policy), 2 usage or input error, 3 environment error`,
};

const OPTIONS = {
  home: { type: "string" },
  module: { type: "string" },
  token: { type: "string" },
  "pin-file": { type: "string" },
  alg: { type: "string" },
  "key-label": { type: "string" },
  name: { type: "string" },
  "yubikey-id": { type: "string" },
  "private-id-file": { type: "string" },
  "aes-key-file": { type: "string" },
  targets: { type: "string" },
  "max-ttl": { type: "string" },
  user: { type: "string" },
  host: { type: "string" },
  ttl: { type: "string" },
  reason: { type: "string" },
  "max-uses": { type: "string" },
  "not-before": { type: "string" },
  "min-trust-version": { type: "string" },
  request: { type: "string" },
  qr: { type: "boolean", default: false },
  "qr-png": { type: "string" },
  "ssh-pubkey": { type: "string" },
  "cert-out": { type: "string" },
  "qr-svg": { type: "string" },
  out: { type: "string" },
  "max-lifetime": { type: "string" },
  "clock-skew": { type: "string" },
  group: { type: "string", multiple: true },
  signed: { type: "boolean", default: false },
  "trust-version": { type: "string" },
  "root-threshold": { type: "string" },
  expires: { type: "string" },
  "on-expiry": { type: "string" },
  "require-requests": { type: "string" },
  "request-lifetime": { type: "string" },
  "max-pending-requests": { type: "string" },
  "key-id": { type: "string" },
  rotate: { type: "boolean", default: false },
  approvals: { type: "string" },
  "approvals-for": { type: "string", multiple: true },
} satisfies ParseArgsConfig["options"];

type Values = ParsedArgs<typeof OPTIONS>["values"];

const GLOBAL_OPTIONS = ["home", "module", "token", "pin-file", "json", "help", "version"];

/** The options each command takes besides the global ones. */
const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  init: ["alg", "key-label", "rotate"],
  "officer add": ["name", "yubikey-id", "private-id-file", "aes-key-file", "targets", "max-ttl"],
  "officer list": [],
  "officer remove": ["name"],
  grant: [
    "user",
    "host",
    "ttl",
    "reason",
    "max-uses",
    "not-before",
    "min-trust-version",
    "request",
    "qr",
    "qr-png",
    "qr-svg",
    "ssh-pubkey",
    "cert-out",
    "approvals",
    "out",
  ],
  "approver enrol": ["name", "alg", "key-label", "targets", "max-ttl"],
  "approver list": [],
  "approver remove": ["key-id"],
  approve: ["name", "key-id", "qr", "qr-png", "qr-svg"],
  deny: ["name", "key-id", "reason"],
  certify: ["ssh-pubkey", "cert-out"],
  bundle: [
    "out",
    "max-lifetime",
    "clock-skew",
    "group",
    "signed",
    "trust-version",
    "root-threshold",
    "expires",
    "on-expiry",
    "approvals-for",
    "require-requests",
    "request-lifetime",
    "max-pending-requests",
  ],
  "bundle sign": ["key-label"],
  "root init": ["alg", "key-label"],
  "root list": [],
  "root remove": ["key-id"],
  revoke: ["reason"],
  krl: ["out"],
  status: [],
  checkpoint: [],
};

const DEFAULT_TOKEN_LABEL = "airgrant";
const DEFAULT_KEY_LABEL = "airgrant-issuer";
const DEFAULT_ROOT_KEY_LABEL = "airgrant-root";
const DEFAULT_APPROVAL_KEY_LABEL = "airgrant-approval";
const DEFAULT_CLOCK_SKEW = 300;
const MAX_CLOCK_SKEW = 3600;

interface Context {
  values: Values;
  home: SignerHome;
  json: boolean;
}

/** A refusal: the error line, and with --json the verdict object carrying the same code. */
function refuse(json: boolean, code: ErrorCode, message: string, auditSeq: number): number {
  if (json) writeOut(`${JSON.stringify({ ok: false, code, message, auditSeq })}\n`);
  writeErr(`error: ${code}: ${printableLine(message)}\n`);
  return exitStatusOf(code);
}

function usage(message: string): AirgrantError {
  return usageError(CLI, message);
}

function print(ctx: Context, json: Record<string, unknown>, text: string): void {
  writeOut(ctx.json ? `${JSON.stringify({ ok: true, ...json })}\n` : text);
}

function required(values: Values, name: keyof Values, command: string): string {
  const value = values[name];
  if (typeof value !== "string" || value === "") throw usage(`${command} needs --${name}`);
  return value;
}

function duration(text: string, flag: string, max: number): number {
  const seconds = parseDuration(text, `--${flag}`);
  if (seconds > max) throw new AirgrantError("bad-input", `--${flag} must be at most ${formatDuration(max)}`);
  return seconds;
}

/**
 * Opens the token with the PIN from --pin-file, AIRGRANT_PIN or a prompt:
 * the module and label of --module and --token, else those the home's init
 * recorded, else (a home made before init recorded them, or init itself)
 * AIRGRANT_PKCS11_MODULE or SoftHSM2's and AIRGRANT_TOKEN or "airgrant".
 */
function openCommandToken(ctx: Context, recorded: TokenLocation | undefined): TokenSession {
  const { values } = ctx;
  const modulePath = values.module ?? recordedModule(ctx.home, recorded) ?? findPkcs11Module();
  const tokenLabel = values.token ?? recorded?.tokenLabel ?? (process.env.AIRGRANT_TOKEN || DEFAULT_TOKEN_LABEL);
  return openToken({ modulePath, tokenLabel, pin: readPin(values["pin-file"], tokenLabel) });
}

/** The module init recorded, or `module-not-found` saying so when that file is gone. */
function recordedModule(home: SignerHome, recorded: TokenLocation | undefined): string | undefined {
  const modulePath = recorded?.modulePath;
  if (modulePath?.includes("/") && !existsSync(modulePath)) {
    throw new AirgrantError(
      "module-not-found",
      `${home.issuerPath} records the PKCS#11 module ${modulePath}, which does not exist; install it there again, or pass --module with where it is now`,
    );
  }
  return modulePath;
}

function runInit(ctx: Context): number {
  const alg = ctx.values.alg;
  if (alg !== undefined && !isIssuerKeyAlg(alg)) throw usage(`--alg must be ecdsa-p256 or ed25519, not '${alg}'`);
  if (ctx.values.rotate) return runRotate(ctx, required(ctx.values, "key-label", "init --rotate"), alg);
  const keyLabel = ctx.values["key-label"] ?? DEFAULT_KEY_LABEL;
  const result = initIssuer(ctx.home, (recorded) => openCommandToken(ctx, recorded), { keyLabel, alg });
  const { issuer } = result;
  const pem = publicKeyPem(issuer.publicKey);
  const how = result.recorded
    ? result.generated
      ? "generated on the token"
      : "found on the token"
    : "already initialised";
  print(
    ctx,
    {
      keyId: issuer.keyId,
      alg: issuer.alg,
      keyLabel: issuer.keyLabel,
      publicKey: pem,
      created: issuer.created,
      generated: result.generated,
      recorded: result.recorded,
    },
    `issuer key ${issuer.keyId} (${issuer.alg}, label "${issuer.keyLabel}"): ${how}\n${pem}`,
  );
  return 0;
}

function runRotate(ctx: Context, keyLabel: string, alg: IssuerKeyAlg | undefined): number {
  const { issuer, retired, generated, auditSeq } = rotateIssuer(
    ctx.home,
    (recorded) => openCommandToken(ctx, recorded),
    { keyLabel, alg },
  );
  const pem = publicKeyPem(issuer.publicKey);
  print(
    ctx,
    {
      keyId: issuer.keyId,
      alg: issuer.alg,
      keyLabel: issuer.keyLabel,
      publicKey: pem,
      created: issuer.created,
      generated,
      retiredKeyId: retired.keyId,
      retireAt: retired.retireAt,
      auditSeq,
    },
    `issuer key ${issuer.keyId} (${issuer.alg}, label "${issuer.keyLabel}"): ${generated ? "generated on the token" : "found on the token"}; it signs from now on\nissuer key ${retired.keyId} retired at ${isoSeconds(retired.retireAt)}: export a signed bundle (bundle --signed) so hosts trust the new key\n${pem}`,
  );
  return 0;
}

function runOfficerAdd(ctx: Context): number {
  const { values } = ctx;
  const name = required(values, "name", "officer add");
  checkOfficerName(name);
  const yubikeyId = normaliseYubikeyId(required(values, "yubikey-id", "officer add"));
  const keyFile = required(values, "aes-key-file", "officer add");
  const targets = parseTargetList(values.targets ?? "*");
  const maxTtl = duration(values["max-ttl"] ?? "8h", "max-ttl", MAX_LIFETIME_LIMIT);
  requireIssuerRecord(ctx.home.issuerPath);
  const privateId = normalisePrivateId(readPrivateId(values["private-id-file"]));
  const aesKey = readAesKeyFile(keyFile);
  let result: ReturnType<typeof enrolOfficer>;
  try {
    result = enrolOfficer(ctx.home, (recorded) => openCommandToken(ctx, recorded), {
      name,
      yubikeyId,
      privateId,
      aesKey,
      targets,
      maxTtl,
    });
  } finally {
    aesKey.fill(0);
  }
  const { officer, auditSeq } = result;
  print(
    ctx,
    { officer: { name, yubikeyId, targets, maxTtl, enrolled: officer.enrolled }, auditSeq },
    `enrolled officer ${name}: YubiKey ${yubikeyId}, targets ${targets.join(",")}, max TTL ${formatDuration(maxTtl)}\n`,
  );
  return 0;
}

function runOfficerList(ctx: Context): number {
  const policy = readPolicy(ctx.home.policyPath);
  const officers = policy.officers.map(({ name, yubikeyId, targets, maxTtl, enrolled }) => ({
    name,
    yubikeyId,
    targets,
    maxTtl,
    enrolled,
  }));
  const lines = officers.map(
    (o) => `${o.name}\t${o.yubikeyId}\t${o.targets.join(",")}\t${formatDuration(o.maxTtl)}\t${o.enrolled}\n`,
  );
  print(ctx, { officers }, officers.length === 0 ? "no officers enrolled\n" : lines.join(""));
  return 0;
}

function runOfficerRemove(ctx: Context): number {
  const name = required(ctx.values, "name", "officer remove");
  checkOfficerName(name);
  const policy = readPolicy(ctx.home.policyPath);
  if (!policy.officers.some((o) => o.name === name)) {
    throw new AirgrantError(
      "unknown-officer",
      `no officer named ${name} is enrolled; see "airgrant-signer officer list"`,
    );
  }
  const { officer, auditSeq } = removeOfficer(ctx.home, (recorded) => openCommandToken(ctx, recorded), name);
  print(
    ctx,
    { officer: { name: officer.name, yubikeyId: officer.yubikeyId }, auditSeq },
    `removed officer ${officer.name}; the AES key of YubiKey ${officer.yubikeyId} is deleted from the token and its OTP counters are kept\n`,
  );
  return 0;
}

/**
 * `--request CODE`: the code's checks, then its host and account checks
 * against --host and --user, before the token is touched (docs/requests.md,
 * "At the signer"). The host judges a bound grant from its use, on its own
 * clock: its start is the signer's now, and it opens one login.
 */
function boundRequest(values: Values, request: GrantRequest): RequestCode {
  const code = parseRequestCode(values.request as string);
  if (values["not-before"] !== undefined) throw usage("--request and --not-before do not go together");
  if (request.maxUses !== 1) throw usage("a grant bound to a request opens one login: --request takes no --max-uses");
  if (request.target.kind !== "host") {
    throw usage("a request is made on one host: --request takes --host HOST, not a group");
  }
  const shown = formatRequestCode(code);
  if (code.hostCheck !== requestHostCheck(request.target.name)) {
    throw new AirgrantError(
      "request-wrong-host",
      `request ${shown} was not made on ${request.target.name}: check the host name and the code the engineer read`,
    );
  }
  if (code.accountCheck !== requestAccountCheck(request.user)) {
    throw new AirgrantError(
      "request-wrong-user",
      `request ${shown} was not made for ${request.user}: check the account and the code the engineer read`,
    );
  }
  writeErr(`request ${shown}: made on ${request.target.name} for ${request.user} (its checks match)\n`);
  return code;
}

function parseGrantRequest(values: Values): GrantRequest {
  const user = required(values, "user", "grant");
  const host = required(values, "host", "grant");
  const ttl = duration(required(values, "ttl", "grant"), "ttl", MAX_LIFETIME_LIMIT);
  const reason = required(values, "reason", "grant");
  const maxUsesText = values["max-uses"] ?? "1";
  if (!/^[1-9][0-9]{0,2}$/.test(maxUsesText) || Number(maxUsesText) > 255) {
    throw new AirgrantError("bad-input", "--max-uses must be a whole number from 1 to 255");
  }
  let target: GrantRequest["target"];
  try {
    target = parseTarget(host);
  } catch (err) {
    throw new AirgrantError("bad-input", `--host: ${(err as Error).message}`);
  }
  const request: GrantRequest = { user, target, ttl, reason, maxUses: Number(maxUsesText) };
  const minTrustVersion = values["min-trust-version"];
  if (minTrustVersion !== undefined) {
    if (!/^[1-9][0-9]{0,9}$/.test(minTrustVersion) || Number(minTrustVersion) > GRANT_LIMITS.minTrustVersionMax) {
      throw new AirgrantError(
        "bad-input",
        `--min-trust-version must be a whole number from 1 to ${GRANT_LIMITS.minTrustVersionMax}`,
      );
    }
    request.minTrustVersion = Number(minTrustVersion);
  }
  if (values.request !== undefined) request.requestCode = boundRequest(values, request);
  const notBefore = values["not-before"];
  if (notBefore !== undefined) {
    const ms = Date.parse(notBefore);
    if (!/^\d{4}-\d\d-\d\d/.test(notBefore) || Number.isNaN(ms)) {
      throw new AirgrantError(
        "bad-input",
        `--not-before '${notBefore}' is not an ISO 8601 time like 2026-11-25T18:00:00Z`,
      );
    }
    request.notBefore = Math.floor(ms / 1000);
  }
  const sshPublicKey = readSshPublicKey(values);
  if (sshPublicKey !== undefined) request.sshPublicKey = sshPublicKey;
  const approvals = values.approvals;
  if (approvals !== undefined) {
    if (!/^[1-3]$/.test(approvals)) throw new AirgrantError("bad-input", "--approvals must be 1, 2 or 3");
    if (values.out === undefined) throw usage("--approvals needs --out FILE for the pending grant");
    if (values.qr || values["qr-png"] !== undefined || values["qr-svg"] !== undefined) {
      throw usage("a pending grant has no QR code yet: approve prints the grant's when it completes it");
    }
    request.approvals = Number(approvals);
  } else if (values.out !== undefined) {
    throw usage("--out goes with --approvals");
  }
  return request;
}

/** The key of `--ssh-pubkey`, its id_*.pub line read and parsed. */
function readSshPublicKey(values: Values): SshPublicKey | undefined {
  const pubkeyFile = values["ssh-pubkey"];
  if (pubkeyFile === undefined) {
    if (values["cert-out"] !== undefined) throw new AirgrantError("usage", "--cert-out goes with --ssh-pubkey");
    return undefined;
  }
  let line: string;
  try {
    line = readFileSync(pubkeyFile, "utf8");
  } catch (err) {
    throw new AirgrantError("file-unreadable", `cannot read ${pubkeyFile}: ${(err as NodeJS.ErrnoException).code}`);
  }
  return parseSshPublicKeyLine(line);
}

/** Where the certificate goes: --cert-out, else beside the key as ssh-keygen puts it (id_x.pub → id_x-cert.pub). */
function certificatePath(values: Values): string | undefined {
  const pubkey = values["ssh-pubkey"];
  if (pubkey === undefined) return undefined;
  return values["cert-out"] ?? `${pubkey.replace(/\.pub$/, "")}-cert.pub`;
}

function runGrant(ctx: Context): number {
  const request = parseGrantRequest(ctx.values);
  const result = withSigner(
    ctx.home,
    (recorded) => openCommandToken(ctx, recorded),
    (signer) => mintGrant(signer, request, readOtp),
  );
  if (!result.ok) return refuse(ctx.json, result.code, result.message, result.auditSeq);
  const { pending, grant, ...minted } = result;
  if (pending !== undefined) {
    const out = required(ctx.values, "out", "grant --approvals");
    writeFileAtomic(out, encodePendingGrant(pending));
    const carriers = carriersOf(result.textLength);
    print(
      ctx,
      { ...minted, pendingFile: out, approvalsNeeded: pending.approvalsNeeded, fitsPrompt: carriers.fitsPrompt },
      `pending grant ${result.grantId} written to ${out}: it needs ${pending.approvalsNeeded} approval(s) by officers' own keys (airgrant-signer approve ${out} --name OFFICER)\n` +
        `once approved, ${carriers.advice}\n`,
    );
    return 0;
  }
  if (grant === undefined) throw new AirgrantError("internal", "a mint without a grant or a pending grant");
  const certPath = certificatePath(ctx.values);
  if (certPath !== undefined && result.sshCertificate !== undefined) {
    // Public, like the key it certifies: ssh reads it beside the private key.
    writeFileAtomic(certPath, `${result.sshCertificate}\n`, { mode: 0o644 });
    writeErr(`OpenSSH certificate written to ${certPath}\n`);
  }
  writeOut(
    ctx.json
      ? `${JSON.stringify({ ...result, ...(certPath === undefined ? {} : { certificateFile: certPath }) })}\n`
      : `${grant}\n`,
  );
  writeGrantQr(ctx, grant);
  return 0;
}

/** `--qr`, `--qr-png` and `--qr-svg` of a grant just printed. */
function writeGrantQr(ctx: Context, grant: string): void {
  const png = ctx.values["qr-png"];
  const svg = ctx.values["qr-svg"];
  if (qr === undefined) {
    if (ctx.values.qr || png !== undefined || svg !== undefined)
      throw new AirgrantError("internal", "the QR encoder is not loaded");
  } else {
    if (ctx.values.qr) writeErr(qr.grantQrTerminal(grant));
    if (png !== undefined) writeFileAtomic(png, qr.grantQrPng(grant));
    if (svg !== undefined) writeFileAtomic(svg, qr.grantQrSvg(grant));
  }
}

function runApproverEnrol(ctx: Context): number {
  const { values } = ctx;
  const officer = required(values, "name", "approver enrol");
  checkOfficerName(officer);
  required(values, "token", "approver enrol");
  const alg = values.alg ?? "ecdsa-p256";
  if (!isIssuerKeyAlg(alg)) throw usage(`--alg must be ecdsa-p256 or ed25519, not '${alg}'`);
  const enrolment = {
    officer,
    alg,
    keyLabel: values["key-label"] ?? DEFAULT_APPROVAL_KEY_LABEL,
    targets: parseTargetList(values.targets ?? "*"),
    maxTtl: duration(values["max-ttl"] ?? "8h", "max-ttl", MAX_LIFETIME_LIMIT),
  };
  const result = enrolApprover(ctx.home, () => openRootToken(ctx, undefined), enrolment);
  const { approver } = result;
  const how = result.recorded
    ? result.generated
      ? "generated on the token"
      : "found on the token"
    : "already enrolled";
  print(
    ctx,
    {
      officer,
      keyId: approver.keyId,
      alg: approver.alg,
      keyLabel: approver.keyLabel,
      token: approver.token.tokenLabel,
      modulePath: approver.token.modulePath,
      targets: approver.targets,
      maxTtl: approver.maxTtl,
      generated: result.generated,
      recorded: result.recorded,
    },
    `approval key ${approver.keyId} of officer ${officer} (${approver.alg}, label "${approver.keyLabel}" on token "${approver.token.tokenLabel}"): ${how}; targets ${approver.targets.join(",")}, max TTL ${formatDuration(approver.maxTtl)}\n`,
  );
  return 0;
}

function runApproverList(ctx: Context): number {
  const approvers = readApprovers(ctx.home).map((a) => ({
    officer: a.officer,
    keyId: a.keyId,
    alg: a.alg,
    token: a.token.tokenLabel,
    modulePath: a.token.modulePath,
    targets: a.targets,
    maxTtl: a.maxTtl,
    enrolled: a.enrolled,
  }));
  const lines = approvers.map(
    (a) =>
      `${a.officer}\t${a.keyId}\t${a.alg}\t${a.token}\t${a.targets.join(",")}\t${formatDuration(a.maxTtl)}\t${a.enrolled}\n`,
  );
  print(ctx, { approvers }, approvers.length === 0 ? "no approval keys enrolled\n" : lines.join(""));
  return 0;
}

function runApproverRemove(ctx: Context): number {
  const keyId = required(ctx.values, "key-id", "approver remove").toLowerCase();
  const auditSeq = removeApprover(ctx.home, keyId);
  print(ctx, { keyId, auditSeq }, `approval key ${keyId} is left out of the next signed bundle's approvers\n`);
  return 0;
}

/** The approval key of `--name` (and `--key-id`, for an officer with several) in approvers.json. */
function chosenApprover(ctx: Context, command: string): ApproverRecord {
  const officer = required(ctx.values, "name", command);
  checkOfficerName(officer);
  const keyId = ctx.values["key-id"]?.toLowerCase();
  const keys = readApprovers(ctx.home).filter(
    (a) => a.officer === officer && (keyId === undefined || a.keyId === keyId),
  );
  const [only, ...more] = keys;
  if (only === undefined) {
    throw new AirgrantError(
      "unknown-officer",
      `no approval key of officer ${officer}${keyId === undefined ? "" : ` with id ${keyId}`} in this home; see "airgrant-signer approver list"`,
    );
  }
  if (more.length > 0) throw usage(`officer ${officer} has ${keys.length} approval keys: choose one with --key-id`);
  return only;
}

/** The officer's own token, as approvers.json records it (`--module` wins when given). */
function openApproverToken(ctx: Context, approver: ApproverRecord): TokenSession {
  const { tokenLabel, modulePath } = approver.token;
  return openToken({
    modulePath: ctx.values.module ?? modulePath,
    tokenLabel,
    pin: readPin(ctx.values["pin-file"], tokenLabel),
  });
}

function runApprove(ctx: Context, file: string): number {
  const approver = chosenApprover(ctx, "approve");
  // What the officer approves is shown before their PIN is asked for: the PIN is the consent.
  writeErr(describePendingGrant(readPendingGrant(file)));
  const result = approvePendingGrant(ctx.home, () => openApproverToken(ctx, approver), file, approver);
  const { pending, grantId, auditSeq, carriers, grant } = result;
  const summary = {
    grantId,
    officer: approver.officer,
    keyId: approver.keyId,
    approvals: pending.approvals.length,
    approvalsNeeded: pending.approvalsNeeded,
    textLength: carriers.textLength,
    fitsPrompt: carriers.fitsPrompt,
    auditSeq,
  };
  if (grant === undefined) {
    print(
      ctx,
      summary,
      `approved grant ${grantId} as officer ${approver.officer}: ${pending.approvals.length} of ${pending.approvalsNeeded} approvals; pass ${file} to the next officer\n`,
    );
    return 0;
  }
  writeErr(
    `approved grant ${grantId} as officer ${approver.officer}: it has all ${pending.approvalsNeeded} approvals; ${carriers.advice}\n`,
  );
  writeOut(ctx.json ? `${JSON.stringify({ ok: true, ...summary, grant })}\n` : `${grant}\n`);
  writeGrantQr(ctx, grant);
  return 0;
}

function runDeny(ctx: Context, file: string): number {
  const approver = chosenApprover(ctx, "deny");
  const reason = required(ctx.values, "reason", "deny");
  checkRevocationReason(reason);
  writeErr(describePendingGrant(readPendingGrant(file)));
  const { grantId, auditSeq } = denyPendingGrant(
    ctx.home,
    () => openApproverToken(ctx, approver),
    file,
    approver,
    reason,
  );
  print(
    ctx,
    { grantId, officer: approver.officer, auditSeq },
    `denied grant ${grantId} as officer ${approver.officer}; ${file} is refused by approve from now on\n`,
  );
  return 0;
}

function runCertify(ctx: Context, file: string): number {
  const subject = readSshPublicKey(ctx.values);
  const certPath = certificatePath(ctx.values);
  if (subject === undefined || certPath === undefined) throw usage("certify needs --ssh-pubkey FILE");
  const result = withSigner(
    ctx.home,
    (recorded) => openCommandToken(ctx, recorded),
    (signer) => certifyPendingGrant(signer, file, subject),
  );
  // Public, like the key it certifies: ssh reads it beside the private key.
  writeFileAtomic(certPath, `${result.line}\n`, { mode: 0o644 });
  print(
    ctx,
    {
      grantId: result.grantId,
      serial: result.serial,
      keyId: result.keyId,
      certificateFile: certPath,
      auditSeq: result.auditSeq,
    },
    `OpenSSH certificate for grant ${result.grantId}, with its approvals, written to ${certPath}\n`,
  );
  return 0;
}

function runBundle(ctx: Context): number {
  const { values } = ctx;
  const out = required(values, "out", "bundle");
  const maxLifetime =
    values["max-lifetime"] === undefined
      ? DEFAULT_MAX_LIFETIME
      : duration(values["max-lifetime"], "max-lifetime", MAX_LIFETIME_LIMIT);
  const skewText = values["clock-skew"];
  const clockSkew =
    skewText === undefined
      ? DEFAULT_CLOCK_SKEW
      : skewText === "0" || skewText === "0s"
        ? 0
        : duration(skewText, "clock-skew", MAX_CLOCK_SKEW);
  const groups: Record<string, string[]> = {};
  for (const text of values.group ?? []) {
    const [name, hosts] = parseGroupOption(text);
    if (Object.hasOwn(groups, name)) throw new AirgrantError("bad-input", `--group ${name} is given twice`);
    groups[name] = hosts;
  }
  const signed = signedBundleRequest(values);
  // One operation under one lock: the bundle, its log entry, and the checkpoint that signs it.
  const exported = withSigner(
    ctx.home,
    (recorded) => openCommandToken(ctx, recorded),
    (signer) => {
      const result = exportBundle(signer, out, {
        maxLifetime,
        clockSkew,
        groups,
        ...(signed === undefined ? {} : { signed }),
      });
      writeCheckpoint(signer);
      return result;
    },
  );
  const { bundle } = exported;
  const trust = bundle.signedTrust;
  print(
    ctx,
    {
      bundleId: bundle.bundleId,
      ...(trust === undefined
        ? {}
        : {
            trustVersion: trust.trustVersion,
            roots: trust.roots.keys.map((k) => k.keyId),
            rootThreshold: trust.roots.threshold,
          }),
      out,
      sha256: exported.sha256,
      issuers: bundle.issuers.map((i) => i.keyId),
      maxLifetime,
      clockSkew,
      revokedGrants: bundle.revokedGrants,
      auditSeq: exported.auditSeq,
    },
    `wrote trust bundle ${bundle.bundleId} to ${out} (sha256 ${exported.sha256})\n` +
      `issuer ${bundle.issuers[0]?.keyId} valid for ${formatDuration(ISSUER_VALIDITY_SECONDS)}; grants up to ${formatDuration(maxLifetime)}, clock skew ${formatDuration(clockSkew)}; ${bundle.revokedGrants.length} revoked grant(s)\n` +
      (trust === undefined
        ? `install it on each host: airgrant-verifier install-bundle ${out}\n`
        : `trust version ${trust.trustVersion}, unsigned: ${trust.roots.threshold} of its root keys must sign it (airgrant-signer bundle sign ${out} --token LABEL), and a threshold of the roots hosts have; then on each host: airgrant-verifier update ${out}\n`),
  );
  return 0;
}

function runRevoke(ctx: Context, grantIdText: string): number {
  const grantId = parseGrantId(grantIdText);
  const reason = required(ctx.values, "reason", "revoke");
  checkRevocationReason(reason);
  const revoked = withSigner(
    ctx.home,
    (recorded) => openCommandToken(ctx, recorded),
    (signer) => revokeGrant(signer, grantId, reason),
  );
  print(
    ctx,
    { ...revoked },
    `revoked grant ${grantId} (audit log entry ${revoked.auditSeq})\n` +
      "hosts refuse it once they install the next bundle: airgrant-signer bundle --out FILE (--signed, for hosts with signed trust)" +
      (revoked.sshKeyId === undefined
        ? "\n"
        : "; sshd refuses its certificate with the next: airgrant-signer krl --out FILE\n"),
  );
  return 0;
}

function runKrl(ctx: Context): number {
  const out = required(ctx.values, "out", "krl");
  const written = writeKrl(ctx.home, out);
  print(
    ctx,
    { out, ...written },
    `wrote the OpenSSH KRL version ${written.krlVersion} to ${out}: ${written.keyIds.length} certificate key id(s) revoked\n`,
  );
  return 0;
}

/** The signed-bundle options of `bundle`, or undefined without --signed (when none may be given). */
function signedBundleRequest(values: Values): SignedBundleRequest | undefined {
  const flags = [
    "trust-version",
    "root-threshold",
    "expires",
    "on-expiry",
    "approvals-for",
    "require-requests",
    "request-lifetime",
    "max-pending-requests",
  ] as const;
  if (!values.signed) {
    const stray = flags.find((f) => values[f] !== undefined);
    if (stray !== undefined) throw usage(`--${stray} goes with --signed`);
    return undefined;
  }
  const onExpiry = values["on-expiry"] ?? "warn";
  if (onExpiry !== "warn" && onExpiry !== "refuse")
    throw usage(`--on-expiry must be warn or refuse, not '${onExpiry}'`);
  const request: SignedBundleRequest = {
    expiresIn: values.expires === undefined ? ISSUER_VALIDITY_SECONDS : parseDuration(values.expires, "--expires"),
    onExpiry,
  };
  const version = values["trust-version"];
  if (version !== undefined) request.trustVersion = positiveInteger(version, "--trust-version");
  const threshold = values["root-threshold"];
  if (threshold !== undefined) request.threshold = positiveInteger(threshold, "--root-threshold");
  const approvalsFor = values["approvals-for"];
  if (approvalsFor !== undefined) request.approvalPolicy = approvalsFor.map(parseApprovalsOption);
  const policy = requestPolicyOption(values);
  if (policy !== undefined) request.requestPolicy = policy;
  return request;
}

/**
 * The bundle's `requestPolicy` (docs/requests.md, "Policy"): given when any
 * of its options is, each other member at its default.
 */
function requestPolicyOption(values: Values): RequestPolicy | undefined {
  const required = values["require-requests"];
  const lifetime = values["request-lifetime"];
  const maxPending = values["max-pending-requests"];
  if (required === undefined && lifetime === undefined && maxPending === undefined) return undefined;
  const targets = required === undefined ? [] : [...new Set(required.split(",").map((t) => t.trim()))].sort();
  for (const t of targets) {
    if (t === "*") continue;
    try {
      parseTarget(t);
    } catch (err) {
      throw new AirgrantError("bad-input", `--require-requests: ${(err as Error).message}`);
    }
  }
  const policy: RequestPolicy = { ...DEFAULT_REQUEST_POLICY, required: targets };
  if (lifetime !== undefined) {
    policy.lifetime = duration(lifetime, "request-lifetime", MAX_REQUEST_LIFETIME);
    if (policy.lifetime < 60) throw new AirgrantError("bad-input", "--request-lifetime must be at least 1m");
  }
  if (maxPending !== undefined) {
    policy.maxPendingPerHost = positiveInteger(maxPending, "--max-pending-requests");
    if (policy.maxPendingPerHost > MAX_PENDING_REQUESTS) {
      throw new AirgrantError("bad-input", `--max-pending-requests must be at most ${MAX_PENDING_REQUESTS}`);
    }
  }
  return policy;
}

function positiveInteger(text: string, flag: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new AirgrantError("bad-input", `${flag} must be a whole number from 1`);
  }
  return Number(text);
}

/** The root token of `root init` and `bundle sign`: always named, never the home's issuer token by default. */
function openRootToken(ctx: Context, modulePath: string | undefined): TokenSession {
  const tokenLabel = required(ctx.values, "token", "this command");
  return openToken({
    modulePath: ctx.values.module ?? modulePath ?? findPkcs11Module(),
    tokenLabel,
    pin: readPin(ctx.values["pin-file"], tokenLabel),
  });
}

function runRootInit(ctx: Context): number {
  required(ctx.values, "token", "root init");
  const alg = ctx.values.alg ?? "ecdsa-p256";
  if (!isIssuerKeyAlg(alg)) throw usage(`--alg must be ecdsa-p256 or ed25519, not '${alg}'`);
  const keyLabel = ctx.values["key-label"] ?? DEFAULT_ROOT_KEY_LABEL;
  const result = initRootKey(ctx.home, () => openRootToken(ctx, undefined), { keyLabel, alg });
  const { root } = result;
  const how = result.recorded
    ? result.generated
      ? "generated on the token"
      : "found on the token"
    : "already recorded";
  print(
    ctx,
    {
      keyId: root.keyId,
      alg: root.alg,
      keyLabel,
      token: root.token.tokenLabel,
      generated: result.generated,
      recorded: result.recorded,
    },
    `root key ${root.keyId} (${root.alg}, label "${keyLabel}" on token "${root.token.tokenLabel}"): ${how}\n`,
  );
  return 0;
}

function runRootList(ctx: Context): number {
  const roots = readRootsRecord(ctx.home);
  const keys = roots.keys.map((k) => ({
    keyId: k.keyId,
    alg: k.alg,
    keyLabel: k.keyLabel,
    token: k.token.tokenLabel,
    created: k.created,
    removed: k.removed ?? null,
  }));
  const lines = keys.map(
    (k) =>
      `${k.keyId}\t${k.alg}\t${k.token}\t${k.keyLabel}\t${k.removed === null ? "current" : `removed ${k.removed}`}\n`,
  );
  print(
    ctx,
    { keys, threshold: roots.threshold ?? null, lastTrustVersion: roots.lastTrustVersion },
    keys.length === 0 ? "no root keys recorded\n" : lines.join(""),
  );
  return 0;
}

function runRootRemove(ctx: Context): number {
  const keyId = required(ctx.values, "key-id", "root remove").toLowerCase();
  const auditSeq = removeRootKey(ctx.home, keyId);
  print(ctx, { keyId, auditSeq }, `root key ${keyId} is left out of the next signed bundle's roots\n`);
  return 0;
}

function runBundleSign(ctx: Context, file: string): number {
  const tokenLabel = required(ctx.values, "token", "bundle sign");
  const root = findRootKey(ctx.home, tokenLabel, ctx.values["key-label"] ?? DEFAULT_ROOT_KEY_LABEL);
  const result = signBundleFile(ctx.home, file, root, () => openRootToken(ctx, root.token.modulePath));
  const { roots, trustVersion } = result.file.bundle.signedTrust;
  print(
    ctx,
    {
      bundleId: result.file.bundle.bundleId,
      trustVersion,
      keyId: root.keyId,
      ownRoot: result.ownRoot,
      ownRootsSigned: result.ownRootsSigned,
      rootThreshold: roots.threshold,
      auditSeq: result.auditSeq,
    },
    `signed trust version ${trustVersion} in ${file} with root key ${root.keyId}${result.ownRoot ? "" : " (not one of its own roots: a signature for the roots hosts have)"}; ${result.ownRootsSigned} of its ${roots.keys.length} root key(s) have signed, ${roots.threshold} must\n`,
  );
  return 0;
}

function runCheckpoint(ctx: Context): number {
  const { seq, covers } = withSigner(
    ctx.home,
    (recorded) => openCommandToken(ctx, recorded),
    (signer) => writeCheckpoint(signer),
  );
  print(ctx, { checkpointSeq: seq, covers }, `checkpoint ${seq} signs the audit log up to entry ${covers}\n`);
  return 0;
}

function runStatus(ctx: Context): number {
  const issuer = readIssuerRecord(ctx.home.issuerPath);
  const policy = readPolicy(ctx.home.policyPath);
  const head = readAuditHead(ctx.home.auditLogPath);
  const retired = readRetiredIssuers(ctx.home);
  print(
    ctx,
    {
      home: ctx.home.dir,
      issuer:
        issuer === undefined
          ? null
          : {
              keyId: issuer.keyId,
              alg: issuer.alg,
              keyLabel: issuer.keyLabel,
              created: issuer.created,
              token: issuer.token ?? null,
            },
      retiredIssuers: retired.map((k) => ({ keyId: k.keyId, alg: k.alg, keyLabel: k.keyLabel, retireAt: k.retireAt })),
      officers: policy.officers.length,
      maxLifetime: policy.maxLifetime,
      logHead: head ?? null,
    },
    [
      `home:            ${ctx.home.dir}`,
      `issuer key:      ${issuer === undefined ? 'none (run "airgrant-signer init")' : `${issuer.keyId} ${issuer.alg} label "${issuer.keyLabel}" since ${issuer.created}`}`,
      `token:           ${tokenLine(issuer)}`,
      ...retired.map((k) => `retired key:     ${k.keyId} ${k.alg} label "${k.keyLabel}" at ${isoSeconds(k.retireAt)}`),
      `officers:        ${policy.officers.length}`,
      `longest grant:   ${formatDuration(policy.maxLifetime)}`,
      `audit log head:  ${head === undefined ? "(empty)" : `seq ${head.seq} ${head.hash}`}`,
      "",
    ].join("\n"),
  );
  return 0;
}

/** Status's token line: what init recorded, or what a home without a record opens. */
function tokenLine(issuer: IssuerRecord | undefined): string {
  if (issuer?.token !== undefined) return `"${issuer.token.tokenLabel}" in ${issuer.token.modulePath}`;
  if (issuer === undefined) return "none recorded";
  return "not recorded: --token and --module, else $AIRGRANT_TOKEN and $AIRGRANT_PKCS11_MODULE, else airgrant on SoftHSM2";
}

const COMMANDS: Readonly<Record<string, (ctx: Context, ...args: string[]) => number>> = {
  init: runInit,
  "officer add": runOfficerAdd,
  "officer list": runOfficerList,
  "officer remove": runOfficerRemove,
  grant: runGrant,
  bundle: runBundle,
  "bundle sign": runBundleSign,
  "root init": runRootInit,
  "root list": runRootList,
  "root remove": runRootRemove,
  "approver enrol": runApproverEnrol,
  "approver list": runApproverList,
  "approver remove": runApproverRemove,
  approve: runApprove,
  deny: runDeny,
  certify: runCertify,
  revoke: runRevoke,
  krl: runKrl,
  status: runStatus,
  checkpoint: runCheckpoint,
};

/** Commands with subcommands (`bundle` alone is a command too), as the usage error lists them. */
const SUBCOMMANDS: Readonly<Record<string, string>> = {
  officer: "add, list or remove",
  root: "init, list or remove",
  approver: "enrol, list or remove",
  bundle: "sign, or no subcommand",
};

/** The one positional argument a command takes after its name, as its usage error names it. */
const COMMAND_ARGUMENTS: Readonly<Record<string, string>> = {
  "bundle sign": "a FILE",
  revoke: "a GRANTID",
  approve: "a FILE",
  deny: "a FILE",
  certify: "a FILE",
};

// The QR encoder is a fifth of the start-up of every command; only a grant
// that prints or writes a QR code loads it.
let qr: typeof import("@airgrant/core/qr") | undefined;
const wantsQr = process.argv.some((arg) => /^--qr(-png|-svg)?(=|$)/.test(arg));
void (wantsQr ? import("@airgrant/core/qr") : Promise.resolve(undefined)).then((encoder) => {
  qr = encoder;
  process.exitCode = runCommandLine(CLI, process.argv.slice(2), OPTIONS, runCommand);
});

function runCommand({ values, positionals }: ParsedArgs<typeof OPTIONS>): number {
  const [first, second, ...rest] = positionals;
  if (first === undefined) throw usage("no command given");
  const grouped = SUBCOMMANDS[first] !== undefined && (first !== "bundle" || second !== undefined);
  const command = grouped ? `${first} ${second ?? ""}`.trim() : first;
  const extra = grouped ? rest : positionals.slice(1);
  const run = COMMANDS[command];
  if (run === undefined) {
    throw usage(grouped ? `${first} takes ${SUBCOMMANDS[first]}` : `unknown command '${first}'`);
  }
  const argument = COMMAND_ARGUMENTS[command];
  const takes = argument === undefined ? 0 : 1;
  if (extra.length > takes) throw usage(`${command} takes no argument '${extra[takes]}'`);
  if (extra.length < takes) throw usage(`${command} takes ${argument}`);
  const allowed = new Set([...GLOBAL_OPTIONS, ...(COMMAND_OPTIONS[command] ?? [])]);
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== false && !allowed.has(name)) throw usage(`${command} does not take --${name}`);
  }
  const home = signerHome(resolveSignerHome(values.home));
  return run({ values, home, json: values.json === true }, ...extra);
}
