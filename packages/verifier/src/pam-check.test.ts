import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { verifyAuditLog } from "@airgrant/core";
import { makeBundleBytes, makeGrantText, makeTestIssuer, testFields } from "@airgrant/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PAM_ITEM_MAX_LENGTH, printableItem } from "./pam-environment.js";

const CLI = fileURLToPath(new URL("../dist/cli.js", import.meta.url));
const issuer = makeTestIssuer("ecdsa-p256-sha256");
const now = Math.floor(Date.now() / 1000);
const grantFor = (over = {}) =>
  makeGrantText(testFields(issuer, { notBefore: now - 60, notAfter: now + 3600, ...over }), [issuer]);

let work: string;
let bundleFile: string;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-verifier-pam-"));
  bundleFile = join(work, "bundle.json");
  writeFileSync(bundleFile, makeBundleBytes([issuer], { created: now - 100 }));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** pam_exec's environment: only the PAM environment and items, nothing of ours. */
function pamEnv(over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PAM_TYPE: "auth",
    PAM_USER: "alice",
    PAM_SERVICE: "sshd",
    PAM_RHOST: "192.0.2.7",
    PAM_TTY: "ssh",
    ...over,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return env;
}

function pam(dir: string, input: string | Uint8Array, env = pamEnv(), extra: string[] = []) {
  const r = spawnSync(process.execPath, [CLI, "pam", "--state", dir, "--host", "db1.example", ...extra], {
    input,
    encoding: "utf8",
    env,
    timeout: 10_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function freshState(): string {
  const dir = mkdtempSync(join(work, "state-"));
  const r = spawnSync(process.execPath, [CLI, "install-bundle", bundleFile, "--state", dir], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return dir;
}

function checks(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.type === "grant-check")
    .map((entry) => entry.data);
}

describe("airgrant-verifier pam", () => {
  it("allows a grant once, refuses it after, and logs the PAM service, remote host and tty", () => {
    const dir = freshState();
    const grant = grantFor();
    const first = pam(dir, `${grant}\0`);
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^allowed: grant [0-9a-f]{32} lets 'alice' in .*\(user alice, service sshd/);
    const again = pam(dir, `${grant}\0`);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(
      /^error: grant-replayed: .*\(user alice, service sshd, rhost 192\.0\.2\.7, tty ssh\)\n$/,
    );
    const logged = checks(dir);
    expect(logged).toHaveLength(2);
    expect(logged[0]).toMatchObject({
      verdict: "allowed",
      pamService: "sshd",
      pamRhost: "192.0.2.7",
      pamTty: "ssh",
      remoteAddress: "192.0.2.7",
    });
    expect(logged[1]).toMatchObject({ verdict: "grant-replayed", pamService: "sshd" });
    expect(verifyAuditLog(join(dir, "audit.log"))).toMatchObject({ ok: true });
  });

  it("answers with --json", () => {
    const dir = freshState();
    const r = pam(dir, `${grantFor()}\0`, pamEnv(), ["--json"]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, code: "allowed", principal: "alice" });
  });

  it("stops reading at the NUL, even when stdin stays open", async () => {
    const dir = freshState();
    const child = spawn(process.execPath, [CLI, "pam", "--state", dir, "--host", "db1.example"], {
      env: pamEnv(),
    });
    child.stdin.write(`${grantFor()}\0trailing bytes that are never read`);
    const started = Date.now();
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    child.stdin.destroy();
    expect(status).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("refuses another user's grant, an expired grant and garbage, and logs each", () => {
    const dir = freshState();
    expect(pam(dir, `${grantFor({ principal: "bob" })}\0`).stderr).toMatch(/^error: wrong-user: /);
    expect(pam(dir, `${grantFor({ notBefore: now - 7200, notAfter: now - 3600 })}\0`).stderr).toMatch(
      /^error: grant-expired: /,
    );
    const garbage = pam(dir, "hunter2\0");
    expect(garbage.status).toBe(1);
    expect(garbage.stderr).toMatch(/^error: malformed-grant: /);
    expect(checks(dir).map((d) => d.verdict)).toEqual(["wrong-user", "grant-expired", "malformed-grant"]);
  });

  it("refuses a flood without a NUL as malformed, without reading it all", () => {
    const dir = freshState();
    const r = pam(dir, Buffer.alloc(4 << 20, 0x41));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: malformed-grant: input is far longer than any grant/);
    expect(checks(dir)[0]).toMatchObject({ oversized: true, presentedBytes: 16 * 1024 });
  });

  it("says when a refused input is as long as PAM lets a password be", () => {
    const dir = freshState();
    const cut = grantFor().repeat(2).slice(0, 511);
    const r = pam(dir, `${cut}\0`);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("PAM passed 511 bytes, its limit for a password");
  });

  it("acts for the auth type only", () => {
    const dir = freshState();
    for (const type of ["account", "open_session", "close_session", "password"]) {
      const r = pam(dir, `${grantFor()}\0`, pamEnv({ PAM_TYPE: type }));
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^error: pam-misconfigured: called for PAM type '${type}'`));
    }
    expect(pam(dir, `${grantFor()}\0`, pamEnv({ PAM_TYPE: undefined })).status).toBe(2);
    expect(checks(dir)).toHaveLength(0);
  });

  it("takes the token ended by the pipe's end too, as Linux-PAM 1.5.2 writes it", () => {
    const dir = freshState();
    expect(pam(dir, grantFor()).status).toBe(0);
  });

  it("needs PAM_USER, and hints at expose_authtok when stdin is empty", () => {
    const dir = freshState();
    const noUser = pam(dir, `${grantFor()}\0`, pamEnv({ PAM_USER: undefined }));
    expect(noUser.status).toBe(2);
    expect(noUser.stderr).toMatch(/^error: pam-misconfigured: PAM_USER is not set/);
    const empty = pam(dir, "");
    expect(empty.status).toBe(1);
    expect(empty.stderr).toMatch(/^error: malformed-grant: .*no expose_authtok on the pam_exec line/);
    expect(checks(dir)).toHaveLength(1);
  });

  it("rejects --user: the user comes from PAM_USER", () => {
    const r = pam(freshState(), `${grantFor()}\0`, pamEnv(), ["--user", "alice"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: usage: /);
  });

  it("takes the state directory from --state or the default, never from AIRGRANT_STATE", () => {
    const dir = freshState();
    const r = spawnSync(process.execPath, [CLI, "pam", "--host", "db1.example"], {
      input: `${grantFor()}\0`,
      encoding: "utf8",
      env: pamEnv({ AIRGRANT_STATE: dir }),
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).not.toContain(dir);
    expect(checks(dir)).toHaveLength(0);
  });

  it("fails closed with one clear line when the state directory is missing or cannot be written", () => {
    const missing = pam(join(work, "no-such-dir"), `${grantFor()}\0`);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/^error: no-bundle: no trust bundle installed in \S*no-such-dir/);
    expect(missing.stderr.trimEnd().split("\n")).toHaveLength(1);

    // Root writes through permissions: a directory where the log should be makes any append fail.
    const dir = freshState();
    rmSync(join(dir, "audit.log"));
    mkdirSync(join(dir, "audit.log"));
    const unwritable = pam(dir, `${grantFor()}\0`);
    expect(unwritable.status).toBe(3);
    expect(unwritable.stderr).toMatch(/^error: audit-unwritable: /);
    expect(unwritable.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("only passes PAM_RHOST on as the source address when it is an IP address", () => {
    const dir = freshState();
    const grant = grantFor({ sourceAddress: "192.0.2.0/24" });
    expect(pam(dir, `${grant}\0`, pamEnv({ PAM_RHOST: "host.192.0.2.7.example" })).stderr).toMatch(
      /^error: wrong-source: /,
    );
    expect(pam(dir, `${grant}\0`).status).toBe(0);
  });

  it("logs hostile PAM items printable and cut to length", () => {
    const dir = freshState();
    const rhost = `evil\n\u0007${"x".repeat(500)}`;
    const r = pam(dir, "junk\0", pamEnv({ PAM_RHOST: rhost, PAM_TTY: "tty\u001b[31m" }));
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    const [data] = checks(dir);
    expect(data?.pamRhost).toBe(`evil??${"x".repeat(PAM_ITEM_MAX_LENGTH - 6)}`);
    expect(data?.pamTty).toBe("tty?[31m");
    expect(data?.pamTruncated).toBe("true");
    expect(data?.remoteAddress).toBeUndefined();
  });

  it("logs a refusal for a hostile PAM_USER that is cut inside a surrogate pair, after the grant's own decoding", () => {
    const dir = freshState();
    const r = pam(dir, "junk\0", pamEnv({ PAM_USER: `${"a".repeat(63)}😀😀` }));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: malformed-grant: /);
    const valid = pam(dir, `${grantFor()}\0`, pamEnv({ PAM_USER: `${"a".repeat(63)}😀😀` }));
    expect(valid.stderr).toMatch(/^error: invalid-user: /);
    expect(checks(dir)[0]).toMatchObject({ user: `${"a".repeat(63)}😀`, userTruncated: true });
  });

  it("never cuts a PAM item inside a surrogate pair", () => {
    const item = printableItem(`${"a".repeat(PAM_ITEM_MAX_LENGTH - 1)}😀😀`);
    expect(item).toEqual({ value: `${"a".repeat(PAM_ITEM_MAX_LENGTH - 1)}😀`, truncated: true });
  });
});
