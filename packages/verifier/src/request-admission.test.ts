// Request codes through the one admission (docs/requests.md): a host's
// request, a grant bound to it, and the refusals of every other binding, on a
// real state directory with the host's clock pinned.
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AirgrantError, readAuditData, requestChallenge, verifyAuditLog } from "@airgrant/core";
import {
  makeBundleBytes,
  makeGrantText,
  makeSignedBundleBytes,
  makeTestIssuer,
  T0,
  testFields,
} from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { admitGrant } from "./admission.js";
import { decodeGrantClaims } from "./grant-claims.js";
import { installBundle, loadInstalledBundle } from "./host-state.js";
import { showRequest } from "./request-cli.js";
import { hostState } from "./state-paths.js";

const issuer = makeTestIssuer();
const root = makeTestIssuer();
const HOST = "db1.example";
const work = mkdtempSync(join(tmpdir(), "airgrant-requests-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const at = (seconds: number) => () => new Date(seconds * 1000);
let counter = 0;
/** Random bytes that differ at every call, so each request gets its own code. */
const random = (n: number) => {
  counter++;
  return Uint8Array.from({ length: n }, (_, i) => (counter * 37 + i * 11) & 0xff);
};

function freshState(bundle = makeBundleBytes([issuer], { created: T0 - 100 })) {
  const dir = mkdtempSync(join(work, "state-"));
  installBundle(hostState(dir), bundle, at(T0));
  return dir;
}

function request(dir: string, user: string, now: number, host = HOST) {
  return showRequest({ stateDir: dir, host, user, clock: at(now), random });
}

/** A grant signed at `signedAt` on the signer's clock, for `ttl` seconds, bound to `challenge` when given. */
function grant(user: string, signedAt: number, challenge?: Uint8Array, ttl = 900) {
  return makeGrantText(
    testFields(issuer, {
      principal: user,
      notBefore: signedAt,
      notAfter: signedAt + ttl,
      ...(challenge === undefined ? {} : { challenge }),
    }),
    [issuer],
  );
}

function check(dir: string, user: string, text: string, now: number) {
  const state = hostState(dir);
  const presented = new TextEncoder().encode(text);
  return admitGrant({
    state,
    bundle: loadInstalledBundle(state),
    claims: decodeGrantClaims(presented),
    presented,
    caller: { user },
    host: HOST,
    clock: at(now),
  });
}

function entries(dir: string, type: string) {
  const found: Array<Record<string, unknown>> = [];
  verifyAuditLog(join(dir, "audit.log"), {
    onEntry: (entry) => {
      if (entry.type === type) found.push(readAuditData(type as "grant-check", entry.data).record);
      return undefined;
    },
  });
  return found;
}

describe("request codes at the admission", () => {
  it("shows one code per account while it is pending, logs it once, and lets its bound grant in once", () => {
    const dir = freshState();
    const first = request(dir, "alice", T0 + 10);
    expect(first.request.fresh).toBe(true);
    const again = request(dir, "alice", T0 + 200);
    expect(again.request.fresh).toBe(false);
    expect(again.request.code).toEqual(first.request.code);
    expect(request(dir, "bob", T0 + 200).request.code).not.toEqual(first.request.code);
    expect(entries(dir, "request-created").map((e) => e.user)).toEqual(["alice", "bob"]);
    expect(readdirSync(join(dir, "requests")).length).toBeGreaterThanOrEqual(2);

    const bound = grant("alice", T0 + 300, requestChallenge(first.request.code));
    const allowed = check(dir, "alice", bound, T0 + 320);
    expect(allowed.verdict.code).toBe("allowed");
    // Its access lasts its duration from its use, on the host's clock: the session ends then.
    expect(allowed.accessEndsAt).toBe(T0 + 320 + 900);
    expect(allowed.verdict.message).toContain(new Date((T0 + 320 + 900) * 1000).toISOString().slice(0, 19));
    expect(check(dir, "alice", bound, T0 + 330).verdict.code).toBe("request-redeemed");
    const other = grant("alice", T0 + 300, requestChallenge(first.request.code));
    expect(check(dir, "alice", other, T0 + 340).verdict.code).toBe("request-redeemed");
    // Redeemed, it is no longer pending: the account gets a new code.
    expect(request(dir, "alice", T0 + 400).request.code).not.toEqual(first.request.code);
    const logged = entries(dir, "grant-check").find((e) => e.verdict === "allowed");
    expect(logged).toMatchObject({
      accessEndsAt: T0 + 320 + 900,
      request: first.request.code.symbols,
      requestAge: 310,
      enforced: { challenge: "airgrant" },
    });
    expect(logged?.signerAhead).toEqual({ least: -20, most: 290 });
  });

  it("refuses a grant bound to another account's request, to another host's, and to one it never made", () => {
    const dir = freshState();
    const bobs = request(dir, "bob", T0 + 10).request.code;
    expect(check(dir, "alice", grant("alice", T0 + 20, requestChallenge(bobs)), T0 + 30).verdict.code).toBe(
      "request-wrong-user",
    );
    const elsewhere = freshState();
    const theirs = request(elsewhere, "alice", T0 + 10, "db2.example").request.code;
    expect(check(dir, "alice", grant("alice", T0 + 20, requestChallenge(theirs)), T0 + 30).verdict.code).toBe(
      "request-wrong-host",
    );
    const unmade = request(freshState(), "alice", T0 + 10).request.code;
    expect(check(dir, "alice", grant("alice", T0 + 20, requestChallenge(unmade)), T0 + 30).verdict.code).toBe(
      "request-unknown",
    );
    // Bob's request is untouched by the refusal: his own grant still opens it.
    expect(check(dir, "bob", grant("bob", T0 + 20, requestChallenge(bobs)), T0 + 40).verdict.code).toBe("allowed");
  });

  it("judges a bound grant by its request's age on the host's clock, whatever the signer's clock says", () => {
    const dir = freshState();
    const code = request(dir, "alice", T0 + 10).request.code;
    // The signer's clock is three hours ahead: a wall-clock rule would refuse it.
    const ahead = grant("alice", T0 + 10_800 + 60, requestChallenge(code));
    const allowed = check(dir, "alice", ahead, T0 + 70);
    expect(allowed.verdict.code).toBe("allowed");
    expect(entries(dir, "grant-check").at(-1)?.signerAhead).toEqual({ least: 10_790, most: 10_850 });
    const stale = request(dir, "bob", T0 + 100).request.code;
    const late = check(dir, "bob", grant("bob", T0 + 100, requestChallenge(stale)), T0 + 100 + 3600);
    expect(late.verdict.code).toBe("request-expired");
    expect(late.verdict.message).toContain("made 3600 s ago");
  });

  it("says by how much the clocks disagree when a grant bound to no request is outside its window", () => {
    const dir = freshState();
    const early = check(dir, "alice", grant("alice", T0 + 10_800), T0);
    expect(early.verdict.code).toBe("grant-not-yet-valid");
    expect(early.verdict.message).toContain("10800 s before (300 s skew allowed)");
    const late = check(dir, "alice", grant("alice", T0 - 4000), T0);
    expect(late.verdict.code).toBe("grant-expired");
    expect(late.verdict.message).toContain("3100 s after");
    // The issuer key's validity too: the bundle's issuer is valid until a year after T0.
    const issuerLate = check(dir, "alice", grant("alice", T0 + 366 * 86_400), T0 + 366 * 86_400);
    expect(issuerLate.verdict.code).toBe("issuer-not-valid");
    expect(issuerLate.verdict.message).toContain(`${86_400} s after it (300 s skew allowed)`);
  });

  it("holds the time floor: a clock set back reopens no window and takes no request younger", () => {
    const dir = freshState();
    const code = request(dir, "alice", T0 + 10).request.code;
    const unbound = grant("alice", T0);
    expect(check(dir, "alice", grant("bob", T0), T0 + 7200).verdict.code).toBe("grant-expired");
    const back = check(dir, "alice", unbound, T0 + 100);
    expect(back.verdict.code).toBe("clock-behind");
    expect(back.verdict.message).toContain("7100 s behind");
    expect(check(dir, "alice", grant("alice", T0 + 20, requestChallenge(code)), T0 + 100).verdict.code).toBe(
      "clock-behind",
    );
    expect(() => request(dir, "carol", T0 + 100)).toThrow(AirgrantError);
    // Within the skew the check is judged at the floor: a window that ended
    // by the floor stays ended, although the clock is inside it.
    const ended = grant("alice", T0 + 5900);
    expect(check(dir, "alice", ended, T0 + 7200 - 200).verdict.code).toBe("grant-expired");
    const behind = entries(dir, "grant-check").at(-1);
    expect(behind?.clockBehind).toBeGreaterThanOrEqual(200);
    expect(() => verifyAuditLog(join(dir, "audit.log"))).not.toThrow();
  });

  it("caps the requests pending on a host, and refuses a grant bound to no request where the policy requires one", () => {
    const requestPolicy = { required: [HOST], lifetime: 600, maxPendingPerHost: 2 };
    const dir = freshState(
      makeSignedBundleBytes([issuer], {
        trustVersion: 1,
        roots: [root],
        threshold: 1,
        overrides: { created: T0 - 100, requestPolicy },
      }),
    );
    request(dir, "alice", T0 + 10);
    request(dir, "bob", T0 + 10);
    expect(() => request(dir, "carol", T0 + 10)).toThrow(/2 pending requests/);
    expect(request(dir, "alice", T0 + 20).request.fresh).toBe(false);
    // Expired after the policy's lifetime, they make room again.
    expect(request(dir, "carol", T0 + 610).request.fresh).toBe(true);
    expect(check(dir, "alice", grant("alice", T0 + 600), T0 + 620).verdict.code).toBe("request-required");
    const code = request(dir, "alice", T0 + 620).request.code;
    expect(check(dir, "alice", grant("alice", T0 + 630, requestChallenge(code)), T0 + 640).verdict.code).toBe(
      "allowed",
    );
    expect(check(dir, "dave", grant("dave", T0 + 630), T0 + 640).verdict.code).toBe("request-required");
  });

  it("never reads outside requests/ for a challenge, and refuses requests/ when others could write to it", () => {
    const dir = freshState();
    request(dir, "alice", T0 + 10);
    const traversal = new TextEncoder().encode("../../bundle.jsonX");
    expect(traversal.length).toBe(18);
    const r = check(dir, "alice", grant("alice", T0 + 20, traversal), T0 + 30);
    expect(r.verdict).toMatchObject({
      code: "request-unknown",
      message: expect.stringContaining("is not a request code"),
    });
    // Someone who could add a record there could make a request the host never made.
    chmodSync(join(dir, "requests"), 0o770);
    expect(() => check(dir, "alice", grant("alice", T0 + 20), T0 + 40)).toThrow(
      expect.objectContaining({ code: "state-insecure" }),
    );
  });

  it("refuses to make a request for what is not an account name, or on a host no grant can name", () => {
    const dir = freshState();
    expect(() => request(dir, "../../etc", T0)).toThrow(expect.objectContaining({ code: "invalid-user" }));
    expect(() => request(dir, "alice", T0, `${"a".repeat(64)}.example`)).toThrow(
      expect.objectContaining({ code: "bad-input" }),
    );
    expect(existsSync(join(dir, "requests"))).toBe(false);
  });
});
