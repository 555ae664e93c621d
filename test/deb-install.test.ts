// The Debian package as an administrator uses it (docs/install.md): built by
// scripts/build-deb.mjs, checked with dpkg-deb and lintian, installed on this
// machine with dpkg -i, enabled with the shipped configuration only
// (pam-auth-update --enable airgrant, the sshd snippet, the session line),
// logged in to through pamtester and a real sshd with a grant and a
// certificate, then removed and purged. Needs root, dpkg, lintian, pamtester,
// openssh-server and util-linux's unshare (CI has them): fails, never skips.
//
// Enabling airgrant changes /etc/pam.d/common-auth, which every PAM service
// of the machine includes, other tests' among them. So every command of the
// administrator's after `dpkg -i` runs in a mount namespace of its own, where
// scratch copies of /etc/pam.d, /etc/ssh, /var/lib/pam (pam-auth-update's
// record) and /var/cache/debconf (its profile list) stand over the real ones,
// and where every node binary of the machine is covered by an empty file, so
// the installed command has no Node to lean on. The package itself, its state
// directory and its logs are the machine's own.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { verifyAuditLog } from "@airgrant/core";
import { makeBundleBytes, makeGrantText, makeTestIssuer, REPO_ROOT, testFields } from "@airgrant/testkit";
import {
  cleanUp,
  createThrowawayUser,
  documentedInstallLines,
  makeSshdRunDir,
  type Removable,
  removeStaleFixtures,
  requireCommand,
  requireRoot,
  SSH_KEY_LOGIN_OPTIONS,
  type SshdServer,
  sshWithPromptAnswer,
  startSshd,
} from "@airgrant/testkit/system";
import { mintSshCertificate } from "@airgrant/testkit/token";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const NAME = "airgrant-verifier";
const VERSION: string = JSON.parse(readFileSync(join(REPO_ROOT, "packages/verifier/package.json"), "utf8")).version;
const ARCH = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
const DEB = join(REPO_ROOT, "dist", `${NAME}_${VERSION}_${ARCH}.deb`);
const INSTALLED = "/usr/sbin/airgrant-verifier";
/** The launcher INSTALLED links to, and the runtime beside it that the launcher starts. */
const LIBEXEC = "/usr/lib/airgrant-verifier";
const STATE = "/var/lib/airgrant";
const LOGS = ["/var/log/airgrant-pam.log", "/var/log/airgrant-ssh.log"];
const BREAK_GLASS_GROUP = "airgrant-breakglass";
/** The host name the installed command checks grants against: no --host on the documented lines. */
const HOST = hostname().toLowerCase();
/** A root shell's PATH, and the only variable the administrator's commands get. */
const ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** What the administrator's steps change, seen through scratch copies. */
const VIEWED = ["/etc/pam.d", "/etc/ssh", "/var/lib/pam", "/var/cache/debconf"];
/** Other end-to-end tests' PAM services come and go in /etc/pam.d meanwhile. */
const OTHER_TESTS_PAM = /^airgrant-e2e-/;
// Binds each pair of arguments up to `--`, then runs the rest; fixed text, every path an argument.
const MOUNT_AND_EXEC = 'while [ "$1" != -- ]; do mount --bind "$1" "$2" || exit 125; shift 2; done; shift; exec "$@"';

let work: string;
let sshd: SshdServer | undefined;
let engineer: Removable;
let breakGlass: Removable;
let clientKey: string;
const fixtures: Removable[] = [];
/** Made by this run, so removed by it: what did not exist before it. */
const ours: string[] = [];
let binds: string[] | undefined;
let before: Map<string, string>;
let commonAuthBeforeEnable: string;
let pamSshdBeforeEdit: string;
let pamLoginBeforeEdit: string;
/** Whether this run installed the package, and so purges it at the end. */
let installedHere = false;
const breakGlassPassword = randomBytes(12).toString("base64url");
const issuer = makeTestIssuer("ecdsa-p256-sha256");
const now = Math.floor(Date.now() / 1000);
/** The verdicts the host audit log should hold, in order, as the logins below make them. */
const verdicts: string[] = [];

const view = (path: string) => join(work, "host", path);

function grantFor(user: string): string {
  return makeGrantText(
    testFields(issuer, {
      principal: user,
      target: { kind: "host", name: HOST },
      notBefore: now - 60,
      notAfter: now + 3600,
    }),
    [issuer],
  );
}

/** A run of one command: status and output. */
interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The `unshare … --` that runs a command in the administrator's view of this host. */
function hostView(): string[] {
  if (binds === undefined) throw new Error("the host view is not set up");
  return ["unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT_AND_EXEC, "host-view", ...binds, "--"];
}

/**
 * Run `argv` as the administrator would, in the host view, with only a root
 * shell's PATH; dpkg as a script runs it, without debconf's questions.
 */
function onHost(argv: string[], input = ""): Run {
  const [command, ...args] = [...hostView(), ...argv] as [string, ...string[]];
  const env = argv[0] === "dpkg" ? { PATH: ROOT_PATH, DEBIAN_FRONTEND: "noninteractive" } : { PATH: ROOT_PATH };
  const r = spawnSync(command, args, { input, encoding: "utf8", env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function run(command: string, args: string[]): Run {
  const r = spawnSync(command, args, { encoding: "utf8", timeout: 180_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same without blocking the worker, for the minute-long build and lintian. */
function runLong(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === "number" ? err.code : null;
      resolve({ status, stdout, stderr });
    });
  });
}

/** Every Node binary a PATH could find here (Debian's, nodesource's, an official image's), by its real path. */
function nodeBinaries(): string[] {
  const dirs = new Set([...ROOT_PATH.split(":"), ...(process.env.PATH ?? "").split(":")]);
  const found = new Set([realpathSync(process.execPath)]);
  for (const dir of dirs) {
    for (const name of ["node", "nodejs"]) {
      if (dir !== "" && existsSync(join(dir, name))) found.add(realpathSync(join(dir, name)));
    }
  }
  return [...found];
}

/** The machine's login configuration as path → SHA-256, and the profiles pam-auth-update has enabled. */
function loginConfiguration(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (dir === "/etc/pam.d" && OTHER_TESTS_PAM.test(entry.name)) continue;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.set(path, createHash("sha256").update(readFileSync(path)).digest("hex"));
    }
  };
  for (const dir of ["/etc/pam.d", "/etc/ssh", "/var/lib/pam"]) walk(dir);
  files.set("debconf libpam-runtime/profiles", enabledProfiles("/var/cache/debconf/config.dat"));
  return files;
}

/** The `Value:` of libpam-runtime/profiles in a debconf database: what pam-auth-update has enabled. */
function enabledProfiles(configDat: string): string {
  const record = readFileSync(configDat, "utf8")
    .split("\n\n")
    .find((r) => r.startsWith("Name: libpam-runtime/profiles\n"));
  return /^Value: (.*)$/m.exec(record ?? "")?.[1] ?? "";
}

function packageStatus(): string {
  // "Status: install ok installed", "deinstall ok config-files"; dpkg forgets a purged package.
  return /^Status: \S+ \S+ (\S+)$/m.exec(run("dpkg-query", ["-s", NAME]).stdout)?.[1] ?? "not-installed";
}

/** pam-auth-update's managed auth block of a common-auth, as install.md prints it. */
function primaryBlock(commonAuth: string): string[] {
  const lines = commonAuth.split("\n");
  const start = lines.indexOf('# here are the per-package modules (the "Primary" block)');
  const end = lines.indexOf("# end of pam-auth-update config");
  return lines
    .slice(start + 1, end)
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => line.trimEnd());
}

function pamtester(service: string, user: string, password: string): Run {
  return onHost(["pamtester", "-I", "rhost=127.0.0.1", service, user, "authenticate"], `${password}\n`);
}

function sshWithCertificate(certLine: string): Run {
  if (sshd === undefined) throw new Error("sshd is not running");
  const certFile = join(work, `cert-${randomBytes(4).toString("hex")}.pub`);
  writeFileSync(certFile, `${certLine}\n`);
  const r = spawnSync(
    "ssh",
    [
      "-F",
      "/dev/null",
      "-p",
      String(sshd.port),
      "-i",
      clientKey,
      "-o",
      `CertificateFile=${certFile}`,
      ...SSH_KEY_LOGIN_OPTIONS,
      `${engineer.name}@127.0.0.1`,
      "echo in-as-$(id -un)",
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function promptLogin(user: string, answer: string, options?: string[]): Run {
  if (sshd === undefined) throw new Error("sshd is not running");
  return sshWithPromptAnswer({
    dir: work,
    port: sshd.port,
    user,
    answer,
    command: "echo in-as-$(id -un)",
    ...(options ? { options } : {}),
  });
}

function grantChecks(): string[] {
  return readFileSync(join(STATE, "audit.log"), "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.type === "grant-check")
    .map((entry) => entry.data.verdict);
}

/** `dpkg-deb -c`'s listing as path → "mode owner". */
function packageListing(): Map<string, string> {
  const listing = new Map<string, string>();
  for (const line of run("dpkg-deb", ["-c", DEB]).stdout.trimEnd().split("\n")) {
    // mode, owner, size, date, time, then the path (and ` -> target` for a link)
    const [mode, owner, , , , ...path] = line.split(" ").filter((field) => field !== "");
    listing.set(path.join(" ").replace(/^\.\//, "/"), `${mode} ${owner}`);
  }
  return listing;
}

beforeAll(() => {
  requireRoot("test/deb-install.test.ts");
  requireCommand("dpkg-deb", "dpkg");
  requireCommand("lintian", "lintian");
  requireCommand("pamtester", "pamtester");
  requireCommand("pam-auth-update", "libpam-runtime");
  requireCommand("unshare", "util-linux");
  requireCommand("sshd", "openssh-server");
  requireCommand("ssh", "openssh-client");
  makeSshdRunDir();
  removeStaleFixtures();
  if (packageStatus() !== "not-installed") {
    throw new Error(
      `${NAME} is installed on this machine; the test installs and purges it: dpkg --purge ${NAME} first`,
    );
  }
  for (const path of [STATE, ...LOGS]) {
    if (existsSync(path)) throw new Error(`${path} exists; the test would make and remove it: move it aside first`);
    ours.push(path);
  }
  work = mkdtempSync(join(tmpdir(), "airgrant-e2e-deb-"));
  before = loginConfiguration();

  const empty = join(work, "no-node");
  writeFileSync(empty, "", { mode: 0o644 });
  binds = nodeBinaries().flatMap((node) => [empty, node]);
  for (const dir of VIEWED) {
    execFileSync("mkdir", ["-p", view(join(dir, ".."))]);
    execFileSync("cp", ["-a", dir, view(dir)]);
    binds.push(view(dir), dir);
  }

  engineer = createThrowawayUser("agdeb", "/bin/sh");
  fixtures.push(engineer);
  breakGlass = createThrowawayUser("agdebbg", "/bin/sh");
  fixtures.push(breakGlass);
  execFileSync("chpasswd", { input: `${breakGlass.name}:${breakGlassPassword}\n` });
  if (spawnSync("getent", ["group", BREAK_GLASS_GROUP]).status !== 0) {
    execFileSync("groupadd", [BREAK_GLASS_GROUP]);
    // Added first, so removed after the accounts in it.
    fixtures.unshift({ name: BREAK_GLASS_GROUP, remove: () => execFileSync("groupdel", [BREAK_GLASS_GROUP]) });
  }
  execFileSync("gpasswd", ["-a", breakGlass.name, BREAK_GLASS_GROUP], { stdio: "ignore" });

  writeFileSync(join(work, "bundle.json"), makeBundleBytes([issuer], { created: now - 100 }));
  clientKey = join(work, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
});

afterAll(async () => {
  try {
    await sshd?.stop();
  } finally {
    cleanUp([
      () => {
        if (!installedHere || packageStatus() === "not-installed") return;
        const purged = binds === undefined ? run("dpkg", ["--purge", NAME]) : onHost(["dpkg", "--purge", NAME]);
        if (purged.status !== 0) throw new Error(`dpkg --purge ${NAME} failed: ${purged.stderr}`);
      },
      ...ours.map((path) => () => execFileSync("rm", ["-rf", path])),
      ...[...fixtures].reverse().map((f) => f.remove),
      () => work && execFileSync("rm", ["-rf", work]),
    ]);
  }
}, 120_000);

describe("the Debian package, installed and enabled as docs/install.md says", () => {
  it("is built by scripts/build-deb.mjs as dist/airgrant-verifier_<version>_<arch>.deb", async () => {
    const started = performance.now();
    const built = await runLong(process.execPath, [join(REPO_ROOT, "scripts/build-deb.mjs")]);
    expect(built.stderr).toBe("");
    expect(built.status).toBe(0);
    console.info(
      `built ${DEB}: ${(statSync(DEB).size / 1e6).toFixed(1)} MB in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }, 180_000);

  it("holds the executable, man page, PAM profile and sshd snippet, root's, and nothing in /etc or /var", () => {
    const listing = packageListing();
    const files = [...listing].filter(([, mode]) => !mode.startsWith("d"));
    const doc = "/usr/share/doc/airgrant-verifier";
    expect(Object.fromEntries(files)).toEqual({
      [`${INSTALLED} -> ../lib/airgrant-verifier/airgrant-verifier`]: "lrwxrwxrwx root/root",
      [`${LIBEXEC}/airgrant-verifier`]: "-rwxr-xr-x root/root",
      [`${LIBEXEC}/airgrant-verifier-runtime`]: "-rwxr-xr-x root/root",
      "/usr/share/man/man8/airgrant-verifier.8.gz": "-rw-r--r-- root/root",
      "/usr/share/pam-configs/airgrant": "-rw-r--r-- root/root",
      "/usr/share/airgrant-verifier/sshd_config.d/airgrant.conf": "-rw-r--r-- root/root",
      "/usr/share/lintian/overrides/airgrant-verifier": "-rw-r--r-- root/root",
      [`${doc}/copyright`]: "-rw-r--r-- root/root",
      [`${doc}/changelog.gz`]: "-rw-r--r-- root/root",
      [`${doc}/install.md.gz`]: "-rw-r--r-- root/root",
      [`${doc}/pam.md.gz`]: "-rw-r--r-- root/root",
      [`${doc}/openssh.md.gz`]: "-rw-r--r-- root/root",
      [`${doc}/verifier.md.gz`]: "-rw-r--r-- root/root",
      [`${doc}/requests.md.gz`]: "-rw-r--r-- root/root",
      [`${doc}/doctor.md.gz`]: "-rw-r--r-- root/root",
      [`${doc}/errors.md.gz`]: "-rw-r--r-- root/root",
    });
    for (const [path, mode] of listing) {
      if (mode.startsWith("d")) expect(`${path} ${mode}`).toBe(`${path} drwxr-xr-x root/root`);
    }

    const fields = run("dpkg-deb", ["-f", DEB, "Package", "Version", "Architecture"]).stdout;
    expect(fields).toBe(`Package: ${NAME}\nVersion: ${VERSION}\nArchitecture: ${ARCH}\n`);
    const info = run("dpkg-deb", ["-I", DEB]).stdout;
    for (const script of ["postinst", "prerm", "postrm"]) {
      // `*`: executable; each a POSIX sh script that stops at its first error.
      expect(info).toMatch(new RegExp(`\\d+ lines\\s+\\*\\s+${script}\\s+#!/bin/sh\\n`));
      const text = readFileSync(join(REPO_ROOT, "packaging/deb", script), "utf8");
      expect(text).toMatch(/^#!\/bin\/sh\n(#.*\n)*set -e\n/);
      expect(run("dash", ["-n", join(REPO_ROOT, "packaging/deb", script)]).status).toBe(0);
    }
  });

  it("passes lintian, its overrides each explained in the package", async () => {
    const linted = await runLong("lintian", ["--allow-root", DEB]);
    console.info(`lintian: ${linted.stdout.trim() || "no tags"}`);
    expect(linted.stdout).not.toMatch(/^[EW]: /m);
    expect(linted.status).toBe(0);
  }, 120_000);

  it("installs with dpkg -i and changes no login", () => {
    installedHere = true;
    const installed = run("dpkg", ["-i", DEB]);
    expect(installed.stderr).toBe("");
    expect(installed.status).toBe(0);
    expect(packageStatus()).toBe("installed");
    expect(loginConfiguration()).toEqual(before);

    for (const file of [INSTALLED, `${LIBEXEC}/airgrant-verifier-runtime`]) {
      const s = statSync(file);
      expect([file, s.mode, s.uid, s.gid]).toEqual([file, 0o100755, 0, 0]);
    }
    const state = statSync(STATE);
    expect([state.mode, state.uid, state.gid]).toEqual([0o40700, 0, 0]);
    expect(readdirSync(STATE)).toEqual([]);
    for (const log of LOGS) {
      const s = statSync(log);
      expect([log, s.mode, s.uid, s.gid, s.size]).toEqual([log, 0o100600, 0, 0, 0]);
    }
    expect(gunzipSync(readFileSync("/usr/share/man/man8/airgrant-verifier.8.gz")).toString()).toBe(
      readFileSync(join(REPO_ROOT, "packages/verifier/man/airgrant-verifier.8"), "utf8"),
    );
  }, 120_000);

  it("runs on a host view where no node can be found or started", () => {
    expect(onHost(["sh", "-c", "command -v node || command -v nodejs"]).status).not.toBe(0);
    for (const node of nodeBinaries()) expect(onHost([node, "-e", "0"]).status).not.toBe(0);
    const help = onHost([NAME, "--help"]);
    expect(help.stdout).toMatch(/^usage: airgrant-verifier <command>/);
    expect(help.status).toBe(0);
    expect(onHost([NAME, "--version"]).stdout).toContain(VERSION);
  });

  it("installs the trust bundle with the installed command", () => {
    const [line, ...rest] = documentedInstallLines("\n### The trust bundle\n");
    expect(rest).toEqual([]);
    const argv = (line as string).split(" ").map((word) => (word === "bundle.json" ? join(work, "bundle.json") : word));
    const installed = onHost(argv);
    expect(installed.stderr).toBe("");
    expect(installed.status).toBe(0);
    expect(readdirSync(STATE).sort()).toEqual(expect.arrayContaining(["audit.log", "bundle.json", "used"]));
    // Carried to the auditor and deleted here, as the page says.
    renameSync(join(STATE, "seal-receipt.json"), join(work, "seal-receipt.json"));
  });

  it("installs again over itself, keeping the state and making its directory root's 0700 again", () => {
    const stateFiles = () =>
      new Map(["bundle.json", "audit.log", "seal.key"].map((f) => [f, readFileSync(join(STATE, f), "hex")]));
    const kept = stateFiles();
    chmodSync(STATE, 0o755);
    const again = run("dpkg", ["-i", DEB]);
    expect(again.stderr).toBe("");
    expect(again.status).toBe(0);
    expect(statSync(STATE).mode).toBe(0o40700);
    expect(stateFiles()).toEqual(kept);
    expect(loginConfiguration()).toEqual(before);
  }, 120_000);

  it("enables PAM with pam-auth-update --enable airgrant, the airgrant line first in common-auth as written", () => {
    commonAuthBeforeEnable = readFileSync(view("/etc/pam.d/common-auth"), "utf8");
    const [line] = documentedInstallLines("\n### Grants at the password prompt: PAM\n");
    const enabled = onHost((line as string).split(" "));
    expect(enabled.status).toBe(0);
    expect(primaryBlock(readFileSync(view("/etc/pam.d/common-auth"), "utf8"))).toEqual(
      documentedInstallLines("Its block then\nreads (Debian 12):\n"),
    );
    expect(enabledProfiles(view("/var/cache/debconf/config.dat"))).toMatch(/^airgrant, /);
    // The machine outside the view: unchanged.
    expect(loginConfiguration()).toEqual(before);
  });

  it("lets a grant in once through PAM, and the break-glass account with its password", () => {
    const service = `airgrant-e2e-${process.pid}-${randomBytes(4).toString("hex")}`;
    writeFileSync(view(`/etc/pam.d/${service}`), "@include common-auth\n@include common-account\n");
    const grant = grantFor(engineer.name);
    const first = pamtester(service, engineer.name, grant);
    expect(first.stdout).toMatch(/successfully authenticated/);
    expect(first.status).toBe(0);
    verdicts.push("allowed");
    expect(pamtester(service, engineer.name, grant).status).not.toBe(0);
    verdicts.push("grant-replayed");
    expect(pamtester(service, engineer.name, breakGlassPassword).status).not.toBe(0);
    verdicts.push("malformed-grant");
    expect(pamtester(service, breakGlass.name, breakGlassPassword).status).toBe(0);
    expect(readFileSync("/var/log/airgrant-pam.log", "utf8")).toMatch(new RegExp(`^allowed: .*${engineer.name}`, "m"));
  }, 60_000);

  it("enables sshd with the shipped snippet, the CA keys and the session line, scoped as sshd -T shows", async () => {
    const [copy, caKeys, ...rest] = documentedInstallLines("\n### sshd\n");
    expect(rest).toEqual([]);
    const copied = onHost((copy as string).split(" "));
    expect(copied.status).toBe(0);
    const [caCommand, caFile] = (caKeys as string).split(" > ") as [string, string];
    const keys = onHost(caCommand.split(" "));
    expect(keys.status).toBe(0);
    expect(keys.stdout).toMatch(/^ecdsa-sha2-nistp256 \S+ airgrant-issuer-[0-9a-f]+\n$/);
    writeFileSync(view(caFile), keys.stdout);

    const [sessionLine, ...more] = documentedInstallLines("\n### sshd's session line\n");
    expect(more).toEqual([]);
    pamSshdBeforeEdit = readFileSync(view("/etc/pam.d/sshd"), "utf8");
    const pamSshd = pamSshdBeforeEdit.split("\n");
    const firstSession = pamSshd.findIndex((l) => /^session\s/.test(l));
    expect(firstSession).toBeGreaterThan(0);
    pamSshd.splice(firstSession, 0, sessionLine as string);
    // The session-end line right after pam_loginuid, in sshd's stack and login's.
    const [endLine, ...others] = documentedInstallLines("\n### The session ends with the grant\n");
    expect(others).toEqual([]);
    const afterLoginUid = (lines: string[]) => {
      const at = lines.findIndex((l) => /^session\s+required\s+pam_loginuid\.so/.test(l));
      expect(at).toBeGreaterThan(0);
      lines.splice(at + 1, 0, endLine as string);
      return lines.join("\n");
    };
    writeFileSync(view("/etc/pam.d/sshd"), afterLoginUid(pamSshd));
    pamLoginBeforeEdit = readFileSync(view("/etc/pam.d/login"), "utf8");
    writeFileSync(view("/etc/pam.d/login"), afterLoginUid(pamLoginBeforeEdit.split("\n")));

    const effective = (user: string) =>
      new Map(
        onHost(["sshd", "-T", "-C", `user=${user},host=localhost,addr=127.0.0.1`])
          .stdout.trimEnd()
          .split("\n")
          .map((l) => l.split(" ", 2) as [string, string]),
      );
    const forEngineer = effective(engineer.name);
    expect(forEngineer.get("usepam")).toBe("yes");
    expect(forEngineer.get("kbdinteractiveauthentication")).toBe("yes");
    expect(forEngineer.get("trustedusercakeys")).toBe("/etc/ssh/airgrant_ca_keys");
    expect(forEngineer.get("disableforwarding")).toBe("yes");
    const forBreakGlass = effective(breakGlass.name);
    expect(forBreakGlass.get("disableforwarding")).toBe("no");
    // Debian's own line after the Include: still global, the Match ended with its file.
    expect(forBreakGlass.get("x11forwarding")).toBe("yes");

    // sshd starts PAM with its program's name: a link named sshd, whose service is the host view's sshd stack.
    const service = "sshd";
    sshd = await startSshd({
      dir: join(work, "sshd"),
      pamService: service,
      config: ["Include /etc/ssh/sshd_config"],
      launcher: hostView(),
    });
  }, 60_000);

  it("lets a grant typed at sshd's prompt in once", () => {
    const grant = grantFor(engineer.name);
    const first = promptLogin(engineer.name, grant);
    expect(first.stdout.trim()).toBe(`in-as-${engineer.name}`);
    expect(first.status).toBe(0);
    verdicts.push("allowed");
    const again = promptLogin(engineer.name, grant);
    expect(again.stdout).toBe("");
    expect(again.status).toBe(255);
    verdicts.push("grant-replayed");
  }, 60_000);

  it("lets a one-time certificate in once", () => {
    const cert = mintSshCertificate(issuer, {
      publicKeyLine: readFileSync(`${clientKey}.pub`, "utf8"),
      principals: [engineer.name],
      target: HOST,
    });
    const first = sshWithCertificate(cert.line);
    expect(first.stdout.trim()).toBe(`in-as-${engineer.name}`);
    expect(first.status).toBe(0);
    verdicts.push("allowed");
    const again = sshWithCertificate(cert.line);
    expect(again.stdout).toBe("");
    expect(again.status).not.toBe(0);
    verdicts.push("grant-replayed");
  }, 60_000);

  it("gives a grant's login no forwarding, and keeps the break-glass account's password login", () => {
    const forward = ["-o", "ExitOnForwardFailure=yes", "-R", "127.0.0.1:0:127.0.0.1:9"];
    const grantLogin = promptLogin(engineer.name, grantFor(engineer.name), forward);
    expect(grantLogin.stderr).toMatch(/remote port forwarding failed/);
    expect(grantLogin.status).toBe(255);
    verdicts.push("allowed");
    const breakGlassLogin = promptLogin(breakGlass.name, breakGlassPassword, forward);
    expect(breakGlassLogin.stdout.trim()).toBe(`in-as-${breakGlass.name}`);
    expect(breakGlassLogin.status).toBe(0);
  }, 60_000);

  it("records every grant login in the host audit log, its chain intact", () => {
    expect(verifyAuditLog(join(STATE, "audit.log"))).toMatchObject({ ok: true });
    expect(grantChecks()).toEqual(verdicts);
  });

  it("finds nothing wrong with the install, asked with doctor as docs/install.md says", () => {
    const [line, ...rest] = documentedInstallLines("\n### Checking it: doctor\n");
    expect(rest).toEqual([]);
    const doctor = onHost((line as string).split(" "));
    expect(doctor.stdout).toBe("");
    expect(doctor.status).toBe(0);
  });

  it("dpkg --remove takes the profile out of common-auth, keeps the state, and names the sshd line left", () => {
    const removed = onHost(["dpkg", "--remove", NAME]);
    expect(removed.status).toBe(0);
    expect(removed.stderr).toContain(`/etc/pam.d/sshd still runs ${INSTALLED}`);
    expect(readFileSync(view("/etc/pam.d/common-auth"), "utf8")).toBe(commonAuthBeforeEnable);
    expect(enabledProfiles(view("/var/cache/debconf/config.dat"))).not.toMatch(/airgrant/);
    expect(existsSync(INSTALLED)).toBe(false);
    expect(existsSync(LIBEXEC)).toBe(false);
    expect(existsSync(join(STATE, "audit.log"))).toBe(true);
  }, 120_000);

  it("dpkg --purge keeps the state directory and the logs that hold records, and changed no login", () => {
    const purged = onHost(["dpkg", "--purge", NAME]);
    expect(purged.status).toBe(0);
    expect(purged.stderr).toContain(`kept ${STATE}: its audit log is evidence`);
    expect(packageStatus()).toBe("not-installed");
    expect(verifyAuditLog(join(STATE, "audit.log"))).toMatchObject({ ok: true });
    for (const log of LOGS) expect(statSync(log).size).toBeGreaterThan(0);
    expect(existsSync("/usr/share/pam-configs/airgrant")).toBe(false);
    expect(loginConfiguration()).toEqual(before);
  }, 120_000);

  it("dpkg --purge right after dpkg -i leaves nothing behind", () => {
    // What install.md asks: the session lines out before removing, the state once its log is carried out.
    writeFileSync(view("/etc/pam.d/sshd"), pamSshdBeforeEdit);
    writeFileSync(view("/etc/pam.d/login"), pamLoginBeforeEdit);
    for (const path of [STATE, ...LOGS]) execFileSync("rm", ["-r", path]);
    expect(run("dpkg", ["-i", DEB]).status).toBe(0);
    const purged = onHost(["dpkg", "--purge", NAME]);
    expect(purged.stderr).toBe("");
    expect(purged.status).toBe(0);
    for (const path of [STATE, ...LOGS, INSTALLED]) expect(existsSync(path)).toBe(false);
    expect(loginConfiguration()).toEqual(before);
  }, 120_000);
});
