// A throwaway token of a second PKCS#11 implementation, libtpm2-pkcs11 over
// a software TPM (swtpm) on 127.0.0.1, for the tests that need two officers
// on two tokens in two different modules (docs/pkcs11.md, "Modules").
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkcs11js from "pkcs11js";
import { requireCommand } from "./system-fixtures.js";

/** Where Debian's libtpm2-pkcs11-1 puts the module. */
export const TPM2_PKCS11_MODULE = "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so";

export interface TpmToken {
  tokenLabel: string;
  modulePath: string;
  /** TPM2_PKCS11_TCTI and TPM2_PKCS11_STORE: what every process that opens the token needs in its environment. */
  env: Record<string, string>;
  /** Stops the TPM and deletes its state and the token's store; safe to call twice. */
  remove(): void;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

async function startSwtpm(stateDir: string): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20_000 + 2 * Math.floor(Math.random() * 10_000);
    const child = spawn(
      "swtpm",
      [
        "socket",
        "--tpm2",
        "--tpmstate",
        `dir=${stateDir}`,
        "--server",
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        "--ctrl",
        `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
        "--flags",
        "not-need-init,startup-clear",
      ],
      { stdio: "ignore" },
    );
    for (let wait = 0; wait < 50 && child.exitCode === null; wait++) {
      if (await listening(port + 1)) return { child, port };
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill();
  }
  throw new Error("swtpm did not start on 127.0.0.1 after 5 tries");
}

/**
 * A software TPM on 127.0.0.1 with one tpm2-pkcs11 token on it, made
 * through PKCS#11 itself (C_InitToken, then the user PIN by the security
 * officer), in this process: tpm2_ptool runs one TPM command per process,
 * and without a resource manager each leaves its objects loaded until the
 * TPM's three slots are full. The module is finalised again before this
 * returns, so the process that made the token can open it like any other.
 */
export async function makeTpmToken(tokenLabel: string, soPin: string, pin: string): Promise<TpmToken> {
  requireCommand("swtpm", "swtpm");
  const dir = mkdtempSync(join(tmpdir(), "airgrant-tpm-"));
  const stateDir = join(dir, "state");
  const store = join(dir, "store");
  mkdirSync(stateDir);
  mkdirSync(store);
  const { child, port } = await startSwtpm(stateDir);
  let removed = false;
  const token: TpmToken = {
    tokenLabel,
    modulePath: TPM2_PKCS11_MODULE,
    env: { TPM2_PKCS11_TCTI: `swtpm:host=127.0.0.1,port=${port}`, TPM2_PKCS11_STORE: store },
    remove() {
      if (removed) return;
      removed = true;
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    Object.assign(process.env, token.env);
    const pkcs11 = new pkcs11js.PKCS11();
    pkcs11.load(TPM2_PKCS11_MODULE);
    pkcs11.C_Initialize();
    try {
      const [slot] = pkcs11.C_GetSlotList(false);
      if (slot === undefined) throw new Error("tpm2-pkcs11 shows no slot");
      // CK_TOKEN_INFO labels are 32 bytes padded with spaces (PKCS#11 v2.40 §3.2); tpm2-pkcs11 refuses a shorter one.
      pkcs11.C_InitToken(slot, soPin, tokenLabel.padEnd(32, " "));
      const session = pkcs11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      pkcs11.C_Login(session, pkcs11js.CKU_SO, soPin);
      pkcs11.C_InitPIN(session, pin);
      pkcs11.C_Logout(session);
      pkcs11.C_CloseSession(session);
    } finally {
      pkcs11.C_Finalize();
      pkcs11.close();
    }
  } catch (err) {
    token.remove();
    throw err;
  }
  return token;
}
