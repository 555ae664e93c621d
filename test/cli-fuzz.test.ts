// Every role command, fed hostile argv, stdin and environment by fast-check:
// known commands and flags mixed with control characters, bidi overrides,
// huge and empty values, files of random bytes. A crash, a hang, an exit
// status outside the contract (0 to 3), a stack trace, more than one error
// line, or a raw control character in anything printed is a failure.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AUDITOR_CLI, makeBundleBytes, makeTestIssuer, SIGNER_BUNDLE, VERIFIER_BUNDLE } from "@airgrant/testkit";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let work: string;
let files: string[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "airgrant-cli-fuzz-"));
  const issuer = makeTestIssuer();
  files = [
    ["empty", ""],
    ["random", Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256))],
    ["bundle.json", makeBundleBytes([issuer])],
    ["log", '{"seq":1,"time":"2026-12-01T00:00:00.000Z","type":"log-opened","data":{},"prev":"","hash":"00"}\n'],
    ["json", '{"format":"airgrant-seal-receipt-v1"}'],
  ].map(([name, content]) => {
    const path = join(work, name as string);
    writeFileSync(path, content as string | Buffer, { mode: 0o600 });
    return path;
  });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Characters a log or a terminal must never get raw: C0 but tab and newline, DEL, C1, and the bidi controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const hostile = fc.oneof(
  // No NUL: an argument or an environment value cannot hold one.
  fc.string({ maxLength: 20 }).map((s) => s.replaceAll("\u0000", "")),
  fc.constantFrom(
    "",
    "-",
    "--",
    "\u009b31m",
    "\u202eevil",
    "a\nb",
    "\u0007",
    "x".repeat(5000),
    "../../etc/passwd",
    "😀",
  ),
  fc.stringMatching(/^[a-z0-9@:._-]{1,40}$/),
);

function fuzzArgv(commands: string[], flags: string[]) {
  const word = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...commands) },
    { weight: 3, arbitrary: fc.constantFrom(...flags) },
    { weight: 2, arbitrary: hostile },
    { weight: 1, arbitrary: fc.constant("FILE") },
  );
  return fc.array(word, { maxLength: 8 });
}

interface Run {
  cli: string;
  argv: string[];
  stdin: string;
  env: Record<string, string>;
}

function runOnce({ cli, argv, stdin, env }: Run): void {
  const args = argv.map((a, i) => (a === "FILE" ? (files[i % files.length] as string) : a));
  const r = spawnSync(process.execPath, [cli, ...args], {
    input: stdin,
    encoding: "utf8",
    timeout: 15_000,
    env: { PATH: process.env.PATH ?? "", HOME: work, AIRGRANT_HOME: join(work, "home"), ...env },
  });
  const what = `${cli} ${JSON.stringify(args).slice(0, 300)}`;
  expect(r.error, `${what} hung or could not start`).toBeUndefined();
  expect([0, 1, 2, 3], `${what}: exit ${r.status}, signal ${r.signal}\n${r.stderr.slice(0, 500)}`).toContain(r.status);
  expect(r.stderr, what).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect((r.stderr.match(/^error: /gm) ?? []).length, `${what}\n${r.stderr.slice(0, 500)}`).toBeLessThanOrEqual(1);
  if (r.status !== 0 && r.stderr.includes("error: ")) expect(r.stderr, what).toMatch(/^error: [a-z0-9-]+: /m);
  expect(RAW_CONTROL.test(r.stdout), `${what}: a raw control character on stdout`).toBe(false);
  expect(RAW_CONTROL.test(r.stderr), `${what}: a raw control character on stderr`).toBe(false);
}

const RUNS = { numRuns: 45 };

describe("every role command under hostile input", () => {
  it("airgrant-verifier", () => {
    const state = join(work, "state");
    const pamEnv = fc.record(
      {
        PAM_TYPE: fc.constantFrom("auth", "open_session", "account", ""),
        PAM_USER: hostile,
        PAM_RHOST: fc.oneof(hostile, fc.constantFrom("192.0.2.1", "::ffff:10.0.0.1", "fe80::1%eth0")),
        PAM_SERVICE: hostile,
        SSH_AUTH_INFO_0: fc.oneof(hostile, fc.constant("publickey ssh-ed25519-cert-v01@openssh.com AAAA\n")),
      },
      { requiredKeys: [] },
    );
    const commands = ["install-bundle", "check", "status", "pam", "ssh-ca-keys", "ssh-session"];
    const flags = [
      "--user",
      "--host",
      "--state",
      state,
      "--json",
      "--type",
      "--cert",
      "--receipt",
      "--help",
      "--version",
    ];
    fc.assert(
      fc.property(fuzzArgv(commands, flags), hostile, pamEnv, (argv, stdin, env) => {
        runOnce({ cli: VERIFIER_BUNDLE, argv, stdin, env: env as Record<string, string> });
      }),
      RUNS,
    );
  }, 240_000);

  it("airgrant-signer", () => {
    // Not krl: it needs no token, so a fuzzed --out would be written, as root, wherever it points.
    const commands = ["init", "officer", "add", "list", "remove", "grant", "bundle", "revoke", "status", "checkpoint"];
    const flags = [
      "--user",
      "--host",
      "--ttl",
      "--reason",
      "--json",
      "--out",
      "--group",
      "--revoke",
      "--pin-file",
      "--ssh-pubkey",
      "--max-uses",
      "--qr",
      "--help",
      "--version",
    ];
    fc.assert(
      fc.property(fuzzArgv(commands, flags), hostile, (argv, stdin) => {
        runOnce({ cli: SIGNER_BUNDLE, argv, stdin, env: { AIRGRANT_PKCS11_MODULE: join(work, "no-such-module.so") } });
      }),
      RUNS,
    );
  }, 240_000);

  it("airgrant-auditor", () => {
    const commands = ["verify", "reconcile", "report"];
    const flags = ["--signer", "--host", "--key", "--bundle", "--since", "--out", "--json", "--help", "--version"];
    fc.assert(
      fc.property(fuzzArgv(commands, flags), hostile, (argv, stdin) => {
        runOnce({ cli: AUDITOR_CLI, argv, stdin, env: {} });
      }),
      RUNS,
    );
  }, 240_000);
});
