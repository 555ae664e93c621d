// A whole ssh login with an airgrant certificate (ssh client, sshd, two
// `airgrant-verifier ssh-principals` processes and one `ssh-session`), set up
// as docs/openssh.md says, against the same login with a plain authorized
// key: on the same sshd (which still runs `ssh-session`, finding no
// certificate) and on an sshd without airgrant's lines. Interleaved, one of
// each in turn. Needs root and openssh-server, like test/openssh.test.ts.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import {
  encodeSshCertificate,
  encodeSshCertificateBody,
  parseSshPublicKeyLine,
  sshCertificateLine,
  sshSignatureBlob,
  toHex,
} from "@airgrant/core";
import { makeBundleBytes, makeTestIssuer } from "@airgrant/testkit";
import { hostState, installBundle } from "@airgrant/verifier";
import { fmt, median, ROOT, workDir } from "./bench-support.mjs";

if (process.getuid?.() !== 0 || !existsSync("/usr/sbin/sshd")) {
  console.error("ssh.bench.mjs needs root and /usr/sbin/sshd (apt-get install -y openssh-server)");
  process.exit(1);
}

const HOST = "bench.example";
const CLI = join(ROOT, "packages/verifier/dist/airgrant-verifier.cjs");
const now = Math.floor(Date.now() / 1000);
const work = workDir("ssh");
const issuer = makeTestIssuer();
const state = hostState(join(work, "state"));
installBundle(state, makeBundleBytes([issuer]), () => new Date());
const caKeys = join(work, "airgrant_ca_keys");
writeFileSync(caKeys, execFileSync(process.execPath, [CLI, "ssh-ca-keys", "--state", state.dir]));

const cleanups = [];
function cleanUp() {
  for (const step of cleanups.reverse()) {
    try {
      step();
    } catch (err) {
      console.error(`cleanup: ${err.message}`);
    }
  }
  cleanups.length = 0;
}
process.on("SIGINT", () => {
  cleanUp();
  process.exit(130);
});

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function accepting(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/**
 * A PAM service named like the end-to-end tests' fixtures (a crashed run's
 * leftovers are removed by the next test run) and an sshd run under that name.
 */
async function startSshd(name, pamLines, configLines) {
  const service = `airgrant-e2e-${process.pid}-${randomBytes(4).toString("hex")}`;
  writeFileSync(`/etc/pam.d/${service}`, `# written by bench/ssh.bench.mjs; safe to delete\n${pamLines.join("\n")}\n`, {
    flag: "wx",
  });
  cleanups.push(() => rmSync(`/etc/pam.d/${service}`, { force: true }));
  const dir = join(work, name);
  mkdirSync(dir);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const program = join(dir, service);
  symlinkSync("/usr/sbin/sshd", program);
  const port = await freePort();
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      "PidFile none",
      ...configLines,
      "",
    ].join("\n"),
  );
  const child = spawn(program, ["-D", "-f", config, "-E", join(dir, "sshd.log")], { stdio: "ignore" });
  cleanups.push(() => child.kill("SIGTERM"));
  for (let waited = 0; !(await accepting(port)); waited += 50) {
    if (child.exitCode !== null || waited > 10_000) throw new Error(`sshd ${name} did not start; see ${dir}/sshd.log`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return port;
}

const user = `agbench${randomBytes(3).toString("hex")}`;
try {
  execFileSync("useradd", [
    "--no-create-home",
    "--no-user-group",
    "--home-dir",
    "/",
    "--shell",
    "/bin/sh",
    "--comment",
    `airgrant e2e test pid ${process.pid}`,
    user,
  ]);
  cleanups.push(() => execFileSync("userdel", [user]));

  const clientKey = join(work, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  const publicKeyLine = readFileSync(`${clientKey}.pub`, "utf8");
  const authorizedKeys = join(work, "authorized_keys");
  writeFileSync(authorizedKeys, publicKeyLine, { mode: 0o644 });

  const common = [
    "UsePAM yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    `AuthorizedKeysFile ${authorizedKeys}`,
    "MaxStartups 50:30:100",
  ];
  // docs/openssh.md, with this checkout's paths.
  const airgrantPort = await startSshd(
    "airgrant",
    [
      "auth required pam_deny.so",
      "account required pam_permit.so",
      `session requisite pam_exec.so quiet type=open_session ${process.execPath} ${CLI} ssh-session --state ${state.dir} --host ${HOST}`,
      "session required pam_permit.so",
    ],
    [
      ...common,
      `TrustedUserCAKeys ${caKeys}`,
      `AuthorizedPrincipalsCommand ${process.execPath} ${CLI} ssh-principals --state ${state.dir} --host ${HOST} --user %u --type %t --cert %k`,
      "AuthorizedPrincipalsCommandUser root",
    ],
  );
  const plainPort = await startSshd(
    "plain",
    ["auth required pam_deny.so", "account required pam_permit.so", "session required pam_permit.so"],
    common,
  );

  const subjectKey = parseSshPublicKeyLine(publicKeyLine).blob;
  let certs = 0;
  /** A certificate can log in once: a fresh one for every certificate login. */
  function mintCertificateFile() {
    const body = encodeSshCertificateBody(
      {
        subjectKey,
        nonce: new Uint8Array(randomBytes(32)),
        serial: randomBytes(8).readBigUInt64BE(),
        keyId: `${toHex(randomBytes(16))}@${HOST}`,
        principals: [user],
        validAfter: BigInt(now - 60),
        validBefore: BigInt(now + 3600),
        criticalOptions: {},
        extensions: ["permit-pty"],
      },
      "ecdsa-p256-sha256",
      issuer.spki,
    );
    const raw = issuer.sign(body);
    const file = join(work, `cert-${++certs}.pub`);
    writeFileSync(
      file,
      `${sshCertificateLine(encodeSshCertificate(body, sshSignatureBlob("ecdsa-p256-sha256", raw)))}\n`,
    );
    return file;
  }

  function login(port, certFile) {
    const args = ["-F", "/dev/null", "-p", String(port), "-i", clientKey];
    if (certFile !== undefined) args.push("-o", `CertificateFile=${certFile}`);
    args.push(
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "IdentitiesOnly=yes",
      "-o",
      "LogLevel=ERROR",
      `${user}@127.0.0.1`,
      "true",
    );
    const started = performance.now();
    const r = spawnSync("ssh", args, { encoding: "utf8", timeout: 30_000 });
    const ms = performance.now() - started;
    if (r.status !== 0) {
      const log = readFileSync(join(work, port === airgrantPort ? "airgrant" : "plain", "sshd.log"), "utf8");
      throw new Error(
        `ssh login failed (${r.status}): ${r.stderr}\nsshd: ${log.trimEnd().split("\n").slice(-6).join("\n")}`,
      );
    }
    return ms;
  }

  const WARM = 3;
  const RUNS = 21;
  const certFiles = Array.from({ length: WARM + RUNS }, mintCertificateFile);
  const certTimes = [];
  const keyTimes = [];
  const bareTimes = [];
  for (let i = 0; i < WARM + RUNS; i++) {
    const c = login(airgrantPort, certFiles[i]);
    const k = login(airgrantPort);
    const b = login(plainPort);
    if (i < WARM) continue;
    certTimes.push(c);
    keyTimes.push(k);
    bareTimes.push(b);
  }
  const cert = median(certTimes);
  const key = median(keyTimes);
  const bare = median(bareTimes);
  console.log(
    `ssh login with an airgrant certificate: ${fmt(cert, 1)} ms median of ${RUNS} (max ${fmt(Math.max(...certTimes), 1)})`,
  );
  console.log(
    `same login with a plain authorized key: ${fmt(key, 1)} ms on the airgrant sshd, ${fmt(bare, 1)} ms without airgrant's lines`,
  );
  console.log(
    `ratio certificate/plain key: ${fmt(cert / key)} (same sshd), ${fmt(cert / bare)} (sshd without airgrant); medians`,
  );
} finally {
  cleanUp();
}
