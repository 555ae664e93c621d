import { AirgrantError, ensurePrivateDirectory } from "@airgrant/core";
import { withHomeLock } from "./home-lock.js";
import { type IssuerRecord, readIssuerRecord, requireIssuerRecord, type TokenLocation } from "./issuer-record.js";
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
 * A session the caller keeps, or how to open one given the token the home
 * recorded at init (the CLI's: its flags, the record, the defaults).
 */
export type TokenSource = TokenSession | ((recorded: TokenLocation | undefined) => TokenSession);

/** `run` with the session of `token`, opened now (and closed after) unless the caller keeps it. */
function inSession<T>(token: TokenSource, issuer: IssuerRecord | undefined, run: (session: TokenSession) => T): T {
  const session = token instanceof TokenSession ? token : token(issuer?.token);
  try {
    return run(session);
  } finally {
    if (session !== token) session.close();
  }
}

/**
 * Runs `run` with the token open, the whole of it under the home's lock
 * (docs/signer.md, "Home"): one operation of the signer, whatever the
 * command. The session is opened inside the lock too, so two signers of one
 * home never read the token while the other's login rewrites it (SoftHSM2).
 * issuer.json is read once, before the token is opened; `run` gets it, or
 * undefined before the first init.
 */
export function withHomeSession<T>(
  home: SignerHome,
  token: TokenSource,
  run: (session: TokenSession, issuer: IssuerRecord | undefined) => T,
): T {
  ensurePrivateDirectory(home.dir);
  return withHomeLock(home.lockPath, () => {
    const issuer = readIssuerRecord(home.issuerPath);
    return inSession(token, issuer, (session) => run(session, issuer));
  });
}

/**
 * Runs `run` with a Signer of `home`, under the home's lock like
 * withHomeSession: issuer.json is read once (`key-missing` before the token
 * is touched when there is none), the token is opened and its key checked
 * against it before `run` signs anything.
 */
export function withSigner<T>(home: SignerHome, token: TokenSource, run: (signer: Signer) => T): T {
  ensurePrivateDirectory(home.dir);
  return withHomeLock(home.lockPath, () => {
    const issuer = requireIssuerRecord(home.issuerPath);
    return inSession(token, issuer, (session) => {
      checkIssuerKey(home, session, issuer);
      return run({ home, session, issuer });
    });
  });
}
