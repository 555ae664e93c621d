import { createDecipheriv, createSecretKey, type KeyObject } from "node:crypto";
import { AirgrantError } from "@airgrant/core";

/** AES-128 key and block size in bytes (Yubico OTPs Explained: AES-128). */
export const AES_BLOCK_SIZE = 16;

/**
 * Decrypts one AES-128 block with a key the caller never sees. Synchronous
 * on purpose: the signer implements it with a PKCS#11 C_Decrypt
 * (CKM_AES_ECB) on the token, which pkcs11js exposes synchronously, so the
 * AES secret never leaves the token.
 */
export interface AesBlockDecryptor {
  /** Decrypt exactly 16 bytes (AES-128-ECB, no padding) and return 16 bytes. */
  decryptBlock(block: Uint8Array): Uint8Array;
}

/**
 * A decryptor backed by node:crypto, for tests, the demo officer and sites
 * that keep YubiKey secrets in a file. The key is held as a KeyObject so
 * it does not show up when the decryptor is logged or inspected.
 */
export function nodeAesDecryptor(key: Uint8Array): AesBlockDecryptor {
  if (!(key instanceof Uint8Array) || key.length !== AES_BLOCK_SIZE) {
    throw new AirgrantError("bad-input", `a YubiKey AES key is ${AES_BLOCK_SIZE} bytes`);
  }
  const secret: KeyObject = createSecretKey(key);
  return {
    decryptBlock(block: Uint8Array): Uint8Array {
      if (block.length !== AES_BLOCK_SIZE) {
        throw new AirgrantError("bad-input", `AES decrypts blocks of ${AES_BLOCK_SIZE} bytes, got ${block.length}`);
      }
      const decipher = createDecipheriv("aes-128-ecb", secret, null).setAutoPadding(false);
      const head = decipher.update(block);
      const tail = decipher.final();
      return new Uint8Array(Buffer.concat([head, tail]));
    },
  };
}
