import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSshPublicKeyLine } from "@airgrant/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeKrl } from "./openssh-krl.js";

/** The encoder against OpenSSH's own: ssh-keygen -k writes, ssh-keygen -Q reads (needs openssh-client). */
let work: string;

function keygen(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("ssh-keygen", args, { encoding: "utf8", cwd: work });
  if (r.error !== undefined) throw new Error(`ssh-keygen cannot run (apt-get install openssh-client): ${r.error}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user certificate of `ca` with this key id, as a file. */
function certificate(ca: string, keyId: string, serial: number): string {
  const name = `user-${serial}`;
  rmSync(join(work, name), { force: true });
  rmSync(join(work, `${name}.pub`), { force: true });
  expect(keygen(["-q", "-t", "ed25519", "-N", "", "-f", name]).status).toBe(0);
  expect(keygen(["-q", "-s", ca, "-I", keyId, "-n", "bob", "-z", String(serial), `${name}.pub`]).status).toBe(0);
  return join(work, `${name}-cert.pub`);
}

const A = "00112233445566778899aabbccddeeff@db1.example";
const B = "ff112233445566778899aabbccddee00/2@group:dbs";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-krl-"));
  for (const ca of ["ca", "other-ca"]) expect(keygen(["-q", "-t", "ed25519", "-N", "", "-f", ca]).status).toBe(0);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("encodeKrl", () => {
  it("writes the bytes ssh-keygen -k writes for the same key ids under one CA, date aside", () => {
    writeFileSync(join(work, "spec"), `id: ${B}\nid: ${A}\n`);
    expect(keygen(["-k", "-f", "keygen.krl", "-z", "7", "-s", "ca.pub", "spec"]).status).toBe(0);
    const theirs = new Uint8Array(readFileSync(join(work, "keygen.krl")));
    // PROTOCOL.krl, 1: generated_date is the uint64 after magic, format version and krl_version.
    const date = new DataView(theirs.buffer, theirs.byteOffset + 20, 8).getBigUint64(0);
    const caKey = parseSshPublicKeyLine(readFileSync(join(work, "ca.pub"), "utf8")).blob;
    const ours = encodeKrl({ version: 7n, generatedDate: date, comment: "", sections: [{ caKey, keyIds: [B, A, B] }] });
    expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(theirs).toString("hex"));
  });

  it("revokes by key id for any CA: ssh-keygen -Q finds those certificates revoked, others fine", () => {
    const krl = encodeKrl({
      version: 3n,
      generatedDate: 1_767_225_600n,
      comment: "airgrant revocations to signer log entry 3",
      sections: [{ caKey: new Uint8Array(0), keyIds: [A, B] }],
    });
    writeFileSync(join(work, "any-ca.krl"), krl);
    const listed = keygen(["-Q", "-l", "-f", "any-ca.krl"]);
    expect(listed.stdout).toContain("# KRL version 3");
    expect(listed.stdout).toContain("# Comment: airgrant revocations to signer log entry 3");
    expect(listed.stdout).toContain("# Wildcard CA");
    for (const [ca, keyId, serial, revoked] of [
      ["ca", A, 1, true],
      ["other-ca", B, 2, true],
      ["ca", "00112233445566778899aabbccddeefe@db1.example", 3, false],
      ["ca", `${A}.other`, 4, false],
    ] as const) {
      const r = keygen(["-Q", "-f", "any-ca.krl", certificate(ca, keyId, serial)]);
      expect({ keyId, status: r.status, said: r.stdout.trim().split(": ").at(-1) }).toEqual({
        keyId,
        status: revoked ? 1 : 0,
        said: revoked ? "REVOKED" : "ok",
      });
    }
  });

  it("writes a header alone when nothing is revoked, which ssh-keygen loads and revokes nothing with", () => {
    const krl = encodeKrl({
      version: 0n,
      generatedDate: 0n,
      comment: "",
      sections: [{ caKey: new Uint8Array(0), keyIds: [] }],
    });
    // magic, format version, krl_version, generated_date, flags, two empty strings.
    expect(krl.length).toBe(8 + 4 + 8 + 8 + 8 + 4 + 4);
    writeFileSync(join(work, "empty.krl"), krl);
    const r = keygen(["-Q", "-f", "empty.krl", certificate("ca", A, 5)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/: ok\n$/);
  });
});
