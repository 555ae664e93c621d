// A whole ssh login with an airgrant certificate (ssh client, sshd, and one
// `airgrant-verifier ssh-session` start that checks it and takes its use),
// set up as docs/openssh.md says, against the same login with a plain
// authorized key: on the same sshd (which still runs `ssh-session`, finding
// no certificate) and on an sshd without airgrant's lines. Interleaved, one
// of each in turn. Needs root and openssh-server, like test/openssh.test.ts.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeBundleBytes, makeTestIssuer, VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import {
  cleanUp,
  createThrowawayUser,
  documentedOpenSshConfig,
  documentedOpenSshSessionLine,
  type Removable,
  SSH_KEY_LOGIN_OPTIONS,
  type SshdServer,
  startSshd,
  writePamService,
} from "@airgrant/testkit/system";
import { mintSshCertificate } from "@airgrant/testkit/token";
import { hostState, installBundle } from "@airgrant/verifier";
import { median, report, workDir } from "./bench-support.js";

if (process.getuid?.() !== 0 || !existsSync("/usr/sbin/sshd")) {
  console.error("ssh.bench.ts needs root and /usr/sbin/sshd (apt-get install -y openssh-server)");
  process.exit(1);
}

const HOST = "bench.example";
const work = workDir("ssh");
const issuer = makeTestIssuer();
const state = hostState(join(work, "state"));
installBundle(state, makeBundleBytes([issuer]), () => new Date());
const caKeys = join(work, "airgrant_ca_keys");
writeFileSync(caKeys, execFileSync(VERIFIER_EXECUTABLE, ["ssh-ca-keys", "--state", state.dir]));

const fixtures: Removable[] = [];
const servers: SshdServer[] = [];
const removeFixtures = () => cleanUp([...fixtures].reverse().map((f) => f.remove));
process.on("SIGINT", () => {
  removeFixtures();
  process.exit(130);
});

/** An sshd under its own PAM service with these lines. */
async function sshd(name: string, pamLines: string[], config: string[]): Promise<SshdServer> {
  const service = writePamService(pamLines);
  fixtures.push(service);
  const server = await startSshd({ dir: join(work, name), pamService: service.name, config });
  servers.push(server);
  return server;
}

try {
  const user = createThrowawayUser("agbench", "/bin/sh");
  fixtures.push(user);

  const clientKey = join(work, "id_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  const publicKeyLine = readFileSync(`${clientKey}.pub`, "utf8");
  const authorizedKeys = join(work, "authorized_keys");
  writeFileSync(authorizedKeys, publicKeyLine, { mode: 0o644 });

  const common = [
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    `AuthorizedKeysFile ${authorizedKeys}`,
    "MaxStartups 50:30:100",
  ];
  const documented = { stateDir: state.dir, caKeysFile: caKeys, logFile: join(work, "airgrant-ssh.log"), host: HOST };
  const airgrant = await sshd(
    "airgrant",
    [
      "auth required pam_deny.so",
      "account required pam_permit.so",
      documentedOpenSshSessionLine(documented),
      "session required pam_permit.so",
    ],
    // The documented lines last: they end in a Match block.
    [...common, ...documentedOpenSshConfig(documented)],
  );
  const plain = await sshd(
    "plain",
    ["auth required pam_deny.so", "account required pam_permit.so", "session required pam_permit.so"],
    ["UsePAM yes", ...common],
  );

  let certs = 0;
  /** A certificate can log in once: a fresh one for every certificate login. */
  function mintCertificateFile(): string {
    const file = join(work, `cert-${++certs}.pub`);
    writeFileSync(
      file,
      `${mintSshCertificate(issuer, { publicKeyLine, principals: [user.name], target: HOST }).line}\n`,
    );
    return file;
  }

  function login(server: SshdServer, certFile?: string): number {
    const args = ["-F", "/dev/null", "-p", String(server.port), "-i", clientKey];
    if (certFile !== undefined) args.push("-o", `CertificateFile=${certFile}`);
    args.push(...SSH_KEY_LOGIN_OPTIONS, `${user.name}@127.0.0.1`, "true");
    const started = performance.now();
    const r = spawnSync("ssh", args, { encoding: "utf8", timeout: 30_000 });
    const ms = performance.now() - started;
    if (r.status !== 0) {
      const log = readFileSync(server.logFile, "utf8");
      throw new Error(
        `ssh login failed (${r.status}): ${r.stderr}\nsshd: ${log.trimEnd().split("\n").slice(-6).join("\n")}`,
      );
    }
    return ms;
  }

  const WARM = 3;
  const RUNS = 21;
  const certFiles = Array.from({ length: WARM + RUNS }, mintCertificateFile);
  const certTimes: number[] = [];
  const keyTimes: number[] = [];
  const bareTimes: number[] = [];
  for (const [i, certFile] of certFiles.entries()) {
    const c = login(airgrant, certFile);
    const k = login(airgrant);
    const b = login(plain);
    if (i < WARM) continue;
    certTimes.push(c);
    keyTimes.push(k);
    bareTimes.push(b);
  }
  const bare = median(bareTimes);
  report({
    bench: "ssh-certificate-login",
    what: "ssh login with an airgrant certificate, whole login",
    oursMs: median(certTimes),
    baseline: "the same login with a plain authorized key on the same sshd",
    baselineMs: median(keyTimes),
    target: "<= 1.3",
    runs: RUNS,
    "plain key without airgrant's lines, ms": Number(bare.toFixed(1)),
  });
} finally {
  for (const server of servers) await server.stop();
  removeFixtures();
}
