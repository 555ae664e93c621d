import { AirgrantError, type ErrorCode } from "./airgrant-error.js";

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Lower-case hex of exactly `length` bytes, or an error with `code`. */
export function fromHex(text: string, length: number, code: ErrorCode, what: string): Uint8Array {
  if (text.length !== length * 2 || !/^[0-9a-f]*$/.test(text)) {
    throw new AirgrantError(code, `${what} must be ${length * 2} lower-case hex characters`);
  }
  return new Uint8Array(Buffer.from(text, "hex"));
}
