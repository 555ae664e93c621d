// An officer's YubiKey in software: the OTPs it types, each one's session
// counter one past the last, so that every OTP is fresh to the signer.
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
