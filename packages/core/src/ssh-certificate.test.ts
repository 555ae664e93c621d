import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codeOf, ecdsaTwin, makeTestIssuer, signWith, type TestIssuer } from "@airgrant/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { isLowS, toLowS } from "./signature-algorithm.js";
import {
  decodeSshCertificate,
  encodeSshCertificate,
  encodeSshCertificateBody,
  parseSshPublicKeyLine,
  sshCertificateLine,
  sshIssuerKeyLine,
  sshSignatureBlob,
  verifySshCertificate,
} from "./ssh-certificate.js";
import { SshReader, SshWriter } from "./ssh-wire.js";

const dir = mkdtempSync(join(tmpdir(), "airgrant-sshcert-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const subjectKeys = new Map<string, string>();
/** An engineer's key made by ssh-keygen, once per type. */
function subjectKey(type: "ed25519" | "ecdsa" | "rsa"): string {
  const path = join(dir, `id_${type}`);
  if (!subjectKeys.has(type)) {
    execFileSync("ssh-keygen", ["-q", "-t", type, "-N", "", "-C", "engineer", "-f", path]);
    subjectKeys.set(type, readFileSync(`${path}.pub`, "utf8"));
  }
  return subjectKeys.get(type) as string;
}

function certify(ca: TestIssuer, pubLine: string, keyId = "0123456789abcdef0123456789abcdef") {
  const body = encodeSshCertificateBody(
    {
      subjectKey: parseSshPublicKeyLine(pubLine).blob,
      nonce: new Uint8Array(32).fill(5),
      serial: 0x1234_5678_9abc_def0n,
      keyId,
      principals: ["alice"],
      validAfter: 1_800_000_000n,
      validBefore: 1_800_003_600n,
      criticalOptions: { "source-address": "10.0.0.0/8,127.0.0.1", "force-command": "/usr/bin/uptime" },
      extensions: { "permit-pty": "", "permit-X11-forwarding": "" },
    },
    ca.algorithm,
    ca.spki,
  );
  return encodeSshCertificate(body, sshSignatureBlob(ca.algorithm, signWith(ca, body)));
}

function keygenList(cert: Uint8Array): { status: number | null; out: string } {
  const path = join(dir, "id-cert.pub");
  writeFileSync(path, `${sshCertificateLine(cert)}\n`);
  const r = spawnSync("ssh-keygen", ["-L", "-f", path], { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe("OpenSSH user certificates", () => {
  for (const alg of ["ecdsa-p256-sha256", "ed25519"] as const) {
    for (const subject of ["ed25519", "ecdsa", "rsa"] as const) {
      it(`${alg} CA certifies an ${subject} key that ssh-keygen -L reads field by field`, () => {
        const ca = makeTestIssuer(alg);
        const cert = certify(ca, subjectKey(subject));
        const { status, out } = keygenList(cert);
        expect(status, out).toBe(0);
        expect(out).toMatch(/Type: \S+-cert-v01@openssh.com user certificate/);
        expect(out).toContain(`Signing CA: ${alg === "ed25519" ? "ED25519" : "ECDSA"} SHA256:`);
        expect(out).toContain('Key ID: "0123456789abcdef0123456789abcdef"');
        expect(out).toContain(`Serial: ${0x1234_5678_9abc_def0n}`);
        expect(out).toMatch(/Principals: \n\s+alice\n/);
        expect(out).toMatch(
          /Critical Options: \n\s+force-command \/usr\/bin\/uptime\n\s+source-address 10.0.0.0\/8,127.0.0.1\n/,
        );
        expect(out).toMatch(/Extensions: \n\s+permit-X11-forwarding\n\s+permit-pty\n/);
        const decoded = decodeSshCertificate(cert);
        expect(decoded).toMatchObject({
          keyId: "0123456789abcdef0123456789abcdef",
          principals: ["alice"],
          certType: 1,
        });
        expect(verifySshCertificate(decoded, alg, ca.spki)).toBe(true);
        expect(verifySshCertificate(decoded, alg, makeTestIssuer(alg).spki)).toBe(false);
      });
    }
  }

  it("a tampered certificate is refused by ssh-keygen and by us", () => {
    const ca = makeTestIssuer("ed25519");
    const cert = certify(ca, subjectKey("ed25519"));
    const at = Buffer.from(cert).indexOf("alice");
    const tampered = Uint8Array.from(cert);
    tampered[at] = "b".charCodeAt(0);
    expect(keygenList(tampered).status).not.toBe(0);
    expect(verifySshCertificate(decodeSshCertificate(tampered), "ed25519", ca.spki)).toBe(false);
    const decoded = decodeSshCertificate(cert);
    const garbled = { ...decoded, signature: new Uint8Array([0, 0, 0, 99, 1]) };
    expect(verifySshCertificate(garbled, "ed25519", ca.spki)).toBe(false);
  });

  it("verifies a certificate that ssh-keygen -s signed with the same CA key", () => {
    const ca = makeTestIssuer("ecdsa-p256-sha256");
    const caPath = join(dir, "ca");
    writeFileSync(caPath, ca.privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
    writeFileSync(`${caPath}.pub`, `${sshIssuerKeyLine(ca.algorithm, ca.spki)}\n`);
    subjectKey("ed25519");
    execFileSync("ssh-keygen", [
      "-q",
      "-s",
      caPath,
      "-I",
      "grant-1",
      "-n",
      "alice",
      "-V",
      "+1h",
      "-z",
      "7",
      join(dir, "id_ed25519.pub"),
    ]);
    const line = readFileSync(join(dir, "id_ed25519-cert.pub"), "utf8");
    const decoded = decodeSshCertificate(new Uint8Array(Buffer.from(line.split(" ")[1] ?? "", "base64")));
    expect(decoded).toMatchObject({ keyId: "grant-1", principals: ["alice"], serial: 7n });
    // ssh-keygen, like most signers, gives s > n/2 half the time; only the low-S form verifies here.
    const [, rs = new Uint8Array()] = SshReader.strings(decoded.signature, "signature");
    const [r = new Uint8Array(), s = new Uint8Array()] = SshReader.strings(rs, "ECDSA signature");
    const raw = new Uint8Array(64);
    raw.set(r.subarray(r.length - Math.min(r.length, 32)), 32 - Math.min(r.length, 32));
    raw.set(s.subarray(s.length - Math.min(s.length, 32)), 64 - Math.min(s.length, 32));
    expect(verifySshCertificate(decoded, ca.algorithm, ca.spki)).toBe(isLowS(raw));
    const signedWith = (blob: Uint8Array) => decodeSshCertificate(encodeSshCertificate(decoded.signedBytes, blob));
    const low = toLowS(raw);
    expect(verifySshCertificate(signedWith(sshSignatureBlob(ca.algorithm, low)), ca.algorithm, ca.spki)).toBe(true);
    const high = sshSignatureBlob(ca.algorithm, ecdsaTwin(low));
    expect(verifySshCertificate(signedWith(high), ca.algorithm, ca.spki)).toBe(false);
    // r written as an mpint with one zero byte too many: the same number, another encoding.
    const mpintR = new SshWriter().mpint(low.subarray(0, 32)).finish().subarray(4);
    const padded = new SshWriter()
      .string("ecdsa-sha2-nistp256")
      .string(
        new SshWriter()
          .string(Uint8Array.of(0, ...mpintR))
          .mpint(low.subarray(32))
          .finish(),
      )
      .finish();
    expect(verifySshCertificate(signedWith(padded), ca.algorithm, ca.spki)).toBe(false);
  });

  it("refuses public keys it cannot certify and garbage", () => {
    expect(codeOf(() => parseSshPublicKeyLine("ssh-dss AAAAB3NzaC1kc3M="))).toBe("malformed-ssh-key");
    expect(codeOf(() => parseSshPublicKeyLine("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5"))).toBe("malformed-ssh-key");
    expect(codeOf(() => parseSshPublicKeyLine("ssh-ed25519 !!!"))).toBe("malformed-ssh-key");
    expect(codeOf(() => decodeSshCertificate(new Uint8Array([0, 0, 0, 200, 1])))).toBe("malformed-ssh-key");
  });
});
