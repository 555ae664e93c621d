import { AirgrantError, auditData, keyIdOf, toHex } from "@airgrant/core";
import { tokenLocationOf } from "./init-issuer.js";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { type IssuerRecord, writeIssuerRecord } from "./issuer-record.js";
import { appendSignerEntry } from "./log-backed-counters.js";
import { type RetiredIssuer, readRetiredIssuers, writeRetiredIssuers } from "./retired-issuers.js";
import { type TokenSource, withSigner } from "./signer.js";
import type { SignerHome } from "./signer-home.js";

export interface RotateResult {
  /** The new issuer key, now in issuer.json. */
  issuer: IssuerRecord;
  /** The key it replaced, now in retired-issuers.json. */
  retired: RetiredIssuer;
  /** The new key pair was generated on the token by this call. */
  generated: boolean;
  auditSeq: number;
}

/**
 * `airgrant-signer init --rotate` (docs/signer.md, "Rotating the issuer
 * key"): under the home's lock, with the current issuer key checked on the
 * token, generates (or finds) the key labelled `keyLabel` on the same token,
 * records the current key in retired-issuers.json with `retireAt` = now,
 * then makes the new key the one in issuer.json, then appends
 * `issuer-rotated`. From then on grants are signed by the new key; signed
 * bundles list the retired key with its `retireAt` while its grants can
 * still run. In that order: a crash after the first write leaves the old key
 * signing and already listed as retired, and running the rotation again
 * finishes it (the listing is replaced, never doubled).
 */
export function rotateIssuer(
  home: SignerHome,
  token: TokenSource,
  request: { keyLabel: string; alg: IssuerKeyAlg | undefined },
  clock: () => Date = () => new Date(),
): RotateResult {
  return withSigner(home, token, ({ session, issuer }) => {
    const earlier = readRetiredIssuers(home).filter((k) => k.keyId !== issuer.keyId);
    const used = [issuer, ...earlier].find((k) => k.keyLabel === request.keyLabel);
    if (used !== undefined) {
      throw new AirgrantError(
        "bad-input",
        `key label "${request.keyLabel}" is issuer key ${used.keyId}${used === issuer ? ", the one signing now" : ", retired"}; give the new key a label of its own`,
      );
    }
    const alg = request.alg ?? issuer.alg;
    const key = session.findOrCreateIssuerKey({ label: request.keyLabel, alg, create: true });
    const keyId = toHex(keyIdOf(key.publicKeySpki));
    if (keyId === issuer.keyId || earlier.some((k) => k.keyId === keyId)) {
      throw new AirgrantError("bad-input", `the key "${request.keyLabel}" is issuer key ${keyId} already`);
    }
    const now = clock();
    const retired: RetiredIssuer = {
      keyId: issuer.keyId,
      alg: issuer.alg,
      publicKey: issuer.publicKey,
      keyLabel: issuer.keyLabel,
      created: issuer.created,
      retireAt: Math.floor(now.getTime() / 1000),
    };
    writeRetiredIssuers(home, [...earlier, retired]);
    const next = {
      keyLabel: request.keyLabel,
      alg,
      publicKey: key.publicKeySpki,
      keyId,
      created: now.toISOString(),
      token: issuer.token ?? tokenLocationOf(session),
    };
    writeIssuerRecord(home.issuerPath, next);
    const entry = appendSignerEntry(
      home,
      "issuer-rotated",
      auditData("issuer-rotated", {
        keyId,
        algorithm: alg,
        keyLabel: request.keyLabel,
        token: session.tokenLabel,
        generated: key.created,
        retiredKeyId: retired.keyId,
        retireAt: retired.retireAt,
      }),
      clock,
    );
    return { issuer: next, retired, generated: key.created, auditSeq: entry.seq };
  });
}
