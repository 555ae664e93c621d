import { AirgrantError } from "./airgrant-error.js";
import type { AuditValue } from "./audit-entry.js";
import { unsliced } from "./canonical-json.js";

/**
 * The data of every audit entry type the signer and the verifier write: one
 * schema per type, one type derived from it, one encoder the writer calls
 * (auditData) and one tolerant decoder the auditor reads with
 * (readAuditData). Whoever writes a record owns its schema here, and the
 * docs' tables list every member (docs/signer.md, "What is logged";
 * docs/verifier.md and docs/openssh.md, "Audit entries"; held equal by
 * audit-records.test.ts). The log's own entries (log-opened, log-recovered,
 * checkpoint) and the seal member are the audit log's (docs/audit-log.md).
 */

/** One member's kind: what it holds, and how a reader recognises it. */
export interface Kind<T> {
  readonly describe: string;
  is(value: AuditValue | undefined): value is AuditValue & T;
}

function kind<T>(describe: string, is: (value: AuditValue | undefined) => boolean): Kind<T> {
  return { describe, is: is as Kind<T>["is"] };
}

const text = kind<string>("a string", (v) => typeof v === "string");
function hex(digits: number): Kind<string> {
  const pattern = new RegExp(`^[0-9a-f]{${digits}}$`);
  return kind<string>(`${digits} lower-case hex digits`, (v) => typeof v === "string" && pattern.test(v));
}
function count(min: number, max = Number.MAX_SAFE_INTEGER): Kind<number> {
  return kind<number>(
    `an integer in ${min}..${max}`,
    (v) => typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max,
  );
}
const integer = kind<number>("an integer", (v) => typeof v === "number" && Number.isSafeInteger(v));
/** A request code's 18 symbols (docs/requests.md). */
const requestCode = kind<string>(
  "18 request code symbols",
  (v) => typeof v === "string" && /^[0-9A-HJKMNP-TV-Z]{18}$/.test(v),
);
const flag = kind<true>("true", (v) => v === true);
const bool = kind<boolean>("true or false", (v) => typeof v === "boolean");
const decimal = kind<string>("a decimal string", (v) => typeof v === "string" && /^(0|[1-9][0-9]*)$/.test(v));
function oneOf<const V extends string>(...values: V[]): Kind<V> {
  return kind<V>(values.map((v) => `'${v}'`).join(" or "), (v) => typeof v === "string" && values.includes(v as V));
}
function listOf<T>(item: Kind<T>): Kind<T[]> {
  return kind<T[]>(`a list of ${item.describe}`, (v) => Array.isArray(v) && v.every((x) => item.is(x)));
}
function isObject(v: AuditValue | undefined): v is { [k: string]: AuditValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function recordOf<T>(item: Kind<T>): Kind<Record<string, T>> {
  return kind<Record<string, T>>(
    `an object of ${item.describe}`,
    (v) => isObject(v) && Object.values(v).every((x) => item.is(x)),
  );
}
type KindsOf<S> = { [K in keyof S]: Kind<S[K]> };
function objectOf<S>(members: KindsOf<S>): Kind<S> {
  return kind<S>(
    `{${Object.keys(members).join(", ")}}`,
    (v) =>
      isObject(v) &&
      Object.keys(v).length === Object.keys(members).length &&
      Object.entries(members).every(([name, k]) => (k as Kind<unknown>).is(v[name])),
  );
}

interface Schema {
  required: Record<string, Kind<unknown>>;
  optional: Record<string, Kind<unknown>>;
}

/**
 * A host's check of a grant: `grant-check` (a use, when allowed), and
 * `ssh-principals`, never a use, which hosts that asked a principals command
 * at authentication wrote and the auditor still reads.
 */
const GRANT_CHECK = {
  required: {
    verdict: text,
    user: text,
    host: text,
    presented: hex(64),
    presentedBytes: count(0),
  },
  optional: {
    userTruncated: flag,
    oversized: flag,
    via: oneOf("grant-text", "ssh-certificate"),
    grantId: hex(32),
    issuer: hex(16),
    approvers: listOf(hex(16)),
    approvalsNeeded: count(0, 3),
    principal: text,
    target: text,
    maxUses: count(1, 255),
    notBefore: count(0),
    notAfter: count(0),
    anchor: objectOf<{ seq: number; head: string }>({ seq: count(0), head: hex(16) }),
    sshSerial: decimal,
    enforced: recordOf(oneOf("airgrant", "sshd")),
    remoteAddress: text,
    pamService: text,
    pamRhost: text,
    pamTty: text,
    pamTruncated: oneOf("true"),
    use: count(1, 255),
    accessEndsAt: count(0),
    bundleExpired: flag,
    request: requestCode,
    requestAge: count(0),
    signerAhead: objectOf<{ least: number; most: number }>({ least: integer, most: integer }),
    clockBehind: count(1),
  },
} as const;

const OTP_COUNTER = kind<[number, number]>(
  "[usage, session]",
  (v) => Array.isArray(v) && v.length === 2 && v.every((x) => count(0).is(x)),
);

/** A key the signer found or made on a token: `issuer-initialised` and `root-initialised`. */
const TOKEN_KEY_INITIALISED = {
  required: {
    keyId: hex(16),
    algorithm: oneOf("ecdsa-p256", "ed25519"),
    keyLabel: text,
    token: text,
    generated: bool,
  },
  optional: {},
};

/** A signed bundle's `requestPolicy`, as the signer exported it and the host installed it. */
const REQUEST_POLICY = objectOf<{ required: string[]; lifetime: number; maxPendingPerHost: number }>({
  required: listOf(text),
  lifetime: count(1),
  maxPendingPerHost: count(1),
});

/** The entry types and their members, in the order the docs list them. */
export const AUDIT_RECORDS = {
  "grant-check": GRANT_CHECK,
  "ssh-principals": GRANT_CHECK,
  "request-created": {
    required: { request: requestCode, user: text, host: text, created: count(0), lifetime: count(1) },
    optional: { pamService: text, pamRhost: text, pamTty: text, pamTruncated: oneOf("true"), clockBehind: count(1) },
  },
  "bundle-installed": {
    required: { bundleId: hex(32), sha256: hex(64), issuers: listOf(hex(16)) },
    optional: {
      trustVersion: count(1),
      replacedTrustVersion: count(1),
      chain: listOf(count(1)),
      roots: listOf(hex(16)),
      expires: count(0),
      signedSha256: hex(64),
      requestPolicy: REQUEST_POLICY,
      recovered: flag,
    },
  },
  "session-closed": {
    required: {
      reason: oneOf("logout", "expiry", "reboot"),
      user: text,
      host: text,
      grantId: hex(32),
      checkSeq: count(1),
      auditSession: count(0),
      openedAt: count(0),
      accessEndsAt: count(0),
    },
    optional: { seconds: count(0), processesEnded: count(0), processesRemaining: count(1) },
  },
  "issuer-initialised": TOKEN_KEY_INITIALISED,
  "issuer-rotated": {
    required: { ...TOKEN_KEY_INITIALISED.required, retiredKeyId: hex(16), retireAt: count(0) },
    optional: {},
  },
  "officer-added": {
    required: { officer: text, yubikeyId: text, aesKeyLabel: text, targets: listOf(text), maxTtl: count(1) },
    optional: {},
  },
  "officer-removed": {
    required: { officer: text, yubikeyId: text, tokenObjectsDeleted: count(0) },
    optional: {},
  },
  "grant-issued": {
    required: {
      grantId: hex(32),
      user: text,
      target: text,
      notBefore: count(0),
      notAfter: count(0),
      maxUses: count(1, 255),
      officer: text,
      yubikeyId: text,
      reason: text,
      issuerKeyId: hex(16),
      grantSha256: hex(64),
    },
    optional: {
      sshCertificate: objectOf<{ serial: string; keyId: string; subjectKeySha256: string }>({
        serial: decimal,
        keyId: text,
        subjectKeySha256: hex(64),
      }),
      otpCounter: OTP_COUNTER,
      minTrustVersion: count(1, 0xffff_ffff),
      approvalsNeeded: count(1, 3),
      bodySha256: hex(64),
      request: requestCode,
    },
  },
  "grant-refused": {
    required: { code: text, user: text, target: text, ttl: count(0) },
    optional: { yubikeyId: text, officer: text, otpCounter: OTP_COUNTER },
  },
  "grant-revoked": {
    required: { grantId: hex(32), reason: text },
    optional: {},
  },
  "bundle-exported": {
    required: {
      bundleId: hex(32),
      sha256: hex(64),
      issuerKeyId: hex(16),
      maxLifetime: count(1),
      clockSkew: count(0),
      groups: listOf(text),
      revokedGrants: listOf(hex(32)),
    },
    optional: {
      trustVersion: count(1),
      roots: listOf(hex(16)),
      rootThreshold: count(1),
      expires: count(0),
      signedSha256: hex(64),
      approvers: listOf(hex(16)),
      approvalPolicy: listOf(text),
      requestPolicy: REQUEST_POLICY,
    },
  },
  "root-initialised": TOKEN_KEY_INITIALISED,
  "root-removed": { required: { keyId: hex(16) }, optional: {} },
  "bundle-signed": {
    required: { bundleId: hex(32), trustVersion: count(1), keyId: hex(16), signedSha256: hex(64) },
    optional: {},
  },
  "approver-enrolled": {
    required: {
      officer: text,
      keyId: hex(16),
      algorithm: oneOf("ecdsa-p256", "ed25519"),
      keyLabel: text,
      token: text,
      modulePath: text,
      targets: listOf(text),
      maxTtl: count(1),
      generated: bool,
    },
    optional: {},
  },
  "approver-removed": { required: { officer: text, keyId: hex(16) }, optional: {} },
  "grant-approved": {
    required: {
      grantId: hex(32),
      officer: text,
      keyId: hex(16),
      approvals: count(1, 3),
      approvalsNeeded: count(1, 3),
      bodySha256: hex(64),
    },
    optional: {},
  },
  "grant-denied": {
    required: { grantId: hex(32), officer: text, reason: text, approvals: count(0, 3), bodySha256: hex(64) },
    optional: {},
  },
  "grant-completed": {
    required: { grantId: hex(32), approvers: listOf(hex(16)), officers: listOf(text), grantSha256: hex(64) },
    optional: {},
  },
  "grant-certified": {
    required: {
      grantId: hex(32),
      sshCertificate: objectOf<{ serial: string; keyId: string; subjectKeySha256: string }>({
        serial: decimal,
        keyId: text,
        subjectKeySha256: hex(64),
      }),
      grantSha256: hex(64),
    },
    optional: {},
  },
} as const satisfies Record<string, Schema>;

export type AuditRecordType = keyof typeof AUDIT_RECORDS;

type KindType<K> = K extends Kind<infer T> ? T : never;
/** The data of an entry of type `T`, as its writer gives it. */
export type AuditRecord<T extends AuditRecordType> = {
  -readonly [K in keyof (typeof AUDIT_RECORDS)[T]["required"]]: KindType<(typeof AUDIT_RECORDS)[T]["required"][K]>;
} & {
  -readonly [K in keyof (typeof AUDIT_RECORDS)[T]["optional"]]?: KindType<(typeof AUDIT_RECORDS)[T]["optional"][K]>;
};

interface Member {
  name: string;
  kind: Kind<unknown>;
  required: boolean;
}

/** Each type's members in the schema's order, required first: what readAuditData walks for every entry it reads. */
const MEMBERS = new Map<string, readonly Member[]>(
  Object.entries(AUDIT_RECORDS as Record<string, Schema>).map(([type, { required, optional }]) => [
    type,
    [
      ...Object.entries(required).map(([name, kind]) => ({ name, kind, required: true })),
      ...Object.entries(optional).map(([name, kind]) => ({ name, kind, required: false })),
    ],
  ]),
);

function schemaOf(type: AuditRecordType): Schema {
  return AUDIT_RECORDS[type];
}

/**
 * The data a writer appends for an entry of `type`, checked against the
 * schema: a member missing, of the wrong kind or unknown is the writer's
 * bug (`internal`), caught before anything is written.
 */
export function auditData<T extends AuditRecordType>(type: T, record: AuditRecord<T>): Record<string, AuditValue> {
  const data = record as unknown as Record<string, AuditValue>;
  const problems = readAuditData(type, data).problems;
  for (const name of Object.keys(data)) {
    const { required, optional } = schemaOf(type);
    if (!Object.hasOwn(required, name) && !Object.hasOwn(optional, name)) problems.push(`unknown member '${name}'`);
  }
  if (problems.length > 0)
    throw new AirgrantError("internal", `a ${type} entry would be written with ${problems.join("; ")}`);
  return data;
}

/**
 * What an entry's data says, read tolerantly (a log carried out of a host is
 * hostile): each member of the schema that is present and of its kind, and
 * a problem for each required member missing or of another kind and each
 * optional member of another kind. Members the schema does not know (a
 * seal, a newer writer's) are left out without a problem. What it returns
 * holds nothing of the line (unsliced), so an auditor may keep it.
 */
export function readAuditData<T extends AuditRecordType>(
  type: T,
  data: Record<string, AuditValue>,
): { record: Partial<AuditRecord<T>>; problems: string[] } {
  const record: Record<string, AuditValue> = {};
  const problems: string[] = [];
  for (const { name, kind, required } of MEMBERS.get(type) ?? []) {
    const value = Object.hasOwn(data, name) ? data[name] : undefined;
    if (value === undefined) {
      if (required) problems.push(`no ${name}`);
    } else if (kind.is(value)) record[name] = unsliced(value);
    else problems.push(`a ${name} that is not ${kind.describe}`);
  }
  return { record: record as Partial<AuditRecord<T>>, problems };
}
