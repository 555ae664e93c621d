export { AES_BLOCK_SIZE, type AesBlockDecryptor, nodeAesDecryptor } from "./aes-block-decryptor.js";
export { crc16, hasValidOtpCrc, OTP_CRC_RESIDUE } from "./crc16.js";
export { COUNTER_STORE_FORMAT, fileCounterStore } from "./file-counter-store.js";
export { decodeModhex, encodeModhex, isModhex, MODHEX_ALPHABET } from "./modhex.js";
export { type CounterAdvance, compareOtpCounters, type OtpCounter, type OtpCounterStore } from "./otp-counter-store.js";
export {
  decodeOtpToken,
  encodeOtpToken,
  MAX_USAGE_COUNTER,
  OTP_TOKEN_SIZE,
  type OtpToken,
  type OtpTokenFields,
  PRIVATE_ID_LENGTH,
} from "./otp-token.js";
export { MAX_OTP_INPUT_LENGTH, MAX_PUBLIC_ID_LENGTH, OTP_TOKEN_LENGTH, type ParsedOtp, parseOtp } from "./parse-otp.js";
export { type OtpKey, type OtpKeyLookup, type OtpRejection, type OtpVerdict, validateOtp } from "./validate-otp.js";
