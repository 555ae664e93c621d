import { AirgrantError, exitStatusOf } from "@airgrant/core";
import pkcs11js from "pkcs11js";
import { describe, expect, it } from "vitest";
import { toAirgrantError } from "./pkcs11-error.js";

/** An error as pkcs11js throws it for a CK_RV (its message is "NAME:number"). */
function moduleError(name: string, rv: number): Error {
  return new pkcs11js.Pkcs11Error(`${name}:${rv}`, rv, "C_Login");
}

describe("toAirgrantError", () => {
  it.each([
    ["CKR_PIN_INCORRECT", pkcs11js.CKR_PIN_INCORRECT, "wrong-pin"],
    ["CKR_PIN_LEN_RANGE", pkcs11js.CKR_PIN_LEN_RANGE, "wrong-pin"],
    ["CKR_PIN_LOCKED", pkcs11js.CKR_PIN_LOCKED, "pin-locked"],
    ["CKR_MECHANISM_INVALID", pkcs11js.CKR_MECHANISM_INVALID, "mechanism-unsupported"],
    ["CKR_CURVE_NOT_SUPPORTED", 0x140, "mechanism-unsupported"],
    ["CKR_TOKEN_NOT_PRESENT", pkcs11js.CKR_TOKEN_NOT_PRESENT, "token-not-found"],
    ["CKR_DEVICE_REMOVED", pkcs11js.CKR_DEVICE_REMOVED, "token-not-found"],
    ["CKR_KEY_HANDLE_INVALID", pkcs11js.CKR_KEY_HANDLE_INVALID, "key-missing"],
    ["CKR_DEVICE_ERROR", pkcs11js.CKR_DEVICE_ERROR, "internal"],
  ])("maps %s (%i) to %s, an environment error (exit 3)", (name, rv, code) => {
    const err = toAirgrantError(moduleError(name, rv), { action: "log in", tokenLabel: "desk" });
    expect(err.code).toBe(code);
    expect(err.message).toContain(name);
    expect(err.message).toContain('"desk"');
    expect(exitStatusOf(err.code)).toBe(3);
  });

  it("passes AirgrantErrors through", () => {
    const original = new AirgrantError("key-missing", "gone");
    expect(toAirgrantError(original, { action: "sign" })).toBe(original);
  });

  it("treats errors that are not from the module as internal", () => {
    expect(toAirgrantError(new TypeError("bad argument"), { action: "sign" }).code).toBe("internal");
  });
});
