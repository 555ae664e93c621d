import { AirgrantError, encodeGrantBody, toHex } from "@airgrant/core";
import { codeOf, makeTestIssuer, testFields } from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { carriersOf } from "./approve-grant.js";
import { decodePendingGrant, encodePendingGrant, type PendingGrant, pendingGrantOf } from "./pending-grant.js";

const issuer = makeTestIssuer();
const bob = makeTestIssuer("ed25519");
const body = encodeGrantBody(testFields(issuer));
const pending: PendingGrant = {
  body,
  issuer: { keyId: toHex(issuer.keyId), algorithm: issuer.algorithm, signature: issuer.sign(body) },
  approvals: [{ keyId: toHex(bob.keyId), algorithm: bob.algorithm, officer: "bob", signature: bob.sign(body) }],
  approvalsNeeded: 2,
};
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytesOf = (s: string) => new TextEncoder().encode(s);

describe("the pending grant file", () => {
  it("round-trips as canonical JSON, and its grant has the issuer's signature first", () => {
    const bytes = encodePendingGrant(pending);
    expect(text(bytes)).toMatch(/^\{"approvals":\[\{"algorithm":"ed25519","keyId":"[0-9a-f]{16}","officer":"bob",/);
    expect(text(bytes)).toContain('"approvalsNeeded":2,"body":"');
    expect(decodePendingGrant(bytes)).toEqual(pending);
    const grant = pendingGrantOf(pending);
    expect(grant.signatures.map((s) => toHex(s.keyId))).toEqual([toHex(issuer.keyId), toHex(bob.keyId)]);
    const denied = { ...pending, denied: { officer: "carol", reason: "not today" } };
    expect(decodePendingGrant(encodePendingGrant(denied))).toEqual(denied);
  });

  it("refuses more approvals than needed, an officer twice, a body that is not a grant's, and a denial reason with a line break", () => {
    const twice = { ...pending, approvals: [pending.approvals[0], { ...pending.approvals[0] }] } as PendingGrant;
    expect(codeOf(() => encodePendingGrant({ ...twice, approvalsNeeded: 3 }))).toBe("malformed-pending-grant");
    expect(codeOf(() => encodePendingGrant({ ...pending, approvalsNeeded: 1, approvals: [...twice.approvals] }))).toBe(
      "malformed-pending-grant",
    );
    expect(codeOf(() => encodePendingGrant({ ...pending, body: body.subarray(1) }))).toBe("malformed-pending-grant");
    const badReason = { ...pending, denied: { officer: "carol", reason: "a\nb" } };
    expect(codeOf(() => encodePendingGrant(badReason))).toBe("malformed-pending-grant");
    expect(codeOf(() => decodePendingGrant(bytesOf(text(encodePendingGrant(pending)).replace("\n", " \n"))))).toBe(
      "malformed-pending-grant",
    );
  });

  it("decodes any one-byte change of a good file to a file that encodes back to it, or refuses it as malformed", () => {
    const good = encodePendingGrant(pending);
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const bytes = good.slice();
        bytes[at] = (bytes[at] as number) ^ xor;
        try {
          expect(encodePendingGrant(decodePendingGrant(bytes))).toEqual(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(AirgrantError);
          expect((err as AirgrantError).code).toBe("malformed-pending-grant");
        }
      }),
    );
  });

  it("tells whether a grant's text fits a password prompt", () => {
    expect(carriersOf(511)).toMatchObject({ fitsPrompt: true });
    expect(carriersOf(512).advice).toContain("more than the 511 a password prompt takes");
  });
});
