// Test support only (excluded from the build): signer and host logs written
// with the real appender and the entry shapes of docs/signer.md and
// docs/verifier.md, on a pinned clock.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AuditValue, appendAuditEntry, encodeTrustBundle, keyIdOf, readAuditHead, toHex } from "@airgrant/core";

/** 2026-11-25T12:00:00Z, in seconds: every scenario's grants start here. */
export const T0 = 1_795_608_000;

export const ISSUER_KEY_ID = "8bfc7778ca5f3f86";

export interface IssuedFixture {
  grantId: string;
  user: string;
  target: string;
  notBefore: number;
  notAfter: number;
  maxUses: number;
  officer: string;
  anchor: { seq: number; head: string };
  seq: number;
  /** A pending grant's body hash (with approvalsNeeded): what its grant-approved entries name. */
  bodySha256?: string;
}

export interface UseOptions {
  user?: string;
  host?: string;
  /** Seconds; default ten minutes into the window. */
  at?: number;
  verdict?: string;
  /** Members replacing (or, with undefined, removing) what the host would log. */
  data?: Record<string, AuditValue | undefined>;
}

const at = (seconds: number) => () => new Date(seconds * 1000);

export class AuditScenario {
  readonly signerLog: string;
  private readonly uses = new Map<string, number>();
  #touches = 0;

  constructor(readonly dir: string) {
    this.signerLog = join(dir, "signer.log");
  }

  hostLog(name: string): string {
    return join(this.dir, `${name}.log`);
  }

  /** A grant-issued entry as the signer writes it, anchored at the signer log's head. */
  issue(
    fields: Partial<Omit<IssuedFixture, "anchor" | "seq">> & {
      issuerKeyId?: string;
      otpCounter?: [number, number];
      minTrustVersion?: number;
      approvalsNeeded?: number;
      /** The request code a grant bound to one names. */
      request?: string;
      /** The serial of the OpenSSH certificate issued with it (grant --ssh-pubkey). */
      sshSerial?: string;
    } = {},
  ): IssuedFixture {
    const notBefore = fields.notBefore ?? T0;
    const head = readAuditHead(this.signerLog) ?? this.openSignerLog(notBefore);
    const grant = {
      grantId: fields.grantId ?? toHex(randomBytes(16)),
      user: fields.user ?? "alice",
      target: fields.target ?? "db1.example",
      notBefore,
      notAfter: fields.notAfter ?? notBefore + 3600,
      maxUses: fields.maxUses ?? 1,
      officer: fields.officer ?? "olivia",
    };
    const bodySha256 = fields.approvalsNeeded === undefined ? undefined : toHex(randomBytes(32));
    const entry = appendAuditEntry(
      this.signerLog,
      "grant-issued",
      {
        ...grant,
        grantSha256: toHex(randomBytes(32)),
        issuerKeyId: fields.issuerKeyId ?? ISSUER_KEY_ID,
        // Each grant a new touch of the officer's YubiKey, as the signer records it.
        otpCounter: fields.otpCounter ?? [1, ++this.#touches],
        reason: "change 42",
        yubikeyId: "cccccccccccb",
        ...(fields.minTrustVersion === undefined ? {} : { minTrustVersion: fields.minTrustVersion }),
        ...(fields.approvalsNeeded === undefined ? {} : { approvalsNeeded: fields.approvalsNeeded }),
        ...(bodySha256 === undefined ? {} : { bodySha256 }),
        ...(fields.request === undefined ? {} : { request: fields.request }),
        ...(fields.sshSerial === undefined
          ? {}
          : { sshCertificate: { serial: fields.sshSerial, keyId: grant.grantId, subjectKeySha256: "5".repeat(64) } }),
      },
      { clock: at(notBefore) },
    );
    return {
      ...grant,
      anchor: { seq: head.seq, head: head.hash.slice(0, 16) },
      seq: entry.seq,
      ...(bodySha256 === undefined ? {} : { bodySha256 }),
    };
  }

  private openSignerLog(time: number): { seq: number; hash: string } {
    appendAuditEntry(this.signerLog, "issuer-initialised", { keyId: ISSUER_KEY_ID }, { clock: at(time - 60) });
    return readAuditHead(this.signerLog) as { seq: number; hash: string };
  }

  /** Any other signer entry (grant-refused, bundle-exported, …). */
  signerEntry(type: string, data: Record<string, AuditValue>, time = T0): void {
    if (readAuditHead(this.signerLog) === undefined) this.openSignerLog(time);
    appendAuditEntry(this.signerLog, type, data, { clock: at(time) });
  }

  /** Any other host entry (bundle-installed, …). */
  hostEntry(hostName: string, type: string, data: Record<string, AuditValue>, time = T0): void {
    appendAuditEntry(this.hostLog(hostName), type, data, { clock: at(time) });
  }

  /** A grant-check entry as `airgrant-verifier check` writes it on host `hostName`. */
  use(hostName: string, grant: IssuedFixture, options: UseOptions = {}): void {
    const verdict = options.verdict ?? "allowed";
    const key = `${hostName}/${grant.grantId}`;
    const use = (this.uses.get(key) ?? 0) + 1;
    if (verdict === "allowed") this.uses.set(key, use);
    const data: Record<string, AuditValue | undefined> = {
      anchor: grant.anchor,
      grantId: grant.grantId,
      host: options.host ?? hostName,
      issuer: ISSUER_KEY_ID,
      notAfter: grant.notAfter,
      notBefore: grant.notBefore,
      presented: toHex(randomBytes(32)),
      presentedBytes: 326,
      principal: grant.user,
      target: grant.target,
      user: options.user ?? grant.user,
      verdict,
      ...(verdict === "allowed" ? { use } : {}),
      ...options.data,
    };
    const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== undefined)) as Record<
      string,
      AuditValue
    >;
    appendAuditEntry(this.hostLog(hostName), "grant-check", clean, {
      clock: at(options.at ?? grant.notBefore + 600),
    });
  }

  /** A trust bundle with these groups and clock skew, as `airgrant-signer bundle` writes it. */
  bundle(groups: Record<string, string[]>, clockSkew = 300): string {
    const { publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const spki = new Uint8Array(publicKey.export({ format: "der", type: "spki" }));
    const path = join(this.dir, "bundle.json");
    writeFileSync(
      path,
      encodeTrustBundle({
        bundleId: toHex(randomBytes(16)),
        created: T0 - 86_400,
        issuers: [
          {
            keyId: toHex(keyIdOf(spki)),
            algorithm: "ecdsa-p256-sha256",
            publicKey: spki,
            notBefore: T0 - 86_400,
            notAfter: T0 + 365 * 86_400,
            targets: ["*"],
          },
        ],
        groups,
        maxLifetime: 28_800,
        clockSkew,
        requiredSignatures: 1,
        revokedGrants: [],
      }),
    );
    return path;
  }
}
