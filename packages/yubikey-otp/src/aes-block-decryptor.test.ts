import { createCipheriv } from "node:crypto";
import { inspect } from "node:util";
import { codeOf } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeAesDecryptor } from "./aes-block-decryptor.js";

const KEY_HEX = "ecde18dbe76fbd0c33330f1c354871db";
const key = new Uint8Array(Buffer.from(KEY_HEX, "hex"));

describe("nodeAesDecryptor", () => {
  it("inverts AES-128-ECB on any block", () => {
    const decryptor = nodeAesDecryptor(key);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (block) => {
        const cipher = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
        const ciphertext = Buffer.concat([cipher.update(block), cipher.final()]);
        const plaintext = decryptor.decryptBlock(ciphertext);
        expect(plaintext).toBeInstanceOf(Uint8Array);
        expect(plaintext).toEqual(block);
      }),
    );
  });

  it.each([0, 15, 17, 32])("refuses a key of %i bytes", (length) => {
    expect(codeOf(() => nodeAesDecryptor(new Uint8Array(length)))).toBe("bad-input");
  });

  it.each([0, 15, 17, 32])("refuses a block of %i bytes", (length) => {
    expect(codeOf(() => nodeAesDecryptor(key).decryptBlock(new Uint8Array(length)))).toBe("bad-input");
  });

  it("does not show the key when logged", () => {
    const decryptor = nodeAesDecryptor(key);
    const shown = `${inspect(decryptor, { depth: 10, showHidden: true })} ${JSON.stringify(decryptor)}`;
    expect(shown).not.toContain(KEY_HEX);
    expect(shown).not.toContain(Buffer.from(key).toString("base64"));
  });

  it("is not affected by later changes to the caller's key buffer", () => {
    const copy = key.slice();
    const decryptor = nodeAesDecryptor(copy);
    const before = decryptor.decryptBlock(new Uint8Array(16));
    copy.fill(0);
    expect(decryptor.decryptBlock(new Uint8Array(16))).toEqual(before);
  });
});
