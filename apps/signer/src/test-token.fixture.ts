import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSoftHsmToken, type SoftHsmToken } from "./softhsm-token.js";
import { openToken, type TokenSession } from "./token-session.js";

/** Throwaway PINs of throwaway tokens. */
export const TEST_PIN = "4711-test";
export const TEST_SO_PIN = "so-4711-test";

export interface TestToken extends SoftHsmToken {
  dir: string;
  modulePath: string;
  /** Opens a session that `remove` closes, even when the test failed. */
  open(pin?: string): TokenSession;
  /** Closes the sessions and deletes the token directory. */
  remove(): void;
}

/**
 * A fresh SoftHSM2 token in its own temporary directory, made current for
 * this process through SOFTHSM2_CONF. Only one at a time: SoftHSM2 reads the
 * variable when the module is initialised, so every session of the previous
 * token must be closed first (remove does that).
 */
export function makeTestToken(modulePath: string, tokenLabel = "airgrant-test"): TestToken {
  const dir = mkdtempSync(join(tmpdir(), "airgrant-signer-"));
  const token = createSoftHsmToken({ dir, tokenLabel, soPin: TEST_SO_PIN, pin: TEST_PIN });
  process.env.SOFTHSM2_CONF = token.confPath;
  const sessions: TokenSession[] = [];
  return {
    ...token,
    dir,
    modulePath,
    open(pin = TEST_PIN) {
      const session = openToken({ modulePath, tokenLabel, pin });
      sessions.push(session);
      return session;
    },
    remove() {
      for (const session of sessions) session.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** DER ECDSA-Sig-Value (RFC 3279 §2.2.3) from r || s, for `openssl dgst -verify`. */
export function p1363ToDer(signature: Uint8Array): Uint8Array {
  const integer = (bytes: Uint8Array): number[] => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
    const body = [...bytes.subarray(start)];
    if ((body[0] ?? 0) & 0x80) body.unshift(0);
    return [0x02, body.length, ...body];
  };
  const half = signature.length / 2;
  const content = [...integer(signature.subarray(0, half)), ...integer(signature.subarray(half))];
  return Uint8Array.from([0x30, content.length, ...content]);
}

/** PEM "PUBLIC KEY" from DER SubjectPublicKeyInfo (RFC 7468 §13), written by hand so openssl reads our DER as is. */
export function spkiToPem(spki: Uint8Array): string {
  const lines =
    Buffer.from(spki)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}
