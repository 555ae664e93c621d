// A throwaway SoftHSM2 token for the tests that need a real PKCS#11 token:
// the signer's own unit tests and the end-to-end tests.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSoftHsmToken, type OpenTokenOptions, type SoftHsmToken } from "@airgrant/signer";

/** Throwaway PINs of throwaway tokens (they go on softhsm2-util's command line). */
export const TEST_PIN = "4711-test";
export const TEST_SO_PIN = "so-4711-test";

export interface TestToken<Session extends { close(): void }> extends SoftHsmToken {
  dir: string;
  modulePath: string;
  /** Opens a session that `remove` closes, even when the test failed. */
  open(pin?: string): Session;
  /** Closes the sessions and deletes the token directory; safe to call twice. */
  remove(): void;
}

/**
 * A fresh SoftHSM2 token in its own temporary directory, made current for
 * this process through SOFTHSM2_CONF. Only one at a time: SoftHSM2 reads the
 * variable when the module is initialised, so every session of the previous
 * token must be closed first (remove does that).
 *
 * Sessions are opened with `openToken`: the signer's tests pass the one of
 * its sources, the others the one of its build (@airgrant/signer), so that a
 * process never loads both and initialises the module twice.
 */
export function makeTestToken<Session extends { close(): void }>(
  openToken: (options: OpenTokenOptions) => Session,
  modulePath: string,
  tokenLabel = "airgrant-test",
): TestToken<Session> {
  const dir = mkdtempSync(join(tmpdir(), "airgrant-token-"));
  let token: SoftHsmToken;
  try {
    token = createSoftHsmToken({ dir, tokenLabel, soPin: TEST_SO_PIN, pin: TEST_PIN });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  process.env.SOFTHSM2_CONF = token.confPath;
  const sessions: Session[] = [];
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
      try {
        for (const session of sessions.splice(0)) session.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
