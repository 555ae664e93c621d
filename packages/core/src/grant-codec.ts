import { AirgrantError } from "./airgrant-error.js";
import {
  ANCHOR_PREFIX_LENGTH,
  checkGrantFields,
  GRANT_ID_LENGTH,
  type Grant,
  type GrantFields,
  type GrantSignature,
  MAX_SIGNATURES,
} from "./grant.js";
import { DATA_SYMBOLS_PER_GROUP, GRANT_TEXT_PREFIX } from "./grant-text.js";
import {
  KEY_ID_LENGTH,
  SIGNATURE_ALGORITHMS,
  type SignatureAlgorithm,
  signatureAlgorithmByCode,
} from "./signature-algorithm.js";

/** "AG" then the format version: domain separation from anything else the issuer key signs. */
const MAGIC = new Uint8Array([0x41, 0x47]);
export const GRANT_FORMAT_VERSION = 1;

const TARGET_KIND = { host: 0, group: 1 } as const;

/** Extension tags, strictly ascending in a grant (docs/grant-format.md, "Extensions"). */
const EXTENSION = { reason: 1, challenge: 2, sourceAddress: 3, forceCommand: 4, minTrustVersion: 5 } as const;
/** A `min-trust-version` value: a u32, big-endian. */
const MIN_TRUST_VERSION_LENGTH = 4;

/** A single-signature grant's text must fit PAM's 512-byte response (PAM_MAX_RESP_SIZE, with its NUL). */
export const MAX_SINGLE_SIGNATURE_TEXT_LENGTH = 511;

const SIGNATURE_RECORD_LENGTH = KEY_ID_LENGTH + 1 + 64;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class ByteWriter {
  // Grants are a few hundred bytes; the buffer doubles for anything longer.
  private buf = new Uint8Array(512);
  private length = 0;
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }
  u8(value: number): void {
    this.room(1);
    this.buf[this.length++] = value & 0xff;
  }
  u32(value: number): void {
    this.room(4);
    this.buf[this.length++] = (value >>> 24) & 0xff;
    this.buf[this.length++] = (value >>> 16) & 0xff;
    this.buf[this.length++] = (value >>> 8) & 0xff;
    this.buf[this.length++] = value & 0xff;
  }
  bytes(value: Uint8Array): void {
    this.room(value.length);
    this.buf.set(value, this.length);
    this.length += value.length;
  }
  /** A u8 length then the bytes; callers have checked the length fits. */
  short(value: Uint8Array): void {
    this.u8(value.length);
    this.bytes(value);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function malformed(message: string): AirgrantError {
  return new AirgrantError("malformed-grant", message);
}

class ByteReader {
  offset = 0;
  constructor(private readonly data: Uint8Array) {}
  private take(n: number, what: string): Uint8Array {
    if (this.offset + n > this.data.length) throw malformed(`grant is truncated in its ${what}`);
    const out = this.data.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  u8(what: string): number {
    return this.take(1, what)[0] as number;
  }
  u32(what: string): number {
    const b = this.take(4, what);
    return (((b[0] as number) << 24) >>> 0) + ((b[1] as number) << 16) + ((b[2] as number) << 8) + (b[3] as number);
  }
  bytes(n: number, what: string): Uint8Array {
    return this.take(n, what);
  }
  short(what: string): Uint8Array {
    return this.take(this.u8(what), what);
  }
  get remaining(): number {
    return this.data.length - this.offset;
  }
}

function extensionsOf(fields: GrantFields): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  if (fields.reason !== undefined) out.push([EXTENSION.reason, utf8.encode(fields.reason)]);
  if (fields.challenge !== undefined) out.push([EXTENSION.challenge, fields.challenge]);
  if (fields.sourceAddress !== undefined) out.push([EXTENSION.sourceAddress, utf8.encode(fields.sourceAddress)]);
  if (fields.forceCommand !== undefined) out.push([EXTENSION.forceCommand, utf8.encode(fields.forceCommand)]);
  if (fields.minTrustVersion !== undefined) {
    const value = new Uint8Array(MIN_TRUST_VERSION_LENGTH);
    new DataView(value.buffer).setUint32(0, fields.minTrustVersion);
    out.push([EXTENSION.minTrustVersion, value]);
  }
  return out;
}

/** The bytes every signature of the grant covers: its canonical encoding without signatures. */
export function encodeGrantBody(fields: GrantFields): Uint8Array {
  checkGrantFields(fields);
  const w = new ByteWriter();
  w.bytes(MAGIC);
  w.u8(GRANT_FORMAT_VERSION);
  w.bytes(fields.grantId);
  w.bytes(fields.issuerKeyId);
  w.u32(fields.notBefore);
  w.u32(fields.notAfter);
  w.u8(fields.maxUses);
  w.short(utf8.encode(fields.principal));
  w.u8(TARGET_KIND[fields.target.kind]);
  w.short(utf8.encode(fields.target.name));
  w.u32(fields.anchor.seq);
  w.bytes(fields.anchor.headPrefix);
  const extensions = extensionsOf(fields);
  w.u8(extensions.length);
  for (const [tag, value] of extensions) {
    w.u8(tag);
    w.short(value);
  }
  return w.finish();
}

/** The whole binary grant: the signed body, then its signatures. */
export function encodeGrant(body: Uint8Array, signatures: readonly GrantSignature[]): Uint8Array {
  if (signatures.length === 0 || signatures.length > MAX_SIGNATURES) {
    throw new AirgrantError("invalid-grant-field", `a grant carries 1-${MAX_SIGNATURES} signatures`);
  }
  const w = new ByteWriter();
  w.bytes(body);
  w.u8(signatures.length);
  for (const s of signatures) {
    const { code, signatureLength } = SIGNATURE_ALGORITHMS[s.algorithm];
    if (s.keyId.length !== KEY_ID_LENGTH || s.signature.length !== signatureLength) {
      throw new AirgrantError("invalid-grant-field", "signature record has a wrong key id or signature length");
    }
    w.bytes(s.keyId);
    w.u8(code);
    w.bytes(s.signature);
  }
  return w.finish();
}

/** Characters of the text form of a grant of `byteLength` bytes, dashes and prefix included. */
export function grantTextLength(byteLength: number): number {
  const symbols = Math.ceil((byteLength * 8) / 5);
  const groups = Math.ceil(symbols / DATA_SYMBOLS_PER_GROUP);
  return GRANT_TEXT_PREFIX.length + groups + symbols + groups;
}

/** Text length of a grant with this body and `signatureCount` signatures. */
export function signedGrantTextLength(bodyLength: number, signatureCount: number): number {
  return grantTextLength(bodyLength + 1 + signatureCount * SIGNATURE_RECORD_LENGTH);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function decodeText(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw malformed(`${what} is not valid UTF-8`);
  }
}

/** The body's fields, checked, and the signed bytes: the reader is left at the signature count. */
function readBody(r: ByteReader, bytes: Uint8Array): { fields: GrantFields; signedBytes: Uint8Array } {
  const magic = r.bytes(2, "header");
  if (magic[0] !== MAGIC[0] || magic[1] !== MAGIC[1]) throw malformed("not an airgrant grant (bad magic)");
  const version = r.u8("header");
  if (version !== GRANT_FORMAT_VERSION) {
    throw new AirgrantError("unsupported-version", `grant format version ${version} is not supported`);
  }
  const grantId = r.bytes(GRANT_ID_LENGTH, "grant id");
  const issuerKeyId = r.bytes(KEY_ID_LENGTH, "issuer key id");
  const notBefore = r.u32("validity");
  const notAfter = r.u32("validity");
  const maxUses = r.u8("maximum uses");
  const principal = decodeText(r.short("principal"), "principal");
  const kindCode = r.u8("target");
  const kind = kindCode === TARGET_KIND.host ? "host" : kindCode === TARGET_KIND.group ? "group" : undefined;
  if (kind === undefined) throw malformed(`unknown target kind ${kindCode}`);
  const targetName = decodeText(r.short("target"), "target");
  const anchorSeq = r.u32("anchor");
  const headPrefix = r.bytes(ANCHOR_PREFIX_LENGTH, "anchor");
  const fields: GrantFields = {
    grantId,
    issuerKeyId,
    notBefore,
    notAfter,
    maxUses,
    principal,
    target: { kind, name: targetName },
    anchor: { seq: anchorSeq, headPrefix },
  };
  const extensionCount = r.u8("extensions");
  let lastTag = 0;
  for (let i = 0; i < extensionCount; i++) {
    const tag = r.u8("extensions");
    if (tag <= lastTag) throw malformed("grant extensions are out of order or repeated");
    lastTag = tag;
    const value = r.short("extensions");
    if (tag === EXTENSION.reason) fields.reason = decodeText(value, "reason");
    else if (tag === EXTENSION.challenge) fields.challenge = value;
    else if (tag === EXTENSION.sourceAddress) fields.sourceAddress = decodeText(value, "source address");
    else if (tag === EXTENSION.forceCommand) fields.forceCommand = decodeText(value, "force command");
    else if (tag === EXTENSION.minTrustVersion) {
      if (value.length !== MIN_TRUST_VERSION_LENGTH) {
        throw malformed(`min-trust-version must be ${MIN_TRUST_VERSION_LENGTH} bytes, not ${value.length}`);
      }
      fields.minTrustVersion = new DataView(value.buffer, value.byteOffset, value.length).getUint32(0);
    } else throw malformed(`unknown grant extension ${tag}`);
  }
  try {
    checkGrantFields(fields);
  } catch (err) {
    throw err instanceof AirgrantError ? malformed(err.message) : err;
  }
  return { fields, signedBytes: bytes.subarray(0, r.offset) };
}

/** A signature count from `min` to `max`, then that many signatures, no key twice. */
function readSignatures(r: ByteReader, min: number, max: number): GrantSignature[] {
  const signatureCount = r.u8("signatures");
  if (signatureCount < min || signatureCount > max) {
    throw malformed(`grant carries ${signatureCount} signatures; ${min}-${max} are allowed`);
  }
  const signatures: GrantSignature[] = [];
  for (let i = 0; i < signatureCount; i++) {
    const keyId = r.bytes(KEY_ID_LENGTH, "signatures");
    const code = r.u8("signatures");
    const algorithm: SignatureAlgorithm | undefined = signatureAlgorithmByCode(code);
    if (algorithm === undefined) throw malformed(`unknown signature algorithm ${code}`);
    const signature = r.bytes(SIGNATURE_ALGORITHMS[algorithm].signatureLength, "signatures");
    if (signatures.some((s) => sameBytes(s.keyId, keyId))) throw malformed("grant is signed twice by one key");
    signatures.push({ keyId, algorithm, signature });
  }
  return signatures;
}

/**
 * Decode a binary grant. Only the canonical encoding is accepted: known
 * version, fields within their limits, extensions in ascending order without
 * duplicates, no trailing bytes. Signatures are parsed, not verified.
 */
export function decodeGrant(bytes: Uint8Array): Grant {
  const r = new ByteReader(bytes);
  const { fields, signedBytes } = readBody(r, bytes);
  const signatures = readSignatures(r, 1, MAX_SIGNATURES);
  if (!sameBytes(signatures[0]?.keyId ?? new Uint8Array(), fields.issuerKeyId)) {
    throw malformed("the first signature is not by the grant's issuer");
  }
  if (r.remaining !== 0) throw malformed(`${r.remaining} trailing bytes after the signatures`);
  return { ...fields, signedBytes, signatures, bytes };
}

/**
 * A grant's approvals as an OpenSSH certificate carries them
 * (docs/openssh.md, "Approvals"): its body and the signatures after the
 * issuer's. The issuer's own signature is left out, so that a certificate,
 * which is public, never holds a grant that could be typed at a prompt.
 */
export interface CarriedApprovals {
  fields: GrantFields;
  signedBytes: Uint8Array;
  approvals: GrantSignature[];
}

/** The bytes of `approvals@airgrant`: the binary grant without its first signature. */
export function encodeCarriedApprovals(body: Uint8Array, approvals: readonly GrantSignature[]): Uint8Array {
  if (approvals.length === 0 || approvals.length >= MAX_SIGNATURES) {
    throw new AirgrantError("invalid-grant-field", `a certificate carries 1-${MAX_SIGNATURES - 1} approvals`);
  }
  return encodeGrant(body, approvals);
}

/** Decode `approvals@airgrant` canonically: a body as decodeGrant takes it, then 1-3 signatures, none by the issuer's key. */
export function decodeCarriedApprovals(bytes: Uint8Array): CarriedApprovals {
  const r = new ByteReader(bytes);
  const { fields, signedBytes } = readBody(r, bytes);
  const approvals = readSignatures(r, 1, MAX_SIGNATURES - 1);
  if (approvals.some((s) => sameBytes(s.keyId, fields.issuerKeyId))) {
    throw malformed("the issuer's signature is the certificate's own, not one of its approvals");
  }
  if (r.remaining !== 0) throw malformed(`${r.remaining} trailing bytes after the signatures`);
  return { fields, signedBytes, approvals };
}
