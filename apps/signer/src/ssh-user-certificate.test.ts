import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeSshCertificate, keyIdOf, parseSshPublicKeyLine, toHex, verifySshCertificate } from "@airgrant/core";
import { makeTestToken } from "@airgrant/testkit/token";
import { afterAll, describe, expect, it } from "vitest";
import type { IssuerKeyAlg } from "./issuer-key-alg.js";
import { signatureAlgorithmOf } from "./issuer-key-alg.js";
import { findPkcs11Module } from "./pkcs11-module-path.js";
import type { Signer } from "./signer.js";
import { signSshUserCertificate } from "./ssh-user-certificate.js";
import { openToken } from "./token-session.js";

const token = makeTestToken(openToken, findPkcs11Module());
const dir = mkdtempSync(join(tmpdir(), "airgrant-sshcert-signer-"));
afterAll(() => {
  token.remove();
  rmSync(dir, { recursive: true, force: true });
});

execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "engineer", "-f", join(dir, "id_ed25519")]);
const engineerKey = parseSshPublicKeyLine(readFileSync(join(dir, "id_ed25519.pub"), "utf8"));

function signerWith(alg: IssuerKeyAlg): Signer {
  const session = token.open();
  const key = session.findOrCreateIssuerKey({ label: `issuer-${alg}`, alg, create: true });
  const issuer = {
    keyLabel: key.label,
    alg,
    publicKey: key.publicKeySpki,
    keyId: toHex(keyIdOf(key.publicKeySpki)),
    created: new Date().toISOString(),
  };
  return { home: undefined as unknown as Signer["home"], session, issuer };
}

describe("OpenSSH user certificates signed on the token", () => {
  for (const alg of ["ecdsa-p256", "ed25519"] as const) {
    it(`${alg}: ssh-keygen -L shows every field as intended and the signature verifies`, () => {
      const signer = signerWith(alg);
      const grantId = "00112233445566778899aabbccddeeff";
      const cert = signSshUserCertificate(
        signer,
        {
          grantId,
          user: "alice",
          target: "group:dbs",
          notBefore: 1_900_000_000,
          notAfter: 1_900_003_600,
          maxUses: 2,
          forceCommand: "/usr/bin/uptime",
          sourceAddress: "192.0.2.0/24",
          minTrustVersion: 12,
        },
        engineerKey,
        (n) => new Uint8Array(randomBytes(n)),
      );
      const path = join(dir, `id_ed25519-${alg}-cert.pub`);
      writeFileSync(path, `${cert.line}\n`);
      const r = spawnSync("ssh-keygen", ["-L", "-f", path], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain("Type: ssh-ed25519-cert-v01@openssh.com user certificate");
      expect(r.stdout).toContain(`Key ID: "${grantId}/2@group:dbs"`);
      expect(r.stdout).toContain(`Serial: ${cert.serial}`);
      expect(r.stdout).toMatch(/Valid: from \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d to \d{4}-/);
      expect(r.stdout).toMatch(/Principals: \n\s+alice\n/);
      expect(r.stdout).toMatch(
        /Critical Options: \n\s+force-command \/usr\/bin\/uptime\n\s+source-address 192.0.2.0\/24\n/,
      );
      // sshd lists, and ignores, the extension it does not know; the host reads it.
      expect(r.stdout).toMatch(/Extensions: \n\s+min-trust-version@airgrant UNKNOWN OPTION[^\n]*\n\s+permit-pty\n/);
      const decoded = decodeSshCertificate(new Uint8Array(Buffer.from(cert.line.split(" ")[1] ?? "", "base64")));
      expect(decoded.validAfter).toBe(1_900_000_000n);
      expect(decoded.extensions).toEqual({ "min-trust-version@airgrant": "12", "permit-pty": "" });
      expect(verifySshCertificate(decoded, signatureAlgorithmOf(alg), signer.issuer.publicKey)).toBe(true);
    });
  }
});
