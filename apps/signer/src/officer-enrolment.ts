import { AirgrantError, auditData } from "@airgrant/core";
import { appendSignerEntry } from "./log-backed-counters.js";
import { readSecretFile } from "./secret-file.js";
import { type TokenSource, withHomeSession } from "./signer.js";
import type { SignerHome } from "./signer-home.js";
import { aesKeyLabelOf, type Officer, readPolicy, writePolicy } from "./signer-policy.js";

export interface OfficerEnrolment {
  name: string;
  yubikeyId: string;
  privateId: string;
  /** The YubiKey's AES-128 secret; zeroed by enrolOfficer once it is on the token. */
  aesKey: Uint8Array;
  targets: string[];
  maxTtl: number;
}

/**
 * Reads a YubiKey AES key file: 32 hex digits, as personalisation tools print
 * them, and at most one line feed, in a file only its owner may read
 * (readSecretFile). The buffers read are zeroed.
 */
export function readAesKeyFile(path: string): Uint8Array {
  const raw = readSecretFile(path, "--aes-key-file");
  try {
    let end = raw.length;
    if (raw[end - 1] === 0x0a) end -= 1;
    if (raw[end - 1] === 0x0d) end -= 1;
    const hex = raw.subarray(0, end);
    if (
      hex.length !== 32 ||
      !hex.every((b) => (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) || (b >= 0x41 && b <= 0x46))
    ) {
      throw new AirgrantError("bad-input", `${path} must hold the 16-byte AES key as 32 hex digits (and a newline)`);
    }
    const key = new Uint8Array(16);
    for (let i = 0; i < 16; i++)
      key[i] = Number.parseInt(String.fromCharCode(hex[2 * i] as number, hex[2 * i + 1] as number), 16);
    return key;
  } finally {
    raw.fill(0);
  }
}

/**
 * Enrols an officer: stores the AES secret on the token (sensitive, never
 * extractable, decrypt only), then the officer in the policy, then an
 * `officer-added` audit entry, all under the home's lock. A name or YubiKey
 * already enrolled is refused (`officer-exists`) before the token is touched.
 */
export function enrolOfficer(
  home: SignerHome,
  token: TokenSource,
  enrolment: OfficerEnrolment,
  clock: () => Date = () => new Date(),
): { officer: Officer; auditSeq: number } {
  try {
    return withHomeSession(home, token, (session) => {
      const policy = readPolicy(home.policyPath);
      if (policy.officers.some((o) => o.name === enrolment.name)) {
        throw new AirgrantError(
          "officer-exists",
          `an officer named ${enrolment.name} is already enrolled; remove them first`,
        );
      }
      const holder = policy.officers.find((o) => o.yubikeyId === enrolment.yubikeyId);
      if (holder !== undefined) {
        throw new AirgrantError(
          "officer-exists",
          `YubiKey ${enrolment.yubikeyId} is already enrolled for officer ${holder.name}; remove them first`,
        );
      }
      const officer: Officer = {
        name: enrolment.name,
        yubikeyId: enrolment.yubikeyId,
        privateId: enrolment.privateId,
        aesKeyLabel: aesKeyLabelOf(enrolment.yubikeyId),
        targets: enrolment.targets,
        maxTtl: enrolment.maxTtl,
        enrolled: clock().toISOString(),
      };
      // A key left on the token by an enrolment that crashed before the policy
      // was written belongs to nobody: replace it.
      session.deleteObjects(officer.aesKeyLabel);
      session.importAesSecret(officer.aesKeyLabel, enrolment.aesKey);
      writePolicy(home.policyPath, { ...policy, officers: [...policy.officers, officer] });
      const entry = appendSignerEntry(
        home,
        "officer-added",
        auditData("officer-added", {
          officer: officer.name,
          yubikeyId: officer.yubikeyId,
          aesKeyLabel: officer.aesKeyLabel,
          targets: officer.targets,
          maxTtl: officer.maxTtl,
        }),
        clock,
      );
      return { officer, auditSeq: entry.seq };
    });
  } finally {
    enrolment.aesKey.fill(0);
  }
}

/**
 * Removes an officer from the policy and deletes their AES secret from the
 * token. Their YubiKey's OTP counters are kept, so that if the key is
 * enrolled again its old OTPs are still refused.
 */
export function removeOfficer(
  home: SignerHome,
  token: TokenSource,
  name: string,
  clock: () => Date = () => new Date(),
): { officer: Officer; auditSeq: number } {
  return withHomeSession(home, token, (session) => {
    const policy = readPolicy(home.policyPath);
    const officer = policy.officers.find((o) => o.name === name);
    if (officer === undefined) {
      throw new AirgrantError(
        "unknown-officer",
        `no officer named ${name} is enrolled; see "airgrant-signer officer list"`,
      );
    }
    // Policy first: a crash between the two leaves an orphan key on the token
    // (replaced at the next enrolment), never an officer without a key.
    writePolicy(home.policyPath, { ...policy, officers: policy.officers.filter((o) => o !== officer) });
    const deleted = session.deleteObjects(officer.aesKeyLabel);
    const entry = appendSignerEntry(
      home,
      "officer-removed",
      auditData("officer-removed", {
        officer: officer.name,
        yubikeyId: officer.yubikeyId,
        tokenObjectsDeleted: deleted,
      }),
      clock,
    );
    return { officer, auditSeq: entry.seq };
  });
}
