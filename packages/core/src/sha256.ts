import { hash } from "node:crypto";

/**
 * SHA-256 of `data`: the one hash function of airgrant's formats. Node's
 * built-in OpenSSL (not a native addon of ours), because chain verification
 * hashes every entry of logs of millions of lines and the pure-JS
 * @noble/hashes costs three times as much per entry (bench/audit-chain).
 */
export function sha256(data: Uint8Array): Uint8Array {
  const digest = hash("sha256", data, "buffer");
  // A plain Uint8Array view: core hands out Uint8Array, never Buffer.
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** SHA-256 of `data` as 64 lower-case hex digits, without an intermediate buffer. */
export function sha256Hex(data: Uint8Array): string {
  return hash("sha256", data, "hex");
}
