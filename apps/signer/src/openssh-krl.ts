import { SshWriter } from "@airgrant/core";

/** PROTOCOL.krl, 1: "SSHKRL\n\0" as a big-endian uint64. */
const KRL_MAGIC = 0x5353484b524c0a00n;
const KRL_FORMAT_VERSION = 1;
/** PROTOCOL.krl, 1 and 2: the section and certificate subsection types airgrant writes. */
const KRL_SECTION_CERTIFICATES = 1;
const KRL_SECTION_CERT_KEY_ID = 0x23;

/** Certificates of one CA revoked by their key ids (PROTOCOL.krl, 2 and 2.4). */
export interface KrlCertificateSection {
  /** The CA's public key blob (SSH wire form); empty: certificates of any CA. */
  caKey: Uint8Array;
  /** At least one; written in byte order, each once. */
  keyIds: readonly string[];
}

export interface Krl {
  /** krl_version: grows each time the list changes. */
  version: bigint;
  /** generated_date, seconds since the epoch. */
  generatedDate: bigint;
  comment: string;
  sections: readonly KrlCertificateSection[];
}

/**
 * The OpenSSH key revocation list (PROTOCOL.krl) that `ssh-keygen -Q` reads
 * and sshd's `RevokedKeys` loads: the header, then one KRL_SECTION_CERTIFICATES
 * per CA holding one KRL_SECTION_CERT_KEY_ID subsection. No flags, empty
 * reserved fields, no signature section (OpenSSH does not check KRL
 * signatures, and 9.4 and later refuse KRLs that have one). The same Krl
 * always gives the same bytes; a section without key ids is left out, since
 * PROTOCOL.krl 2.4 wants at least one.
 */
export function encodeKrl(krl: Krl): Uint8Array {
  const out = new SshWriter()
    .uint64(KRL_MAGIC)
    .uint32(KRL_FORMAT_VERSION)
    .uint64(krl.version)
    .uint64(krl.generatedDate)
    .uint64(0n)
    .string(new Uint8Array(0))
    .string(krl.comment);
  for (const section of krl.sections) {
    if (section.keyIds.length === 0) continue;
    const keyIds = new SshWriter();
    for (const keyId of sortedByBytes(section.keyIds)) keyIds.string(keyId);
    const certificates = new SshWriter()
      .string(section.caKey)
      .string(new Uint8Array(0))
      .raw(Uint8Array.of(KRL_SECTION_CERT_KEY_ID))
      .string(keyIds.finish());
    out.raw(Uint8Array.of(KRL_SECTION_CERTIFICATES)).string(certificates.finish());
  }
  return out.finish();
}

/** Distinct, in the byte order of their UTF-8 (ssh-keygen's strcmp order). */
function sortedByBytes(texts: readonly string[]): string[] {
  return [...new Set(texts)]
    .map((text) => Buffer.from(text, "utf8"))
    .sort(Buffer.compare)
    .map((bytes) => bytes.toString("utf8"));
}
