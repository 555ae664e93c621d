// An officer's YubiKey in software: the OTPs it types, each one's session
// counter one past the last, so that every OTP is fresh to the signer.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateOtp } from "@airgrant/yubikey-otp/generate";

/** What `airgrant-signer enroll-officer` is given for a YubiKey: its ids and AES key, in hex. */
export interface YubiKeyIdentity {
  /** Modhex, 12 characters on a stock YubiKey. */
  readonly publicId: string;
  /** 6 bytes, hex. */
  readonly privateId: string;
  /** 16 bytes, hex. */
  readonly aesKeyHex: string;
}

/** The YubiKey with this identity: each call gives the next OTP it would type. */
export function softwareYubiKey(identity: YubiKeyIdentity): () => string {
  const aesKey = Buffer.from(identity.aesKeyHex, "hex");
  const privateId = Buffer.from(identity.privateId, "hex");
  let session = 0;
  return () => {
    const otp = generateOtp({
      aesKey,
      publicId: identity.publicId,
      privateId,
      usageCounter: 1,
      sessionCounter: session,
      timestamp: 0x10000 + session,
      random: 0x1234,
    });
    session += 1;
    return otp;
  };
}

/**
 * `airgrant-signer officer add` for this YubiKey as the officer `name`: its
 * private id and AES key written owner-only into `dir` (the signer takes
 * them from files only, and refuses files others may read), the arguments
 * returned.
 */
export function officerAddArgs(dir: string, name: string, identity: YubiKeyIdentity): string[] {
  const secret = (file: string, text: string) => {
    const path = join(dir, file);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  return [
    "officer",
    "add",
    "--name",
    name,
    "--yubikey-id",
    identity.publicId,
    "--private-id-file",
    secret("private-id", `${identity.privateId}\n`),
    "--aes-key-file",
    secret("aes-key", `${identity.aesKeyHex}\n`),
  ];
}
