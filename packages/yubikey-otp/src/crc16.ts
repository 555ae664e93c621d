/**
 * CRC-16 as the YubiKey computes it over the OTP plaintext: ISO/IEC 13239
 * (the X.25 / HDLC frame check sequence) bit-reflected, polynomial 0x8408,
 * initial value 0xffff, no final inversion (yubico-c ykcrc.c).
 */
export function crc16(bytes: Uint8Array): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
    }
  }
  return crc;
}

/**
 * The YubiKey stores the one's complement of the CRC of the first 14 bytes,
 * little-endian, in the last two; the CRC of all 16 bytes then always comes
 * out as this constant (yubico-c yubikey.h YUBIKEY_CRC_OK_RESIDUE;
 * yubico-c test-vectors.txt, "Plaintext").
 */
export const OTP_CRC_RESIDUE = 0xf0b8;

/** True if a 16-byte OTP plaintext carries a valid CRC. */
export function hasValidOtpCrc(plaintext: Uint8Array): boolean {
  return crc16(plaintext) === OTP_CRC_RESIDUE;
}
