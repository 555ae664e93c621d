// The encodings `openssl` reads, written by hand so that a test hands openssl
// our bytes as they are and openssl, not our code, judges them.

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

/** PEM "PUBLIC KEY" from DER SubjectPublicKeyInfo (RFC 7468 §13). */
export function spkiToPem(spki: Uint8Array): string {
  const lines =
    Buffer.from(spki)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN PUBLIC KEY-----\n${lines.join("\n")}\n-----END PUBLIC KEY-----\n`;
}
