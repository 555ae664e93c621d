import { randomFillSync } from "node:crypto";
import { statSync } from "node:fs";
import {
  AirgrantError,
  type AuditValue,
  encodeGrant,
  encodeGrantBody,
  encodeGrantText,
  type ErrorCode,
  exitClassOf,
  formatTarget,
  fromHex,
  type GrantFields,
  type GrantTarget,
  MAX_SINGLE_SIGNATURE_TEXT_LENGTH,
  sha256,
  signedGrantTextLength,
  toHex,
  withHeldAuditLog,
} from "@airgrant/core";
import { type OtpKey, parseOtp, validateOtp } from "@airgrant/yubikey-otp";
import { formatDuration } from "./duration.js";
import { withHomeLock } from "./home-lock.js";
import { type IssuerRecord, requireIssuerRecord, signatureAlgorithmOf } from "./issuer-record.js";
import { LogBackedCounters } from "./log-backed-counters.js";
import type { SignerHome } from "./signer-home.js";
import { type Officer, officerMayApprove, readPolicy, type SignerPolicy } from "./signer-policy.js";
import { signSshUserCertificate } from "./ssh-user-certificate.js";
import type { TokenSession } from "./token-session.js";

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
  /** The engineer's OpenSSH public key line: also mint a certificate for it (docs/openssh.md). */
  sshPublicKey?: string;
}

/** A signer ready to mint: its home, a logged-in token session, the issuer key it signs with. */
export interface Signer {
  home: SignerHome;
  session: TokenSession;
  issuer: IssuerRecord;
  /** The OTP counters as of the last mint in this process; see saveCounters. */
  counters?: LogBackedCounters;
  /** policy.json as last read, with the file identity it was read from. */
  policy?: { identity: string; policy: SignerPolicy };
}

export interface MintOptions {
  clock?: () => Date;
  randomBytes?: (length: number) => Uint8Array;
}

export type MintResult =
  | {
      ok: true;
      /** The grant's text form, AG1-… */
      grant: string;
      grantId: string;
      user: string;
      target: string;
      notBefore: number;
      notAfter: number;
      maxUses: number;
      officer: string;
      auditSeq: number;
      /** The id_*-cert.pub line, when an OpenSSH public key was given. */
      sshCertificate?: string;
    }
  | { ok: false; code: ErrorCode; message: string; auditSeq: number };

/**
 * Random bytes for what a mint draws (grant ids, certificate serials and
 * nonces: all public, none a key), from the system generator a few
 * kilobytes at a time: one draw each cost more than the rest of the
 * grant's encoding. Each byte is handed out once; the pool is refilled
 * when it runs out.
 */
const randomPool = new Uint8Array(4096);
let randomPoolUsed = randomPool.length;
function pooledRandomBytes(length: number): Uint8Array {
  if (length > randomPool.length) return randomFillSync(new Uint8Array(length));
  if (randomPoolUsed + length > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolUsed = 0;
  }
  const out = randomPool.slice(randomPoolUsed, randomPoolUsed + length);
  randomPoolUsed += length;
  return out;
}

/**
 * Reads issuer.json and checks that the token holds that very key (its public
 * half must match), so a grant is never signed by a key the bundle lacks.
 */
export function prepareSigner(home: SignerHome, session: TokenSession): Signer {
  const issuer = requireIssuerRecord(home.issuerPath);
  const onToken = session.findOrCreateIssuerKey({ label: issuer.keyLabel, alg: issuer.alg, create: false });
  if (Buffer.compare(Buffer.from(onToken.publicKeySpki), Buffer.from(issuer.publicKey)) !== 0) {
    throw new AirgrantError(
      "key-missing",
      `the key "${issuer.keyLabel}" on token "${session.tokenLabel}" is not the issuer key ${issuer.keyId} recorded in ${home.issuerPath}; use the token it was made on, or run init in a new --home`,
    );
  }
  return { home, session, issuer };
}

function grantFields(signer: Signer, request: GrantRequest, notBefore: number, grantId: Uint8Array): GrantFields {
  return {
    grantId,
    issuerKeyId: fromHex(signer.issuer.keyId, 8, "internal", "issuer key id"),
    notBefore,
    notAfter: notBefore + request.ttl,
    maxUses: request.maxUses,
    principal: request.user,
    target: request.target,
    anchor: { seq: 0, headPrefix: new Uint8Array(8) },
    reason: request.reason,
  };
}

/**
 * Checks a request's fields before the officer is asked to touch the key:
 * `invalid-grant-field` for a field a grant cannot hold, `grant-too-long`
 * when the grant's text would not fit PAM's 512-byte response.
 */
export function checkGrantRequest(signer: Signer, request: GrantRequest, now: number): void {
  const body = encodeGrantBody(grantFields(signer, request, request.notBefore ?? now, new Uint8Array(16)));
  const length = signedGrantTextLength(body.length, 1);
  if (length > MAX_SINGLE_SIGNATURE_TEXT_LENGTH) {
    throw new AirgrantError(
      "grant-too-long",
      `the grant would be ${length} characters, more than the ${MAX_SINGLE_SIGNATURE_TEXT_LENGTH} a PAM password prompt takes; shorten --reason, --user or --host`,
    );
  }
}

/**
 * policy.json, parsed again only when it changed: it is replaced by rename,
 * so a new version has a new inode (and a new mtime).
 */
function currentPolicy(signer: Signer): SignerPolicy {
  let identity: string;
  try {
    // Milliseconds as a double keep sub-microsecond digits: no need for bigint.
    const st = statSync(signer.home.policyPath);
    identity = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    identity = "absent";
  }
  if (signer.policy?.identity === identity) return signer.policy.policy;
  const policy = readPolicy(signer.home.policyPath);
  signer.policy = { identity, policy };
  return policy;
}

/**
 * Writes the OTP counter cache (otp-counters.json) as of this process's last
 * mint, under the home's lock. The CLI calls it after minting; a long-lived
 * caller may call it when idle. Skipping it costs the next process a rebuild
 * of the counters from the log, never a replay.
 */
export function saveCounters(signer: Signer): void {
  const counters = signer.counters;
  if (counters === undefined) return;
  withHomeLock(signer.home.lockPath, () => counters.save());
}

/** The YubiKey's public id, for the audit log, when the OTP has one. */
function publicIdOf(otp: string): string | undefined {
  try {
    return parseOtp(otp).publicId;
  } catch {
    return undefined;
  }
}

/**
 * Mints one grant, the whole of `airgrant-signer grant` after the input is
 * read: validate the OTP offline with the officer's AES key on the token and
 * the counters recorded in the signer log; check the officer's policy; then, under the home's lock,
 * anchor the grant to the signer log's head, sign it on the token and append
 * `grant-issued` (durably) before returning it. A refused OTP or policy is a
 * verdict, recorded as `grant-refused`. Only the environment throws.
 */
export function mintGrant(signer: Signer, otp: string, request: GrantRequest, options: MintOptions = {}): MintResult {
  const clock = options.clock ?? (() => new Date());
  const random = options.randomBytes ?? pooledRandomBytes;
  const { home, session, issuer } = signer;
  const target = formatTarget(request.target);
  // Under the home's lock, which every append to the signer log takes; the
  // log is opened once for the head the grant is anchored to and the append.
  return withHomeLock(home.lockPath, () =>
    withHeldAuditLog(home.auditLogPath, (log): MintResult => {
      const policy = currentPolicy(signer);
      const head = log.head;
      const counters = LogBackedCounters.load(home.countersPath, home.auditLogPath, head, signer.counters);
      signer.counters = counters;
      // The entry that ends the mint also makes its OTP counter durable (docs/signer.md, "OTP counters").
      const audit = (type: string, data: Record<string, AuditValue>): number => {
        const otpCounter = counters.pendingCounter();
        // Each caller builds `data` afresh for this entry.
        if (otpCounter !== undefined) data.otpCounter = otpCounter;
        const entry = log.append(type, data, { clock });
        counters.commit(entry);
        return entry.seq;
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

        const notBefore = request.notBefore ?? Math.floor(clock().getTime() / 1000);
        const grantId = random(16);
        const fields = grantFields(signer, request, notBefore, grantId);
        fields.anchor = {
          seq: head?.seq ?? 0,
          headPrefix:
            head === undefined ? new Uint8Array(8) : fromHex(head.hash, 32, "internal", "log head").subarray(0, 8),
        };
        const body = encodeGrantBody(fields);
        const length = signedGrantTextLength(body.length, 1);
        if (length > MAX_SINGLE_SIGNATURE_TEXT_LENGTH) {
          return refuse(
            "grant-too-long",
            `the grant would be ${length} characters, more than ${MAX_SINGLE_SIGNATURE_TEXT_LENGTH}`,
          );
        }
        const signature = session.sign(issuer.keyLabel, body);
        const bytes = encodeGrant(body, [
          { keyId: fields.issuerKeyId, algorithm: signatureAlgorithmOf(issuer.alg), signature },
        ]);
        const grantIdHex = toHex(grantId);
        const certificate =
          request.sshPublicKey === undefined
            ? undefined
            : signSshUserCertificate(
                signer,
                {
                  grantId: grantIdHex,
                  user: request.user,
                  notBefore,
                  notAfter: fields.notAfter,
                  maxUses: request.maxUses,
                },
                request.sshPublicKey,
                random,
              );
        // Built as plain literals, without spreads: between the token's calls
        // and the fsync, copying objects by spread cost a mint more than
        // hashing the grant.
        const data: Record<string, AuditValue> = {
          grantId: grantIdHex,
          user: request.user,
          target,
          notBefore,
          notAfter: fields.notAfter,
          maxUses: request.maxUses,
          officer: approver.name,
          yubikeyId: approver.yubikeyId,
          reason: request.reason,
          issuerKeyId: issuer.keyId,
          grantSha256: toHex(sha256(bytes)),
        };
        if (certificate !== undefined) {
          const { serial, keyId, subjectKeySha256 } = certificate;
          data.sshCertificate = { serial, keyId, subjectKeySha256 };
        }
        const minted: MintResult = {
          ok: true,
          grant: encodeGrantText(bytes),
          grantId: grantIdHex,
          user: request.user,
          target,
          notBefore,
          notAfter: fields.notAfter,
          maxUses: request.maxUses,
          officer: approver.name,
          auditSeq: audit("grant-issued", data),
        };
        if (certificate !== undefined) minted.sshCertificate = certificate.line;
        return minted;
      } catch (err) {
        // The OTP was accepted: its counter must reach the log even though no
        // grant came of it, and the failure is part of the record.
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
    }),
  );
}
