// `airgrant-verifier doctor` on an install built as an administrator builds
// it, in a scratch tree: a state directory made by the verifier's own
// install-bundle, a PAM directory with the lines of docs/pam.md and
// docs/openssh.md around Debian's, an sshd configuration read through the
// real `sshd -T -f FILE`. The good install is silent; each planted mistake
// is found with its code and nothing else. Needs root and sshd (CI has
// them): it fails, never skips, without them.
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ERROR_CODES } from "@airgrant/core";
import {
  makeBundleBytes,
  makeSignedBundleBytes,
  makeTestIssuer,
  REPO_ROOT,
  type TestIssuer,
  trustedIssuer,
  VERIFIER_EXECUTABLE,
} from "@airgrant/testkit";
import {
  documentedInstallLines,
  documentedOpenSshConfig,
  documentedOpenSshSessionLine,
  documentedPamLines,
  documentedRequestPamLines,
  documentedSessionLines,
  documentedSshdConfig,
  makeSshdRunDir,
  requireCommand,
  requireRoot,
} from "@airgrant/testkit/system";
import { FINDING_CODES, hostState, installBundle } from "@airgrant/verifier";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const HOST = "doctor.example";
let work: string;
let issuer: TestIssuer;

interface Install {
  root: string;
  stateDir: string;
  pamDir: string;
  sshdConfig: string;
  caKeys: string;
  pamLog: string;
  sshLog: string;
  bundle: string;
}

interface DoctorRun {
  status: number | null;
  codes: string[];
  findings: Array<{ code: string; where: string; message: string; fix: string }>;
  stderr: string;
}

function verifier(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(VERIFIER_EXECUTABLE, args, {
    encoding: "utf8",
    env: { PATH: process.env.PATH },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function writeLines(path: string, lines: string[], mode = 0o644): void {
  writeFileSync(path, `${lines.join("\n")}\n`, { mode });
  chmodSync(path, mode);
}

/** Debian 12's sshd stack with the airgrant lines where the pages put them. */
function sshdPamLines(install: Install): string[] {
  const paths = { stateDir: install.stateDir, host: HOST };
  return [
    ...documentedPamLines("sshd", { ...paths, logFile: install.pamLog, breakGlassUser: "root" }),
    "account required pam_nologin.so",
    "@include common-account",
    documentedOpenSshSessionLine({ ...paths, logFile: install.sshLog, caKeysFile: install.caKeys }),
    "session [success=ok ignore=ignore module_unknown=ignore default=bad] pam_selinux.so close",
    ...documentedSessionLines({ ...paths, logFile: install.pamLog }),
    "session required pam_env.so user_readenv=1 envfile=/etc/default/locale",
    "@include common-session",
  ];
}

/** A good install in a directory of its own; `installWith` installs the bundle some other way. */
function goodInstall(
  options: { receipt?: boolean; installWith?: (stateDir: string, bundle: string) => void } = {},
): Install {
  const root = mkdtempSync(join(work, "host-"));
  const install: Install = {
    root,
    stateDir: join(root, "state"),
    pamDir: join(root, "pam.d"),
    sshdConfig: join(root, "sshd_config"),
    caKeys: join(root, "airgrant_ca_keys"),
    pamLog: join(root, "airgrant-pam.log"),
    sshLog: join(root, "airgrant-ssh.log"),
    bundle: join(root, "bundle.json"),
  };
  writeFileSync(install.bundle, makeBundleBytes([issuer]));
  if (options.installWith !== undefined) options.installWith(install.stateDir, install.bundle);
  else {
    const receipt = options.receipt === false ? [] : ["--receipt", join(root, "receipt.json")];
    const r = verifier(["install-bundle", "--state", install.stateDir, install.bundle, ...receipt]);
    if (r.status !== 0) throw new Error(`install-bundle failed: ${r.stderr}`);
  }
  const keys = verifier(["ssh-ca-keys", "--state", install.stateDir]);
  if (keys.status !== 0) throw new Error(`ssh-ca-keys failed: ${keys.stderr}`);
  writeFileSync(install.caKeys, keys.stdout, { mode: 0o644 });
  for (const log of [install.pamLog, install.sshLog]) writeFileSync(log, "", { mode: 0o600 });
  mkdirSync(install.pamDir);
  writeLines(join(install.pamDir, "sshd"), sshdPamLines(install));
  writeLines(join(install.pamDir, "common-auth"), [
    "auth [success=1 default=ignore] pam_unix.so nullok",
    "auth requisite pam_deny.so",
    "auth required pam_permit.so",
  ]);
  writeLines(join(install.pamDir, "common-account"), ["account required pam_unix.so"]);
  writeLines(join(install.pamDir, "common-session"), ["session required pam_unix.so"]);
  const loginPaths = { stateDir: install.stateDir, host: HOST, logFile: install.pamLog };
  writeLines(join(install.pamDir, "login"), [
    ...documentedPamLines("login", { ...loginPaths, breakGlassUser: "root" }),
    ...documentedSessionLines(loginPaths),
  ]);
  const hostKey = join(root, "ssh_host_ed25519_key");
  const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey], { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  // docs/pam.md's lines for the prompt, then docs/openssh.md's for certificates, which end in the Match block.
  const forPrompt = documentedSshdConfig("root");
  const forCertificates = documentedOpenSshConfig({
    stateDir: install.stateDir,
    host: HOST,
    logFile: install.sshLog,
    caKeysFile: install.caKeys,
  });
  writeLines(install.sshdConfig, [
    `HostKey ${hostKey}`,
    `PidFile ${join(root, "sshd.pid")}`,
    ...forPrompt.slice(
      0,
      forPrompt.findIndex((line) => line.startsWith("Match ")),
    ),
    ...forCertificates,
  ]);
  return install;
}

/** docs/pam.md's pam-request line, "Request codes at the prompt", for this install. */
function requestLine(install: Install): string {
  const lines = documentedRequestPamLines({
    stateDir: install.stateDir,
    host: HOST,
    logFile: install.pamLog,
    breakGlassUser: "root",
  });
  return lines.find((line) => line.includes(" pam-request ")) as string;
}

function doctor(install: Install, extra: string[] = []): DoctorRun {
  const r = verifier([
    "doctor",
    "--state",
    install.stateDir,
    "--pam-dir",
    install.pamDir,
    "--sshd-config",
    install.sshdConfig,
    "--json",
    ...extra,
  ]);
  const findings = JSON.parse(r.stdout) as DoctorRun["findings"];
  return { status: r.status, codes: findings.map((f) => f.code).sort(), findings, stderr: r.stderr };
}

function edit(path: string, change: (text: string) => string): void {
  const text = readFileSync(path, "utf8");
  const changed = change(text);
  if (changed === text) throw new Error(`the edit changed nothing in ${path}`);
  writeFileSync(path, changed);
}

const sshdPam = (install: Install) => join(install.pamDir, "sshd");

beforeAll(() => {
  requireRoot("doctor.test.ts reads root-owned state and runs sshd -T");
  requireCommand("sshd", "openssh-server");
  makeSshdRunDir();
  work = mkdtempSync(join(tmpdir(), "airgrant-doctor-"));
  issuer = makeTestIssuer();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("airgrant-verifier doctor", () => {
  it("is silent on the sshd lines with the request code line of docs/pam.md", () => {
    const install = goodInstall();
    const paths = { stateDir: install.stateDir, host: HOST, logFile: install.pamLog, breakGlassUser: "root" };
    // Debian's stack as sshdPamLines has it, with docs/pam.md's request block in place of the plain one.
    const rest = sshdPamLines(install).slice(documentedPamLines("sshd", paths).length);
    writeLines(sshdPam(install), [...documentedRequestPamLines(paths), ...rest]);
    expect(readFileSync(sshdPam(install), "utf8")).toContain(" pam-request --state ");
    expect(doctor(install).codes).toEqual([]);
  });

  it("is silent on a good install, and changes nothing in it", () => {
    const install = goodInstall();
    const before = readdirSync(install.stateDir).map((name) => [name, statSync(join(install.stateDir, name)).mtimeMs]);
    const sealKey = readFileSync(join(install.stateDir, "seal.key"), "utf8");
    const run = doctor(install);
    expect(run.findings).toEqual([]);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe("");
    const text = verifier([
      "doctor",
      "--state",
      install.stateDir,
      "--pam-dir",
      install.pamDir,
      "--sshd-config",
      install.sshdConfig,
    ]);
    expect([text.status, text.stdout, text.stderr]).toEqual([0, "", ""]);
    expect(readdirSync(install.stateDir).map((name) => [name, statSync(join(install.stateDir, name)).mtimeMs])).toEqual(
      before,
    );
    expect(readFileSync(join(install.stateDir, "seal.key"), "utf8")).toBe(sealKey);
  });

  it("does not move a sealing key left behind by an idle host, which every other command does", () => {
    const hoursAgo = () => new Date(Date.now() - 3 * 3600_000);
    let sealKey = "";
    const install = goodInstall({
      installWith: (stateDir, bundle) => {
        installBundle(hostState(stateDir), readFileSync(bundle), hoursAgo, {
          receiptPath: join(work, `r-${Date.now()}`),
        });
        sealKey = readFileSync(join(stateDir, "seal.key"), "utf8");
      },
    });
    // The key as the install three hours ago left it (goodInstall's ssh-ca-keys has moved it on).
    writeFileSync(join(install.stateDir, "seal.key"), sealKey);
    expect(doctor(install).codes).toEqual([]);
    expect(readFileSync(join(install.stateDir, "seal.key"), "utf8")).toBe(sealKey);
    expect(verifier(["status", "--state", install.stateDir]).stderr).toBe("");
    expect(readFileSync(join(install.stateDir, "seal.key"), "utf8")).not.toBe(sealKey);
  });

  const planted: Array<[string, string, (install: Install) => void]> = [
    ["a state directory 0755", "state-mode", (i) => chmodSync(i.stateDir, 0o755)],
    ["a group-writable state directory", "state-refused", (i) => chmodSync(i.stateDir, 0o770)],
    ["no bundle installed", "bundle-missing", (i) => rmSync(join(i.stateDir, "bundle.json"))],
    [
      "pam_env above the airgrant line, in a file it includes",
      "pam-env-above",
      (i) => {
        writeLines(join(i.pamDir, "common-env"), ["auth required pam_env.so user_readenv=1"]);
        edit(sshdPam(i), (t) => `@include common-env\n${t}`);
      },
    ],
    [
      "sufficient for the grant line",
      "pam-control",
      (i) =>
        edit(sshdPam(i), (t) =>
          t.replace("auth [success=done ignore=ignore default=die] pam_exec.so", "auth sufficient pam_exec.so"),
        ),
    ],
    [
      "the grant line without ignore=ignore",
      "pam-control",
      (i) => edit(sshdPam(i), (t) => t.replace(" ignore=ignore default=die]", " default=die]")),
    ],
    [
      "the grant line without expose_authtok",
      "pam-expose-authtok",
      (i) => edit(sshdPam(i), (t) => t.replace("pam_exec.so expose_authtok", "pam_exec.so")),
    ],
    [
      "the session line below pam_env",
      "ssh-session-not-first",
      (i) =>
        edit(sshdPam(i), (t) =>
          t.replace(
            "session requisite pam_exec.so",
            "session required pam_env.so user_readenv=1\nsession requisite pam_exec.so",
          ),
        ),
    ],
    [
      "the session line required, not requisite",
      "ssh-session-control",
      (i) => edit(sshdPam(i), (t) => t.replace("session requisite pam_exec.so", "session required pam_exec.so")),
    ],
    [
      "the session-end line above pam_loginuid",
      "session-end-order",
      (i) =>
        edit(join(i.pamDir, "login"), (t) =>
          t.replace(/^(session +required +pam_loginuid\.so)\n(session required pam_exec\.so .*)$/m, "$2\n$1"),
        ),
    ],
    [
      "the session-end line with type=open_session",
      "session-end-type",
      (i) =>
        edit(join(i.pamDir, "login"), (t) =>
          t.replace("session required pam_exec.so quiet", "session required pam_exec.so quiet type=open_session"),
        ),
    ],
    [
      "no session-end line for login",
      "session-end-missing",
      (i) => edit(join(i.pamDir, "login"), (t) => t.replace(/^session required pam_exec\.so .*\n/m, "")),
    ],
    [
      "an AuthorizedPrincipalsCommand left from the old certificate path",
      "sshd-principals-command",
      (i) =>
        edit(i.sshdConfig, (t) =>
          t.replace(
            "TrustedUserCAKeys",
            `AuthorizedPrincipalsCommand /usr/sbin/airgrant-verifier ssh-principals --state ${i.stateDir} --user %u --type %t --cert %k\nAuthorizedPrincipalsCommandUser root\nTrustedUserCAKeys`,
          ),
        ),
    ],
    ["a CA keys file others can write", "sshd-ca-keys-unsafe", (i) => chmodSync(i.caKeys, 0o666)],
    [
      "a RevokedKeys file that is not there",
      "sshd-revoked-keys-missing",
      (i) =>
        edit(i.sshdConfig, (t) => t.replace("TrustedUserCAKeys", `RevokedKeys ${i.caKeys}.krl\nTrustedUserCAKeys`)),
    ],
    [
      "a RevokedKeys file others can write",
      "sshd-revoked-keys-unsafe",
      (i) => {
        writeFileSync(`${i.caKeys}.krl`, "", { mode: 0o666 });
        chmodSync(`${i.caKeys}.krl`, 0o666);
        edit(i.sshdConfig, (t) => t.replace("TrustedUserCAKeys", `RevokedKeys ${i.caKeys}.krl\nTrustedUserCAKeys`));
      },
    ],
    [
      "a CA keys file not rewritten after the bundle changed",
      "sshd-ca-keys-stale",
      (i) => {
        writeFileSync(i.bundle, makeBundleBytes([issuer, makeTestIssuer("ed25519")]));
        const r = verifier(["install-bundle", "--state", i.stateDir, i.bundle]);
        if (r.status !== 0) throw new Error(r.stderr);
      },
    ],
    ["a world-readable log= file", "pam-log", (i) => chmodSync(i.pamLog, 0o644)],
    [
      "no session line while sshd trusts the bundle's issuers",
      "ssh-session-missing",
      (i) => edit(sshdPam(i), (t) => t.replace(/^session requisite pam_exec\.so.*\n/m, "")),
    ],
    [
      "the grant line in the account section",
      "pam-wrong-section",
      (i) =>
        edit(join(i.pamDir, "login"), (t) =>
          t.replace(
            /^auth \[success=done ignore=ignore default=die\]/m,
            "account [success=done ignore=ignore default=die]",
          ),
        ),
    ],
    [
      "no break-glass line above the grant line",
      "pam-no-breakglass",
      (i) =>
        edit(join(i.pamDir, "login"), (t) =>
          t.replace(/^auth \[success=1 default=ignore\] pam_succeed_if\.so.*\n/m, ""),
        ),
    ],
    [
      "the session line in a service other than sshd",
      "pam-wrong-section",
      (i) =>
        edit(
          join(i.pamDir, "login"),
          (t) => `${t}${readFileSync(sshdPam(i), "utf8").match(/^session requisite pam_exec\.so.*\n/m)?.[0]}`,
        ),
    ],
    [
      "a pam-request line without stdout",
      "pam-request-stdout",
      (i) => edit(sshdPam(i), (t) => `${requestLine(i).replace(" stdout", "")}\n${t}`),
    ],
    [
      "a pam-request line in the session section",
      "pam-wrong-section",
      (i) => edit(sshdPam(i), (t) => `${t}${requestLine(i).replace(/^auth /, "session ")}\n`),
    ],
    ["UsePAM no", "sshd-use-pam", (i) => edit(i.sshdConfig, (t) => t.replace("UsePAM yes", "UsePAM no"))],
    [
      "a bundle whose issuers have all expired",
      "bundle-expired",
      (i) => {
        const now = Math.floor(Date.now() / 1000);
        writeFileSync(
          i.bundle,
          makeBundleBytes([issuer], {
            issuers: [trustedIssuer(issuer, ["*"], { notBefore: now - 86_400, notAfter: now - 60 })],
          }),
        );
        const r = verifier(["install-bundle", "--state", i.stateDir, i.bundle]);
        if (r.status !== 0) throw new Error(r.stderr);
      },
    ],
    [
      "a signed bundle past its expires",
      "signed-bundle-expired",
      (i) => {
        const now = Math.floor(Date.now() / 1000);
        const root = makeTestIssuer("ed25519");
        writeFileSync(
          i.bundle,
          makeSignedBundleBytes([issuer], {
            trustVersion: 2,
            roots: [root],
            threshold: 1,
            expires: now - 60,
            onExpiry: "refuse",
            overrides: { created: now - 86_400 },
          }),
        );
        const r = verifier(["install-bundle", "--state", i.stateDir, i.bundle]);
        if (r.status !== 0) throw new Error(r.stderr);
      },
    ],
  ];

  it("is silent on the package's PAM profile, enabled in common-auth as docs/install.md shows it", () => {
    const install = goodInstall();
    // The block pam-auth-update writes, with this install's log file and state directory.
    const block = documentedInstallLines("turns the profile on in `/etc/pam.d/common-auth`").map((line) =>
      line
        .replace("log=/var/log/airgrant-pam.log", `log=${install.pamLog}`)
        .replace("--state /var/lib/airgrant", `--state ${install.stateDir}`),
    );
    expect(block.filter((line) => line.includes("airgrant-verifier pam"))).toHaveLength(1);
    writeLines(join(install.pamDir, "common-auth"), block);
    edit(
      sshdPam(install),
      (t) =>
        `@include common-auth\n${t
          .split("\n")
          .filter(
            (l) =>
              l.startsWith("account") ||
              l.startsWith("session") ||
              (l.startsWith("@include common-") && l !== "@include common-auth"),
          )
          .join("\n")}\n`,
    );
    writeLines(join(install.pamDir, "login"), [
      "auth optional pam_faildelay.so delay=3000000",
      "auth requisite pam_nologin.so",
      "@include common-auth",
      "auth optional pam_group.so",
      ...documentedSessionLines({ stateDir: install.stateDir, host: HOST, logFile: install.pamLog }),
    ]);
    expect(doctor(install).findings).toEqual([]);
  });

  it.each(planted)("finds %s (%s) and nothing else", (_what, code, plant) => {
    const install = goodInstall();
    plant(install);
    const run = doctor(install);
    expect(run.codes).toEqual([code]);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe("error: doctor-findings: 1 finding(s)\n");
    const [finding] = run.findings;
    expect(finding?.fix).not.toBe("");
  });

  it("finds a clock behind the host log's last entry", () => {
    const tomorrow = () => new Date(Date.now() + 86_400_000);
    const install = goodInstall({
      installWith: (stateDir, bundle) =>
        installBundle(hostState(stateDir), readFileSync(bundle), tomorrow, {
          receiptPath: join(work, `r-${Date.now()}`),
        }),
    });
    const run = doctor(install);
    expect(run.codes).toEqual(["clock-behind"]);
    expect(run.findings[0]?.message).toMatch(/before the (host log's entry \d+|sealing key's epoch)/);
  });

  it("finds a seal receipt left on the host", () => {
    expect(doctor(goodInstall({ receipt: false })).codes).toEqual(["seal-receipt-on-host"]);
  });

  it("reports every finding at once, one line each with its fix, in text", () => {
    const install = goodInstall();
    chmodSync(install.stateDir, 0o755);
    chmodSync(install.pamLog, 0o644);
    edit(sshdPam(install), (t) => t.replace("pam_exec.so expose_authtok", "pam_exec.so"));
    const r = verifier([
      "doctor",
      "--state",
      install.stateDir,
      "--pam-dir",
      install.pamDir,
      "--sshd-config",
      install.sshdConfig,
    ]);
    expect(r.status).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    // One pam-log finding for the file, which login's and sshd's grant lines both name.
    expect(lines.map((l) => l.split(": ")[1])).toEqual(["state-mode", "pam-log", "pam-expose-authtok"]);
    for (const line of lines) expect(line).toMatch(/^finding: [a-z-]+: \S+: .+; fix: .+$/);
    expect(lines[0]).toBe(
      `finding: state-mode: ${install.stateDir}: ${install.stateDir} is readable by others (mode 0755), not 0700 as installed: users can read the host log and the use records; fix: chmod go-rwx ${install.stateDir}`,
    );
    expect(r.stderr).toBe("error: doctor-findings: 3 finding(s)\n");
  });

  it("finds sshd refusing its configuration", () => {
    const install = goodInstall();
    edit(install.sshdConfig, (t) => `NoSuchOption yes\n${t}`);
    expect(doctor(install).codes).toEqual(["sshd-config-invalid"]);
  });

  it("takes no arguments", () => {
    const r = verifier(["doctor", "extra"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: usage: doctor takes no arguments/);
  });
});

describe("doctor's codes", () => {
  it("are the verdict codes of docs/errors.md's doctor findings table, and only those", () => {
    const doc = readFileSync(join(REPO_ROOT, "docs", "errors.md"), "utf8");
    const section = doc.slice(doc.indexOf("Its findings"), doc.indexOf("\n## ", doc.indexOf("Its findings")));
    const documented = [...section.matchAll(/^\| `([a-z-]+)` \| 1 \|/gm)].map((m) => m[1]);
    expect(documented).toEqual([...FINDING_CODES]);
    for (const code of FINDING_CODES) expect(ERROR_CODES[code]).toBe("verdict");
  });
});
