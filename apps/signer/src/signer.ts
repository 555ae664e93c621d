import { AirgrantError, ensurePrivateDirectory } from "@airgrant/core";
import { withHomeLock } from "./home-lock.js";
import { type IssuerRecord, requireIssuerRecord } from "./issuer-record.js";
import type { SignerHome } from "./signer-home.js";
import { TokenSession } from "./token-session.js";

/**
 * A signer ready to act: its home, under the home's lock for as long as it
 * lives; a logged-in token session; the issuer key it signs with. Only
 * withSigner makes one.
 */
export interface Signer {
  readonly home: SignerHome;
  readonly session: TokenSession;
  readonly issuer: IssuerRecord;
}

/**
 * Checks that the token holds the issuer key of issuer.json (its public half
 * must match), so a grant is never signed by a key the bundle lacks.
 */
function checkIssuerKey(home: SignerHome, session: TokenSession, issuer: IssuerRecord): void {
  const onToken = session.findOrCreateIssuerKey({ label: issuer.keyLabel, alg: issuer.alg, create: false });
  if (Buffer.compare(Buffer.from(onToken.publicKeySpki), Buffer.from(issuer.publicKey)) !== 0) {
    throw new AirgrantError(
      "key-missing",
      `the key "${issuer.keyLabel}" on token "${session.tokenLabel}" is not the issuer key ${issuer.keyId} recorded in ${home.issuerPath}; use the token it was made on, or run init in a new --home`,
    );
  }
}

/**
 * Runs `run` with a Signer of `home`, the whole of it under the home's lock
 * (docs/signer.md, "Home"): issuer.json is read once (`key-missing` before
 * the token is touched when there is none), the token is opened by
 * `openSession` (or `token`, a session the caller keeps, is used) and its key
 * checked, and every read and append of the home in `run` is inside the same
 * lock. A session opened here is closed when `run` returns or throws.
 */
export function withSigner<T>(
  home: SignerHome,
  token: TokenSession | (() => TokenSession),
  run: (signer: Signer) => T,
): T {
  ensurePrivateDirectory(home.dir);
  return withHomeLock(home.lockPath, () => {
    const issuer = requireIssuerRecord(home.issuerPath);
    const session = token instanceof TokenSession ? token : token();
    try {
      checkIssuerKey(home, session, issuer);
      return run({ home, session, issuer });
    } finally {
      if (session !== token) session.close();
    }
  });
}
