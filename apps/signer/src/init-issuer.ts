import { resolve } from "node:path";
import { AirgrantError, auditData, keyIdOf, toHex } from "@airgrant/core";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { type IssuerRecord, type TokenLocation, writeIssuerRecord } from "./issuer-record.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import { type TokenSource, withHomeSession } from "./signer.js";
import type { SignerHome } from "./signer-home.js";
import type { TokenSession } from "./token-session.js";

/**
 * The token a session has open, as issuer.json records it: a bare file name
 * is left for the dynamic loader to search, as it was found; a path is made
 * absolute, since later commands run elsewhere.
 */
export function tokenLocationOf(session: TokenSession): TokenLocation {
  return {
    tokenLabel: session.tokenLabel,
    modulePath: session.modulePath.includes("/") ? resolve(session.modulePath) : session.modulePath,
  };
}

export interface InitResult {
  issuer: IssuerRecord;
  /** The key pair was generated on the token by this call. */
  generated: boolean;
  /** issuer.json was written by this call (first init in this home). */
  recorded: boolean;
}

/**
 * `airgrant-signer init`: finds the issuer key on the token by label, or
 * generates it there, and records its public half in issuer.json, under the
 * home's lock so that two runs at once make one key. Run again, it reports
 * the key already recorded. `alg` undefined means: the recorded key's, else
 * ECDSA P-256. The record names the token it was opened on (module and
 * label), which later commands open unless told otherwise.
 */
export function initIssuer(
  home: SignerHome,
  token: TokenSource,
  request: { keyLabel: string; alg: IssuerKeyAlg | undefined },
  clock: () => Date = () => new Date(),
): InitResult {
  return withHomeSession(home, token, (session, recorded) => {
    if (recorded !== undefined && recorded.keyLabel !== request.keyLabel) {
      throw new AirgrantError(
        "bad-input",
        `this home already signs with key "${recorded.keyLabel}" (${recorded.keyId}); use --home for another issuer`,
      );
    }
    const alg = request.alg ?? recorded?.alg ?? "ecdsa-p256";
    const key = session.findOrCreateIssuerKey({ label: request.keyLabel, alg, create: true });
    const keyId = toHex(keyIdOf(key.publicKeySpki));
    if (recorded !== undefined) {
      if (recorded.keyId !== keyId) {
        throw new AirgrantError(
          "key-missing",
          `the key "${request.keyLabel}" on token "${session.tokenLabel}" is ${keyId}, not the issuer ${recorded.keyId} recorded in ${home.issuerPath}; use the token it was made on, or another --home`,
        );
      }
      return { issuer: recorded, generated: key.created, recorded: false };
    }
    const issuer = {
      keyLabel: request.keyLabel,
      alg,
      publicKey: key.publicKeySpki,
      keyId,
      created: clock().toISOString(),
      token: tokenLocationOf(session),
    };
    writeIssuerRecord(home.issuerPath, issuer);
    appendSignerEntry(
      home,
      "issuer-initialised",
      auditData("issuer-initialised", {
        keyId,
        algorithm: alg,
        keyLabel: request.keyLabel,
        token: session.tokenLabel,
        generated: key.created,
      }),
      clock,
    );
    return { issuer, generated: key.created, recorded: true };
  });
}
