import {
  codeOf,
  makeSignedBundleBytes,
  makeTestIssuer,
  type SignedBundleSpec,
  trustedApprover,
} from "@airgrant/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSignedTrustBundle } from "./trust-bundle.js";
import { approvalRequirementFor } from "./trust-bundle-approvals.js";
import type { ApprovalTrust } from "./trust-bundle-members.js";

const issuer = makeTestIssuer();
const root = makeTestIssuer("ed25519");
const [k1, k2, k3] = [makeTestIssuer(), makeTestIssuer("ed25519"), makeTestIssuer()];
const byKeyId = <T extends { keyId: string }>(list: T[]) => [...list].sort((a, b) => (a.keyId < b.keyId ? -1 : 1));

function spec(approvals: ApprovalTrust): SignedBundleSpec {
  return {
    trustVersion: 1,
    roots: [root],
    threshold: 1,
    overrides: { groups: { prod: ["db1.example", "db2.example"], dbs: ["db1.example"] }, approvals },
  };
}

const approvers = byKeyId([
  trustedApprover(k1, "bob", ["group:prod"]),
  trustedApprover(k2, "carol", ["*"]),
  trustedApprover(k3, "dave", ["db1.example"]),
]);
const policy = [
  { target: "db2.example", approvals: 1 },
  { target: "group:dbs", approvals: 1 },
  { target: "group:prod", approvals: 2 },
  { target: "*", approvals: 0 },
];

/** The bytes of `signed` with one member replaced, re-signed: what a careless exporter could write. */
function withSigned(name: string, value: unknown): string | undefined {
  const good = decodeSignedTrustBundle(makeSignedBundleBytes([issuer], spec({ approvers, policy })));
  const signed = JSON.parse(new TextDecoder().decode(good.signedBytes));
  signed[name] = value;
  const sorted = Object.fromEntries(
    Object.keys(signed)
      .sort()
      .map((k) => [k, signed[k]]),
  );
  const text = `{"signatures":[],"signed":${JSON.stringify(sorted)}}\n`;
  return codeOf(() => decodeSignedTrustBundle(new TextEncoder().encode(text)));
}

describe("approvers and approvalPolicy of a version 2 bundle", () => {
  it("round-trip in the decoder's order, most specific entry first", () => {
    const bytes = makeSignedBundleBytes([issuer], spec({ approvers, policy: [...policy].reverse() }));
    const decoded = decodeSignedTrustBundle(bytes).bundle;
    expect(decoded.approvals?.approvers.map((a) => a.officer).sort()).toEqual(["bob", "carol", "dave"]);
    expect(decoded.approvals?.policy.map((e) => e.target)).toEqual(["db2.example", "group:dbs", "group:prod", "*"]);
    const text = new TextDecoder().decode(bytes);
    expect(text).toContain('"approvalPolicy":[{"approvals":1,"target":"db2.example"}');
    expect(text).toMatch(/"approvers":\[\{"algorithm":"[a-z0-9-]+","keyId":"[0-9a-f]{16}","officer":"/);
  });

  it("are optional: a bundle without them has no approvals", () => {
    const bytes = makeSignedBundleBytes([issuer], { trustVersion: 1, roots: [root], threshold: 1 });
    expect(decodeSignedTrustBundle(bytes).bundle.approvals).toBeUndefined();
    expect(new TextDecoder().decode(bytes)).not.toContain("approv");
  });

  it("refuse every entry out of order, twice, badly formed, or a policy no set of approvers can meet", () => {
    const raw = (list: typeof approvers) =>
      list.map((a) => ({
        algorithm: a.algorithm,
        keyId: a.keyId,
        officer: a.officer,
        publicKey: Buffer.from(a.publicKey).toString("base64"),
        targets: a.targets,
      }));
    const good = raw(approvers);
    expect(withSigned("approvers", good)).toBeUndefined();
    expect(withSigned("approvers", [...good].reverse())).toBe("malformed-bundle");
    expect(withSigned("approvers", [good[0], good[0]])).toBe("malformed-bundle");
    expect(withSigned("approvers", [])).toBe("malformed-bundle");
    expect(withSigned("approvers", [{ ...good[0], officer: "Bob" }])).toBe("malformed-bundle");
    expect(withSigned("approvers", [{ ...good[0], targets: [] }])).toBe("malformed-bundle");
    expect(withSigned("approvers", [{ ...good[0], targets: ["DB1.example"] }])).toBe("malformed-bundle");
    expect(withSigned("approvers", [{ ...good[0], keyId: good[1]?.keyId }])).toBe("malformed-bundle");
    expect(withSigned("approvers", [{ ...good[0], extra: 1 }])).toBe("malformed-bundle");
    const entry = (target: string, approvals: number) => ({ approvals, target });
    expect(withSigned("approvalPolicy", [entry("*", 2), entry("group:prod", 1)])).toBe("malformed-bundle");
    expect(withSigned("approvalPolicy", [entry("b.example", 1), entry("a.example", 1)])).toBe("malformed-bundle");
    expect(withSigned("approvalPolicy", [entry("*", 1), entry("*", 2)])).toBe("malformed-bundle");
    expect(withSigned("approvalPolicy", [entry("*", 4)])).toBe("malformed-bundle");
    expect(withSigned("approvalPolicy", [entry("*", 3)])).toBeUndefined();
    expect(withSigned("approvalPolicy", [entry("group:Prod", 1)])).toBe("malformed-bundle");
    expect(withSigned("approvalPolicy", [])).toBe("malformed-bundle");
  });

  it("refuse a policy that needs more approvals than the approvers have officers", () => {
    const three = [{ target: "*", approvals: 3 }];
    expect(codeOf(() => makeSignedBundleBytes([issuer], spec({ approvers, policy: three })))).toBeUndefined();
    const twoOfficers = byKeyId(approvers.map((a) => (a.officer === "dave" ? { ...a, officer: "bob" } : a)));
    expect(codeOf(() => makeSignedBundleBytes([issuer], spec({ approvers: twoOfficers, policy: three })))).toBe(
      "malformed-bundle",
    );
  });

  it("refuse a key that is an approver and an issuer or a root", () => {
    const asIssuer = byKeyId([trustedApprover(issuer, "bob")]);
    const asRoot = byKeyId([trustedApprover(root, "bob")]);
    expect(codeOf(() => makeSignedBundleBytes([issuer], spec({ approvers: asIssuer, policy: [] })))).toBe(
      "malformed-bundle",
    );
    expect(codeOf(() => makeSignedBundleBytes([issuer], spec({ approvers: asRoot, policy: [] })))).toBe(
      "malformed-bundle",
    );
  });

  it("hold a login to the host's own entry, else its strictest group's, else '*'", () => {
    const groups = { prod: ["db1.example", "db2.example"], dbs: ["db1.example"] };
    expect(approvalRequirementFor(policy, groups, "db2.example")).toEqual({ target: "db2.example", approvals: 1 });
    expect(approvalRequirementFor(policy, groups, "db1.example")).toEqual({ target: "group:prod", approvals: 2 });
    expect(approvalRequirementFor(policy, groups, "web.example")).toEqual({ target: "*", approvals: 0 });
    expect(approvalRequirementFor(policy.slice(0, 3), groups, "web.example")).toBeUndefined();
    expect(approvalRequirementFor([], groups, "db1.example")).toBeUndefined();
    // A group the bundle does not define lists no host, whatever its name.
    const proto = [{ target: "group:constructor", approvals: 3 }];
    expect(approvalRequirementFor(proto, groups, "db1.example")).toBeUndefined();
  });

  it("decode any shuffled, re-encoded policy to the one order", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(policy, { minLength: 1 }), (entries) => {
        const decoded = decodeSignedTrustBundle(makeSignedBundleBytes([issuer], spec({ approvers, policy: entries })));
        const order = policy.filter((e) => entries.includes(e)).map((e) => e.target);
        expect(decoded.bundle.approvals?.policy.map((e) => e.target)).toEqual(order);
      }),
      { numRuns: 30 },
    );
  });
});
