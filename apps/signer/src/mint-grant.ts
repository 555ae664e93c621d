import { randomBytes } from "node:crypto";
import {
  AirgrantError,
  type AuditRecord,
  auditData,
  type ErrorCode,
  encodeGrant,
  encodeGrantBody,
  encodeGrantText,
  exitClassOf,
  formatTarget,
  fromHex,
  type GrantTarget,
  MAX_SINGLE_SIGNATURE_TEXT_LENGTH,
  type RequestCode,
  readAuditHead,
  requestChallenge,
  sha256,
  signedGrantTextLength,
  toHex,
} from "@airgrant/core";
import { type OtpKey, parseOtp, validateOtp } from "@airgrant/yubikey-otp";
import { formatDuration } from "./duration.js";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";
import { appendSignerEntry, LogBackedCounters, tokenCounterAnchor } from "./log-backed-counters.js";
import type { PendingGrant } from "./pending-grant.js";
import { readRetiredIssuers } from "./retired-issuers.js";
import { readRootsRecord } from "./root-keys.js";
import type { Signer } from "./signer.js";
import { type Officer, officerMayApprove, readPolicy } from "./signer-policy.js";
import { type SshPublicKey, signSshUserCertificate } from "./ssh-user-certificate.js";
import { writeCheckpoint } from "./write-checkpoint.js";

/** What an officer asks for (`airgrant-signer grant`). */
export interface GrantRequest {
  user: string;
  target: GrantTarget;
  /** Seconds from notBefore to notAfter. */
  ttl: number;
  reason: string;
  maxUses: number;
  /** Seconds since the epoch; default: now. */
  notBefore?: number;
  /** The lowest trust version a host must have applied to accept the grant (`--min-trust-version`). */
  minTrustVersion?: number;
  /** The engineer's OpenSSH public key (parseSshPublicKeyLine): also mint a certificate for it (docs/openssh.md). */
  sshPublicKey?: SshPublicKey;
  /** 1..3: make a pending grant that this many officers approve with their own keys (docs/two-person.md). */
  approvals?: number;
  /** The host's request this grant answers: it becomes the grant's `challenge` (docs/requests.md). */
  requestCode?: RequestCode;
}

export interface MintOptions {
  clock?: () => Date;
  randomBytes?: (length: number) => Uint8Array;
}

export type MintResult =
  | {
      ok: true;
      /** The grant's text form, AG1-…; absent for a pending grant. */
      grant?: string;
      /** The pending grant, when approvals were asked for: it has the issuer's signature and no approval yet. */
      pending?: PendingGrant;
      /** Characters of the grant's text once it has every signature it is made for. */
      textLength: number;
      grantId: string;
      user: string;
      target: string;
      notBefore: number;
      notAfter: number;
      maxUses: number;
      officer: string;
      /** The request code's 18 symbols, for a grant bound to one. */
      request?: string;
      auditSeq: number;
      /** The id_*-cert.pub line, when an OpenSSH public key was given. */
      sshCertificate?: string;
    }
  | { ok: false; code: ErrorCode; message: string; auditSeq: number };

/** The YubiKey's public id, for the audit log, when the OTP has one. */
function publicIdOf(otp: string): string | undefined {
  try {
    return parseOtp(otp).publicId;
  } catch {
    return undefined;
  }
}

/**
 * Mints one grant: the whole of `airgrant-signer grant` after its arguments
 * are parsed, inside the signer's one lock (withSigner). In this order: the
 * grant body is built and encoded, anchored to the signer log's head, and
 * refused (`bad-input` for a minimum trust version no signed bundle has
 * reached, `invalid-grant-field`, `grant-too-long`) before the officer is
 * asked to touch the key; `readOtp` gives the OTP, validated offline with
 * the officer's AES key on the token and the counters of the log, anchored
 * on the token; the officer's policy is checked; the body is signed on the
 * token (and the certificate, if asked for); `grant-issued` is appended
 * (durably), the counter recorded on the token, and the log's head signed
 * as a checkpoint, before the grant is returned. A refused OTP or policy is
 * a verdict, recorded as `grant-refused`. Only the environment throws.
 */
export function mintGrant(
  signer: Signer,
  request: GrantRequest,
  readOtp: () => string,
  options: MintOptions = {},
): MintResult {
  const clock = options.clock ?? (() => new Date());
  const random = options.randomBytes ?? ((length: number) => new Uint8Array(randomBytes(length)));
  const { home, session, issuer } = signer;
  const target = formatTarget(request.target);
  if (request.minTrustVersion !== undefined) {
    const last = readRootsRecord(home).lastTrustVersion;
    if (request.minTrustVersion > last) {
      throw new AirgrantError(
        "bad-input",
        `--min-trust-version ${request.minTrustVersion} is above ${last}, the last signed bundle this signer exported: no host could accept the grant; export that version first (bundle --signed)`,
      );
    }
  }
  const head = readAuditHead(home.auditLogPath);
  const notBefore = request.notBefore ?? Math.floor(clock().getTime() / 1000);
  const notAfter = notBefore + request.ttl;
  const grantId = random(16);
  const body = encodeGrantBody({
    grantId,
    issuerKeyId: fromHex(issuer.keyId, 8, "internal", "issuer key id"),
    notBefore,
    notAfter,
    maxUses: request.maxUses,
    principal: request.user,
    target: request.target,
    anchor: {
      seq: head?.seq ?? 0,
      headPrefix:
        head === undefined ? new Uint8Array(8) : fromHex(head.hash, 32, "internal", "log head").subarray(0, 8),
    },
    reason: request.reason,
    ...(request.minTrustVersion === undefined ? {} : { minTrustVersion: request.minTrustVersion }),
    ...(request.requestCode === undefined ? {} : { challenge: requestChallenge(request.requestCode) }),
  });
  if (request.approvals !== undefined && request.sshPublicKey !== undefined) {
    throw new AirgrantError(
      "usage",
      "a certificate carries the approvals it is signed with: --ssh-pubkey goes with certify once the grant has them, not with --approvals",
    );
  }
  const length = signedGrantTextLength(body.length, 1 + (request.approvals ?? 0));
  // A grant with approvals is carried as a file or a QR code when it is too long to type (docs/two-person.md, "Carriers").
  if (request.approvals === undefined && length > MAX_SINGLE_SIGNATURE_TEXT_LENGTH) {
    throw new AirgrantError(
      "grant-too-long",
      `the grant would be ${length} characters, more than the ${MAX_SINGLE_SIGNATURE_TEXT_LENGTH} a PAM password prompt takes; shorten --reason, --user or --host`,
    );
  }

  const otp = readOtp();
  const policy = readPolicy(home.policyPath);
  const counters = LogBackedCounters.load(
    home.countersPath,
    home.auditLogPath,
    head,
    tokenCounterAnchor(
      session,
      issuer.keyId,
      readRetiredIssuers(home).map((retired) => retired.keyId),
    ),
  );
  // The entry that ends the mint also makes its OTP counter durable (docs/signer.md, "OTP counters").
  const audit = <T extends "grant-issued" | "grant-refused">(type: T, record: AuditRecord<T>): number => {
    const otpCounter = counters.pendingCounter();
    const data = auditData(type, otpCounter === undefined ? record : { ...record, otpCounter });
    return appendSignerEntry(home, type, data, clock, counters).seq;
  };
  // Set when the OTP's public id names an officer; trusted only once the OTP is accepted.
  let claimed: Officer | undefined;
  let officer: Officer | undefined;
  const refuse = (code: ErrorCode, message: string): MintResult => {
    const yubikeyId = claimed?.yubikeyId ?? publicIdOf(otp);
    const auditSeq = audit("grant-refused", {
      code,
      user: request.user,
      target,
      ttl: request.ttl,
      ...(officer === undefined ? {} : { officer: officer.name }),
      ...(yubikeyId === undefined ? {} : { yubikeyId }),
    });
    return { ok: false, code, message, auditSeq };
  };

  const verdict = validateOtp(
    otp,
    (publicId): OtpKey | undefined => {
      const found = policy.officers.find((o) => o.yubikeyId === publicId);
      if (found === undefined) return undefined;
      claimed = found;
      return {
        privateId: fromHex(found.privateId, 6, "state-corrupt", "private id"),
        decryptor: { decryptBlock: (block) => session.aesEcbDecrypt(found.aesKeyLabel, block) },
      };
    },
    counters,
  );
  if (!verdict.ok) return refuse(verdict.code, verdict.message);
  officer = claimed;
  if (officer === undefined) throw new AirgrantError("internal", "an accepted OTP without its officer");
  const approver = officer;
  let minted: MintResult;
  try {
    if (!officerMayApprove(approver, request.target)) {
      return refuse(
        "officer-not-allowed",
        `officer ${approver.name} may approve grants for ${approver.targets.join(",")}, not ${target}`,
      );
    }
    if (request.ttl > approver.maxTtl) {
      return refuse(
        "ttl-too-long",
        `officer ${approver.name} may approve grants of at most ${formatDuration(approver.maxTtl)}, not ${formatDuration(request.ttl)}`,
      );
    }
    if (request.ttl > policy.maxLifetime) {
      return refuse(
        "ttl-too-long",
        `hosts accept grants of at most ${formatDuration(policy.maxLifetime)} (the last bundle's --max-lifetime), not ${formatDuration(request.ttl)}`,
      );
    }
    const signature = session.sign(issuer.keyLabel, body);
    const algorithm = signatureAlgorithmOf(issuer.alg);
    const bytes = encodeGrant(body, [
      { keyId: fromHex(issuer.keyId, 8, "internal", "issuer key id"), algorithm, signature },
    ]);
    const pending: PendingGrant | undefined =
      request.approvals === undefined
        ? undefined
        : {
            body,
            issuer: { keyId: issuer.keyId, algorithm, signature },
            approvals: [],
            approvalsNeeded: request.approvals,
          };
    const grantIdHex = toHex(grantId);
    const certificate =
      request.sshPublicKey === undefined
        ? undefined
        : signSshUserCertificate(
            signer,
            {
              grantId: grantIdHex,
              user: request.user,
              target,
              notBefore,
              notAfter,
              maxUses: request.maxUses,
              ...(request.minTrustVersion === undefined ? {} : { minTrustVersion: request.minTrustVersion }),
              ...(request.requestCode === undefined ? {} : { request: request.requestCode.symbols }),
            },
            request.sshPublicKey,
            random,
          );
    // What the grant says, as the log records it and the officer is told.
    const issued = {
      grantId: grantIdHex,
      user: request.user,
      target,
      notBefore,
      notAfter,
      maxUses: request.maxUses,
      officer: approver.name,
      ...(request.requestCode === undefined ? {} : { request: request.requestCode.symbols }),
    };
    const auditSeq = audit("grant-issued", {
      ...issued,
      yubikeyId: approver.yubikeyId,
      reason: request.reason,
      issuerKeyId: issuer.keyId,
      grantSha256: toHex(sha256(bytes)),
      ...(request.minTrustVersion === undefined ? {} : { minTrustVersion: request.minTrustVersion }),
      ...(pending === undefined ? {} : { approvalsNeeded: pending.approvalsNeeded, bodySha256: toHex(sha256(body)) }),
      ...(certificate === undefined
        ? {}
        : {
            sshCertificate: {
              serial: certificate.serial,
              keyId: certificate.keyId,
              subjectKeySha256: certificate.subjectKeySha256,
            },
          }),
    });
    minted = {
      ok: true,
      ...(pending === undefined ? { grant: encodeGrantText(bytes) } : { pending }),
      textLength: length,
      ...issued,
      auditSeq,
      ...(certificate === undefined ? {} : { sshCertificate: certificate.line }),
    };
  } catch (err) {
    // The OTP was accepted: if its counter has not reached the log yet, it
    // must, although no grant came of it, and the failure is part of the record.
    if (counters.pendingCounter() === undefined) throw err;
    const code = err instanceof AirgrantError ? err.code : "internal";
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof AirgrantError && exitClassOf(code) === "verdict") return refuse(code, message);
    try {
      refuse(code, message);
    } catch {
      // The log itself failing; the original error is the one to report.
    }
    throw err;
  }
  writeCheckpoint(signer, clock);
  return minted;
}
