import { AirgrantError, type ErrorCode } from "@airgrant/core";
import pkcs11js from "pkcs11js";
import { CKR_CURVE_NOT_SUPPORTED } from "./pkcs11-v3-constants.js";

/** The CK_RV of a pkcs11js error, or undefined when the error did not come from the module. */
export function pkcs11ReturnValue(err: unknown): number | undefined {
  return err instanceof pkcs11js.Pkcs11Error ? err.code : undefined;
}

/** The CKR_ name pkcs11js gives an error (e.g. "CKR_PIN_INCORRECT"), for messages. */
function returnValueName(err: unknown): string {
  if (err instanceof pkcs11js.Pkcs11Error) return err.message || `CK_RV 0x${err.code.toString(16)}`;
  return err instanceof Error ? err.message : String(err);
}

/** Where the failure happened, so the message can say what to do. */
export interface Pkcs11ErrorContext {
  /** What we were doing, in words: "log in to token \"airgrant\"", "sign with key \"airgrant-issuer\"". */
  action: string;
  tokenLabel?: string;
}

/**
 * Turns an error thrown by pkcs11js into an AirgrantError with a stable code.
 * AirgrantErrors pass through unchanged. Messages never carry the PIN: the
 * module's errors are CKR_ names only.
 */
export function toAirgrantError(err: unknown, context: Pkcs11ErrorContext): AirgrantError {
  if (err instanceof AirgrantError) return err;
  const rv = pkcs11ReturnValue(err);
  const name = returnValueName(err);
  const token = context.tokenLabel === undefined ? "the token" : `token "${context.tokenLabel}"`;
  const fail = (code: ErrorCode, advice: string) =>
    new AirgrantError(code, `could not ${context.action}: ${name}; ${advice}`, { cause: err });
  switch (rv) {
    case pkcs11js.CKR_PIN_INCORRECT:
    case pkcs11js.CKR_PIN_INVALID:
    case pkcs11js.CKR_PIN_LEN_RANGE:
      return fail(
        "wrong-pin",
        `the PIN for ${token} was refused; check AIRGRANT_PIN or the PIN file (repeated wrong PINs lock the token)`,
      );
    case pkcs11js.CKR_PIN_EXPIRED:
      return fail("wrong-pin", `the user PIN of ${token} has expired; set a new one with the token's own tool`);
    case pkcs11js.CKR_USER_PIN_NOT_INITIALIZED:
      return fail("wrong-pin", `${token} has no user PIN yet; initialise it (softhsm2-util --init-token, ykman piv)`);
    case pkcs11js.CKR_PIN_LOCKED:
      return fail(
        "pin-locked",
        `the user PIN of ${token} is locked after too many wrong tries; the security officer must unblock it (SO PIN / PUK)`,
      );
    case pkcs11js.CKR_MECHANISM_INVALID:
    case pkcs11js.CKR_MECHANISM_PARAM_INVALID:
    case pkcs11js.CKR_DOMAIN_PARAMS_INVALID:
    case CKR_CURVE_NOT_SUPPORTED:
      return fail("mechanism-unsupported", `${token} does not support this; choose another algorithm or token`);
    case pkcs11js.CKR_TOKEN_NOT_PRESENT:
    case pkcs11js.CKR_TOKEN_NOT_RECOGNIZED:
    case pkcs11js.CKR_DEVICE_REMOVED:
    case pkcs11js.CKR_SLOT_ID_INVALID:
      return fail("token-not-found", `insert or reconnect ${token} and try again`);
    case pkcs11js.CKR_KEY_HANDLE_INVALID:
    case pkcs11js.CKR_OBJECT_HANDLE_INVALID:
      return fail("key-missing", `the key on ${token} has gone; check the key label or run "airgrant-signer init"`);
    default:
      return fail(
        "internal",
        `${token} or its PKCS#11 module failed; check the token and run with AIRGRANT_DEBUG=1 for details`,
      );
  }
}
