import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  encodeSshCertificate,
  encodeSshCertificateBody,
  REQUEST_EXTENSION,
  sshCertificateLine,
  sshSignatureBlob,
  toHex,
  verifyAuditLog,
} from "@airgrant/core";
import {
  makeBundleBytes,
  makeGrantText,
  makeTestIssuer,
  signWith,
  type TestIssuer,
  testFields,
} from "@airgrant/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { admitGrant } from "./admission.js";
import { decodeGrantClaims } from "./grant-claims.js";
import { installBundle, loadInstalledBundle } from "./host-state.js";
import { showRequest } from "./request-cli.js";
import { certificatesInAuthInfo, runSshSession } from "./ssh-session.js";
import { hostState } from "./state-paths.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const issuer = makeTestIssuer("ed25519");
const stranger = makeTestIssuer("ed25519");
const subject = makeTestIssuer("ed25519");
const HOST = "db1.example";
const now = Math.floor(Date.now() / 1000);
const clock = () => new Date(now * 1000);

function subjectKeyBlob(key: TestIssuer): Uint8Array {
  const type = Buffer.from("ssh-ed25519");
  const out = Buffer.alloc(4 + type.length + 4 + 32);
  out.writeUInt32BE(type.length, 0);
  type.copy(out, 4);
  out.writeUInt32BE(32, 4 + type.length);
  Buffer.from(key.spki.subarray(key.spki.length - 32)).copy(out, 8 + type.length);
  return new Uint8Array(out);
}

/** A certificate for grant `grantId` on HOST, as the signer makes them. */
function certificate(grantId: string, by: TestIssuer = issuer, principals = ["alice"], request = ""): Uint8Array {
  const keyId = `${grantId}@${HOST}`;
  const body = encodeSshCertificateBody(
    {
      subjectKey: subjectKeyBlob(subject),
      nonce: new Uint8Array(randomBytes(32)),
      serial: 7n,
      keyId,
      principals,
      validAfter: BigInt(now - 60),
      validBefore: BigInt(now + 3600),
      criticalOptions: {},
      extensions: { "permit-pty": "", ...(request === "" ? {} : { [REQUEST_EXTENSION]: request }) },
    },
    by.algorithm,
    by.spki,
  );
  return encodeSshCertificate(body, sshSignatureBlob(by.algorithm, signWith(by, body)));
}

/** SSH_AUTH_INFO_0 as sshd 9.2 sets it for a certificate login. */
function authInfo(blob: Uint8Array): string {
  return `publickey ${sshCertificateLine(blob)}\n`;
}

let work: string;
let stateDir: string;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-verifier-ssh-"));
  stateDir = join(work, "state");
  installBundle(hostState(stateDir), makeBundleBytes([issuer], { created: now - 100 }), clock);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** How many entries the host log holds, which must verify. */
function loggedEntries(): number {
  const report = verifyAuditLog(hostState(stateDir).auditLogPath);
  if (!report.ok) throw new Error(`host log: ${report.message}`);
  return report.entries;
}

function session(info: string | undefined, over: Record<string, string> = {}) {
  const env: NodeJS.ProcessEnv = {
    PAM_TYPE: "open_session",
    PAM_USER: "alice",
    PAM_SERVICE: "sshd",
    PAM_RHOST: "192.0.2.9",
    PAM_TTY: "ssh",
    ...over,
  };
  if (info !== undefined) env.SSH_AUTH_INFO_0 = info;
  return runSshSession({ stateDir, host: HOST, env, clock });
}

describe("ssh-session", () => {
  it("takes the certificate's one use at the first session and refuses the next", () => {
    const grantId = toHex(randomBytes(16));
    const blob = certificate(grantId);
    const before = loggedEntries();
    const first = session(authInfo(blob));
    expect(first).toMatchObject({ allowed: true, code: "allowed" });
    expect(first.checks[0]?.use).toBe(1);
    expect(session(authInfo(blob))).toMatchObject({ allowed: false, code: "grant-replayed" });
    expect(verifyAuditLog(hostState(stateDir).auditLogPath)).toMatchObject({ ok: true, entries: before + 2 });
  });

  it("redeems the request a certificate's request@airgrant names with its use, once, for its account only", () => {
    const shown = showRequest({ stateDir, host: HOST, user: "alice", clock });
    const bound = certificate(toHex(randomBytes(16)), issuer, ["alice"], shown.request.code.symbols);
    expect(session(authInfo(bound))).toMatchObject({ allowed: true, code: "allowed" });
    const second = certificate(toHex(randomBytes(16)), issuer, ["alice"], shown.request.code.symbols);
    expect(session(authInfo(second))).toMatchObject({ allowed: false, code: "request-redeemed" });
    const bobs = showRequest({ stateDir, host: HOST, user: "bob", clock }).request.code.symbols;
    const stolen = certificate(toHex(randomBytes(16)), issuer, ["alice"], bobs);
    expect(session(authInfo(stolen))).toMatchObject({ allowed: false, code: "request-wrong-user" });
    const typo = certificate(
      toHex(randomBytes(16)),
      issuer,
      ["alice"],
      `${bobs.slice(0, 17)}${bobs[17] === "0" ? "1" : "0"}`,
    );
    expect(session(authInfo(typo))).toMatchObject({ allowed: false, code: "request-unknown" });
    const notACode = certificate(toHex(randomBytes(16)), issuer, ["alice"], bobs.toLowerCase());
    expect(session(authInfo(notACode))).toMatchObject({ allowed: false, code: "malformed-certificate" });
  });

  it("shares the one-time store with grants typed at a prompt", () => {
    const fields = testFields(issuer, {
      principal: "alice",
      target: { kind: "host", name: HOST },
      notBefore: now - 60,
      notAfter: now + 3600,
    });
    const state = hostState(stateDir);
    const presented = new TextEncoder().encode(makeGrantText(fields, [issuer]));
    const typed = admitGrant({
      state,
      bundle: loadInstalledBundle(state),
      claims: decodeGrantClaims(presented),
      presented,
      caller: { user: "alice" },
      host: HOST,
      clock,
    });
    expect(typed.verdict.allowed).toBe(true);
    expect(session(authInfo(certificate(toHex(fields.grantId)))).code).toBe("grant-replayed");
  });

  it("leaves logins without a certificate to the rest of the stack, unlogged", () => {
    const before = verifyAuditLog(hostState(stateDir).auditLogPath);
    for (const info of ["publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOz1\n", "keyboard-interactive/pam\n"]) {
      expect(session(info)).toMatchObject({ allowed: true, code: "not-airgrant", checks: [] });
    }
    expect(verifyAuditLog(hostState(stateDir).auditLogPath)).toEqual(before);
  });

  // sshd let these in: their CA is in TrustedUserCAKeys. Left to the rest of the stack, a CA key
  // left in that file after the bundle dropped its issuer, or added beside it, would let anyone in.
  it("refuses a certificate of a CA that is not a bundle issuer, and one it cannot read", () => {
    const before = loggedEntries();
    expect(session(authInfo(certificate(toHex(randomBytes(16)), stranger)))).toMatchObject({
      allowed: false,
      code: "unknown-issuer",
    });
    expect(session("publickey ssh-ed25519-cert-v01@openssh.com !!!\n")).toMatchObject({
      allowed: false,
      code: "malformed-certificate",
    });
    expect(verifyAuditLog(hostState(stateDir).auditLogPath)).toMatchObject({ ok: true, entries: before + 2 });
  });

  it("refuses to run anywhere but an open_session with SSH_AUTH_INFO_0 set", () => {
    const blob = certificate(toHex(randomBytes(16)));
    expect(() => session(authInfo(blob), { PAM_TYPE: "account" })).toThrow(/type=open_session/);
    expect(() => session(authInfo(blob), { PAM_TYPE: "close_session" })).toThrow(/session section/);
    expect(() => session("")).toThrow(/SSH_AUTH_INFO_0 is empty/);
    expect(() => session(undefined)).toThrow(/SSH_AUTH_INFO_0 is empty/);
  });

  it("refuses a certificate for another account at the session too", () => {
    const blob = certificate(toHex(randomBytes(16)), issuer, ["bob"]);
    expect(session(authInfo(blob))).toMatchObject({ allowed: false, code: "wrong-user" });
  });

  it("finds each certificate line in SSH_AUTH_INFO_0 and ignores the rest", () => {
    const blob = certificate(toHex(randomBytes(16)));
    const found = certificatesInAuthInfo(`password\n${authInfo(blob)}publickey ssh-ed25519 AAAA\n`);
    expect(found.map((c) => c.presented)).toEqual([blob]);
  });
});

describe("airgrant-verifier ssh-ca-keys (whole process)", () => {
  it("prints a TrustedUserCAKeys line per issuer", () => {
    const r = spawnSync(process.execPath, [CLI, "ssh-ca-keys", "--state", stateDir], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^ssh-ed25519 AAAA\\S+ airgrant-issuer-${toHex(issuer.keyId)}\\n$`));
    writeFileSync(join(work, "ca"), r.stdout);
    const keygen = spawnSync("ssh-keygen", ["-l", "-f", join(work, "ca")], { encoding: "utf8" });
    if (keygen.error === undefined) expect(keygen.status).toBe(0);
  });
});
