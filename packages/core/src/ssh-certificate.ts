import { createPublicKey, type KeyObject } from "node:crypto";
import { AirgrantError } from "./airgrant-error.js";
import { rawPublicKey, type SignatureAlgorithm, verifySignature } from "./signature-algorithm.js";
import { SshReader, SshWriter } from "./ssh-wire.js";

/**
 * OpenSSH user certificates (PROTOCOL.certkeys) signed by an airgrant
 * issuer key, and the OpenSSH public key forms of issuer keys for
 * `TrustedUserCAKeys`. docs/openssh.md says how they are used.
 */

const SSH_KEY_TYPE: Record<SignatureAlgorithm, string> = {
  "ecdsa-p256-sha256": "ecdsa-sha2-nistp256",
  ed25519: "ssh-ed25519",
};

/** Subject key types we certify, and how many wire fields follow their type name. */
const SUBJECT_FIELDS: Record<string, number> = {
  "ssh-ed25519": 1,
  "ecdsa-sha2-nistp256": 2,
  "ecdsa-sha2-nistp384": 2,
  "ecdsa-sha2-nistp521": 2,
  "ssh-rsa": 2,
};

const CERT_SUFFIX = "-cert-v01@openssh.com";
const USER_CERT = 1;

function malformed(message: string): AirgrantError {
  return new AirgrantError("malformed-ssh-key", message);
}

/** The SSH public key blob of an issuer key (RFC 5656 section 3.1, RFC 8709 section 4). */
export function sshIssuerKeyBlob(algorithm: SignatureAlgorithm, spki: Uint8Array): Uint8Array {
  const key = rawPublicKey(algorithm, spki);
  const w = new SshWriter().string(SSH_KEY_TYPE[algorithm]);
  if (algorithm === "ed25519") return w.string(key).finish();
  return w.string("nistp256").string(key).finish();
}

/** `<type> <base64> [comment]`, the line `TrustedUserCAKeys` and authorized_keys take. */
export function sshIssuerKeyLine(algorithm: SignatureAlgorithm, spki: Uint8Array, comment?: string): string {
  const line = `${SSH_KEY_TYPE[algorithm]} ${Buffer.from(sshIssuerKeyBlob(algorithm, spki)).toString("base64")}`;
  return comment === undefined ? line : `${line} ${comment}`;
}

/** Parse an OpenSSH public key line (as in id_ed25519.pub) to its type and blob. */
export function parseSshPublicKeyLine(text: string): { type: string; blob: Uint8Array } {
  const [type = "", data = ""] = text.trim().split(/\s+/);
  if (!Object.hasOwn(SUBJECT_FIELDS, type)) {
    throw malformed(
      `'${type.slice(0, 40)}' is not a public key type airgrant certifies (${Object.keys(SUBJECT_FIELDS).join(", ")})`,
    );
  }
  const blob = new Uint8Array(Buffer.from(data, "base64"));
  if (Buffer.from(blob).toString("base64") !== data) throw malformed("the public key is not valid base64");
  const reader = new SshReader(blob, "public key");
  if (reader.text() !== type) throw malformed("the public key's blob does not match its type");
  for (let i = 0; i < (SUBJECT_FIELDS[type] as number); i++) reader.string();
  if (reader.remaining !== 0) throw malformed("the public key has trailing bytes");
  return { type, blob };
}

/** The extension carrying a grant's `min-trust-version`, in decimal; sshd ignores an extension it does not know. */
export const MIN_TRUST_VERSION_EXTENSION = "min-trust-version@airgrant";

/** The extension carrying a request-bound grant's `challenge`: the request code's 18 symbols (docs/requests.md). */
export const REQUEST_EXTENSION = "request@airgrant";

/**
 * The extension carrying a grant's approvals: its body and the approvals'
 * signatures in base64 (encodeCarriedApprovals), so the host checks the
 * officers' signatures over the body they signed (docs/openssh.md, "Approvals").
 */
export const APPROVALS_EXTENSION = "approvals@airgrant";

export interface SshCertificateFields {
  /** The certified key's blob (parseSshPublicKeyLine). */
  subjectKey: Uint8Array;
  nonce: Uint8Array;
  serial: bigint;
  keyId: string;
  principals: string[];
  validAfter: bigint;
  validBefore: bigint;
  /** Critical options by name; force-command and source-address carry a value. */
  criticalOptions: Record<string, string>;
  /**
   * Extensions by name: OpenSSH's flags (permit-pty, …) with "" (no data),
   * airgrant's own with a value (docs/openssh.md, "The certificate").
   */
  extensions: Record<string, string>;
}

/**
 * Options are sorted by name and each value is itself a string
 * (PROTOCOL.certkeys); `emptyIsNone` writes "" as no data at all, as a flag
 * extension is.
 */
function encodeOptions(options: [string, string][], emptyIsNone: boolean): Uint8Array {
  const w = new SshWriter();
  for (const [name, value] of [...options].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    w.string(name).string(emptyIsNone && value === "" ? new Uint8Array() : new SshWriter().string(value).finish());
  }
  return w.finish();
}

/** The certificate up to its signature: exactly the bytes the CA signs. */
export function encodeSshCertificateBody(
  fields: SshCertificateFields,
  caAlgorithm: SignatureAlgorithm,
  caSpki: Uint8Array,
): Uint8Array {
  const subject = new SshReader(fields.subjectKey, "public key");
  const subjectType = subject.text();
  if (!Object.hasOwn(SUBJECT_FIELDS, subjectType)) throw malformed(`cannot certify a ${subjectType} key`);
  const principals = new SshWriter();
  for (const p of fields.principals) principals.string(p);
  return new SshWriter()
    .string(`${subjectType}${CERT_SUFFIX}`)
    .string(fields.nonce)
    .raw(fields.subjectKey.subarray(subject.position))
    .uint64(fields.serial)
    .uint32(USER_CERT)
    .string(fields.keyId)
    .string(principals.finish())
    .uint64(fields.validAfter)
    .uint64(fields.validBefore)
    .string(encodeOptions(Object.entries(fields.criticalOptions), false))
    .string(encodeOptions(Object.entries(fields.extensions), true))
    .string(new Uint8Array())
    .string(sshIssuerKeyBlob(caAlgorithm, caSpki))
    .finish();
}

/**
 * The signature field: ECDSA as two mpints r and s (RFC 5656 section 3.1.2)
 * from the token's raw r‖s over SHA-256 of the body; Ed25519 as is.
 */
export function sshSignatureBlob(algorithm: SignatureAlgorithm, signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new AirgrantError("internal", "issuer signatures are 64 bytes");
  const w = new SshWriter().string(SSH_KEY_TYPE[algorithm]);
  if (algorithm === "ed25519") return w.string(signature).finish();
  const rs = new SshWriter().mpint(signature.subarray(0, 32)).mpint(signature.subarray(32)).finish();
  return w.string(rs).finish();
}

export function encodeSshCertificate(body: Uint8Array, signatureBlob: Uint8Array): Uint8Array {
  return new SshWriter().raw(body).string(signatureBlob).finish();
}

/** `<cert type> <base64> [comment]`, the form of an id_*-cert.pub file. */
export function sshCertificateLine(certificate: Uint8Array, comment?: string): string {
  const type = new SshReader(certificate, "certificate").text();
  const line = `${type} ${Buffer.from(certificate).toString("base64")}`;
  return comment === undefined ? line : `${line} ${comment}`;
}

export interface SshCertificate extends SshCertificateFields {
  type: string;
  certType: number;
  caKey: Uint8Array;
  signature: Uint8Array;
  /** The bytes the signature covers, as received. */
  signedBytes: Uint8Array;
}

/** Each option's value: "" for no data, else the one string the data holds. */
function decodeOptions(data: Uint8Array, what: string): [string, string][] {
  const out: [string, string][] = [];
  const reader = new SshReader(data, what);
  while (reader.remaining > 0) {
    const name = reader.text();
    const value = reader.string();
    if (out.length > 0 && (out[out.length - 1] as [string, string])[0] >= name) {
      throw malformed(`${what} are not sorted or repeat a name`);
    }
    if (value.length === 0) {
      out.push([name, ""]);
      continue;
    }
    const inner = new SshReader(value, what);
    out.push([name, inner.text()]);
    if (inner.remaining !== 0) throw malformed(`${what}: '${name.slice(0, 40)}' has trailing bytes`);
  }
  return out;
}

/** Decode a user certificate blob; its signature is checked by verifySshCertificate. */
export function decodeSshCertificate(blob: Uint8Array): SshCertificate {
  const r = new SshReader(blob, "certificate");
  const type = r.text();
  const subjectType = type.endsWith(CERT_SUFFIX) ? type.slice(0, -CERT_SUFFIX.length) : "";
  if (!Object.hasOwn(SUBJECT_FIELDS, subjectType))
    throw malformed(`'${type.slice(0, 60)}' is not a certificate type airgrant knows`);
  const nonce = r.string();
  const subject = new SshWriter().string(subjectType);
  for (let i = 0; i < (SUBJECT_FIELDS[subjectType] as number); i++) subject.string(r.string());
  const serial = r.uint64();
  const certType = r.uint32();
  const keyId = r.text();
  const principals = SshReader.strings(r.string(), "principals").map((p) => new TextDecoder().decode(p));
  const validAfter = r.uint64();
  const validBefore = r.uint64();
  const criticalOptions = Object.fromEntries(decodeOptions(r.string(), "critical options"));
  const extensions = Object.fromEntries(decodeOptions(r.string(), "extensions"));
  r.string();
  const caKey = r.string();
  const signedBytes = blob.subarray(0, r.position);
  const signature = r.string();
  if (r.remaining !== 0) throw malformed("the certificate has trailing bytes");
  return {
    type,
    nonce,
    subjectKey: subject.finish(),
    serial,
    certType,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    caKey,
    signature,
    signedBytes,
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** r||s from the two mpints, or undefined unless they are exactly what sshSignatureBlob writes for it. */
function p1363FromMpints(blob: Uint8Array): Uint8Array | undefined {
  const [r, s] = SshReader.strings(blob, "ECDSA signature");
  const out = new Uint8Array(64);
  for (const [i, mp] of [r, s].entries()) {
    if (mp === undefined) return undefined;
    const digits = mp[0] === 0 ? mp.subarray(1) : mp;
    if (digits.length > 32) return undefined;
    out.set(digits, 32 * (i + 1) - digits.length);
  }
  const canonical = new SshWriter().mpint(out.subarray(0, 32)).mpint(out.subarray(32)).finish();
  return sameBytes(canonical, blob) ? out : undefined;
}

function signatureVerifies(
  certificate: SshCertificate,
  algorithm: SignatureAlgorithm,
  spki: Uint8Array,
  key: KeyObject | undefined,
): boolean {
  if (!sameBytes(certificate.caKey, sshIssuerKeyBlob(algorithm, spki))) return false;
  const sig = new SshReader(certificate.signature, "signature");
  if (sig.text() !== SSH_KEY_TYPE[algorithm]) return false;
  const body = sig.string();
  if (sig.remaining !== 0) return false;
  const publicKey = key ?? createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  if (algorithm === "ed25519") return verifySignature(algorithm, publicKey, certificate.signedBytes, body);
  const raw = p1363FromMpints(body);
  return raw !== undefined && verifySignature(algorithm, publicKey, certificate.signedBytes, raw);
}

/**
 * Whether `certificate` is signed by the issuer key given: its CA key must be
 * that key's SSH blob and its signature must verify over the signed bytes.
 * A malformed signature field is a "no", never an exception: it came from
 * whoever presented the certificate.
 */
export function verifySshCertificate(
  certificate: SshCertificate,
  algorithm: SignatureAlgorithm,
  spki: Uint8Array,
  key?: KeyObject,
): boolean {
  try {
    return signatureVerifies(certificate, algorithm, spki, key);
  } catch (err) {
    if (err instanceof AirgrantError && err.code === "malformed-ssh-key") return false;
    throw err;
  }
}
