import { readdirSync, unlinkSync } from "node:fs";
import {
  AirgrantError,
  checkPrincipal,
  checkTarget,
  createExclusiveRecord,
  ensurePrivateDirectory,
  fsyncDirectory,
  newRequestCode,
  type RequestCode,
  type RequestPolicy,
  readExclusiveRecord,
  requestCodeOfChallenge,
  withFileLock,
} from "@airgrant/core";
import { inDir } from "./state-paths.js";
import { lstatIfPresent } from "./state-permissions.js";

/**
 * The pending requests of a host (docs/requests.md, "On the host"): a
 * directory holding one record per request, named by its code's 18 symbols,
 * and one `<code>.redeemed` record beside it once a grant redeemed it. Both
 * are exclusive records (createExclusiveRecord): made in one atomic step,
 * and a redemption is won by exactly one process however many race for it.
 * Requests are made under `requests/.lock`, so the caps hold and an account
 * never gets two codes at once.
 */
export interface RequestRecord {
  user: string;
  host: string;
  /** When it was made, on the host's clock (its time floor), seconds. */
  created: number;
}

export interface Request extends RequestRecord {
  code: RequestCode;
}

/** What the store knows of a grant's `challenge`, looked up before the rules decide. */
export interface RequestLookup {
  /** The code the challenge names; undefined when it is not a request code. */
  code?: RequestCode;
  /** Its record on this host, when there is one. */
  record?: RequestRecord;
  redeemed?: boolean;
}

const CODE_NAME = /^[0-9A-HJKMNP-TV-Z]{18}$/;
const REDEEMED = ".redeemed";

function readRecord(path: string): RequestRecord | undefined {
  let text: string;
  try {
    text = readExclusiveRecord(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new AirgrantError("state-unreadable", `cannot read ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    const o = JSON.parse(text) as Partial<RequestRecord>;
    if (typeof o.user === "string" && typeof o.host === "string" && Number.isSafeInteger(o.created)) {
      return { user: o.user, host: o.host, created: o.created as number };
    }
  } catch {
    // Handled below.
  }
  throw new AirgrantError("state-corrupt", `${path} is not a request record`);
}

/** The request a grant's challenge names, as this host holds it. */
export function lookUpRequest(dir: string, challenge: Uint8Array): RequestLookup {
  const code = requestCodeOfChallenge(challenge);
  if (code === undefined) return {};
  const record = readRecord(inDir(dir, code.symbols));
  if (record === undefined) return { code };
  return { code, record, redeemed: lstatIfPresent(inDir(dir, code.symbols + REDEEMED)) !== undefined };
}

/**
 * Mark a request redeemed by `grantId`; false when another check redeemed
 * it first. Durable once the directory is flushed (flushRequestStore).
 */
export function redeemRequest(dir: string, code: RequestCode, grantId: string, at: number): boolean {
  return createExclusiveRecord(inDir(dir, code.symbols + REDEEMED), JSON.stringify({ grantId, at }), {
    durable: false,
  });
}

export function flushRequestStore(dir: string): void {
  fsyncDirectory(dir);
}

function listRequests(dir: string): Array<Request & { redeemed: boolean }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const redeemed = new Set(names.filter((n) => n.endsWith(REDEEMED)).map((n) => n.slice(0, -REDEEMED.length)));
  const out: Array<Request & { redeemed: boolean }> = [];
  for (const name of names) {
    if (!CODE_NAME.test(name)) continue;
    const record = readRecord(inDir(dir, name));
    const code = requestCodeOfChallenge(new TextEncoder().encode(name));
    if (record === undefined || code === undefined) continue;
    out.push({ ...record, code, redeemed: redeemed.has(name) });
  }
  return out;
}

/**
 * Requests gone past their lifetime for as long again are removed, with
 * their redeemed marks: a grant bound to one is then `request-unknown`
 * rather than `request-expired`, refused either way.
 */
function pruneRequests(dir: string, requests: Array<Request & { redeemed: boolean }>, now: number, lifetime: number) {
  let removed = 0;
  for (const r of requests) {
    if (now < r.created + 2 * lifetime) continue;
    for (const name of [r.code.symbols + REDEEMED, r.code.symbols]) {
      try {
        unlinkSync(inDir(dir, name));
        removed++;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
  }
  return removed;
}

export interface PendingRequest extends Request {
  /** False when the account's pending request was shown again. */
  fresh: boolean;
}

/**
 * The account's pending request on this host, or a new one: the same code
 * while one is pending and unredeemed, so that retrying or reconnecting
 * shows it again. Refuses `request-limit` when `maxPendingPerHost` requests
 * are pending. A new request is given to `log` before its record is made,
 * and is durable when this returns: a crash in between leaves a logged
 * request that was never shown, never a pending request the log lacks.
 */
export function pendingRequestFor(
  dir: string,
  wanted: { user: string; host: string },
  policy: RequestPolicy,
  now: number,
  random: (length: number) => Uint8Array,
  log: (request: Request) => void,
): PendingRequest {
  try {
    checkPrincipal(wanted.user);
  } catch {
    throw new AirgrantError("invalid-user", "the user name is not a valid account name");
  }
  try {
    checkTarget({ kind: "host", name: wanted.host });
  } catch (err) {
    // No grant can name such a host (docs/grant-format.md, "Host names"), so no request is made for it.
    throw new AirgrantError("bad-input", `this host's name '${wanted.host.slice(0, 80)}': ${(err as Error).message}`);
  }
  ensurePrivateDirectory(dir);
  return withFileLock(inDir(dir, ".lock"), () => {
    const all = listRequests(dir);
    if (pruneRequests(dir, all, now, policy.lifetime) > 0) fsyncDirectory(dir);
    const pending = all.filter((r) => !r.redeemed && now < r.created + policy.lifetime);
    const mine = pending.find((r) => r.user === wanted.user && r.host === wanted.host);
    if (mine !== undefined) return { ...mine, fresh: false };
    if (pending.length >= policy.maxPendingPerHost) {
      throw new AirgrantError(
        "request-limit",
        `this host holds ${pending.length} pending requests, its limit (requestPolicy.maxPendingPerHost): a new one is made when one is redeemed or expires`,
      );
    }
    for (;;) {
      const code = newRequestCode(wanted.host, wanted.user, random);
      const record: RequestRecord = { user: wanted.user, host: wanted.host, created: now };
      // 60 random bits: a code already in the store is a new draw, logged again.
      if (lstatIfPresent(inDir(dir, code.symbols)) !== undefined) continue;
      log({ ...record, code });
      if (createExclusiveRecord(inDir(dir, code.symbols), JSON.stringify(record))) {
        return { ...record, code, fresh: true };
      }
    }
  });
}
