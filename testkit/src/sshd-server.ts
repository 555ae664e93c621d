// End-to-end test support: a real sshd on 127.0.0.1 and a free port, run in
// the foreground (-D) as a child of the test so that stopping it is killing
// that one process.
//
// OpenSSH (portable) starts PAM with its program name as the service name
// (pam_start(__progname, …)). Started through a link named like a PAM file
// of writePamService, sshd uses that file instead of /etc/pam.d/sshd, so a
// test never touches the host's own sshd configuration.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";

const SSHD = "/usr/sbin/sshd";

export interface SshdServer {
  port: number;
  logFile: string;
  stop(): Promise<void>;
}

export interface SshdOptions {
  /** A scratch directory for the host key, configuration and log. */
  dir: string;
  /** The PAM service (a file in /etc/pam.d) sshd should use. */
  pamService: string;
  /** sshd_config lines after Port, ListenAddress, HostKey and PidFile. */
  config: string[];
  /**
   * A command line that runs sshd's, given after it, by exec (such as
   * `unshare --mount … sh -c '…; exec "$@"'`), so that sshd keeps its pid.
   */
  launcher?: readonly string[];
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

/**
 * The ssh client's options for a key login to a test sshd: no prompt, no
 * known-hosts file, only the key given with -i.
 */
export const SSH_KEY_LOGIN_OPTIONS: readonly string[] = [
  "-o",
  "BatchMode=yes",
  "-o",
  "StrictHostKeyChecking=no",
  "-o",
  "UserKnownHostsFile=/dev/null",
  "-o",
  "IdentitiesOnly=yes",
  "-o",
  "ConnectTimeout=10",
  "-o",
  "LogLevel=ERROR",
];

/**
 * sshd's privilege separation directory, which sshd and `sshd -T` refuse to
 * run without. On a host the openssh-server package's tmpfiles make it at
 * boot; a CI machine that just installed the package has none.
 */
export function makeSshdRunDir(): void {
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
}

/** Start sshd and wait until it accepts connections. */
export async function startSshd(options: SshdOptions): Promise<SshdServer> {
  const { dir } = options;
  mkdirSync(join(dir, "bin"), { recursive: true });
  const hostKey = join(dir, "ssh_host_ed25519_key");
  const keygen = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey], { encoding: "utf8" });
  if (keygen.status !== 0) throw new Error(`ssh-keygen failed: ${keygen.stderr}`);
  makeSshdRunDir();
  const program = join(dir, "bin", options.pamService);
  symlinkSync(SSHD, program);
  const port = await freePort();
  const configFile = join(dir, "sshd_config");
  const logFile = join(dir, "sshd.log");
  writeFileSync(
    configFile,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      ...options.config,
      "",
    ].join("\n"),
  );
  const launcher = options.launcher ?? [];
  const run = (args: string[]): [string, string[]] =>
    launcher.length === 0 ? [program, args] : [launcher[0] as string, [...launcher.slice(1), program, ...args]];
  const check = spawnSync(...run(["-t", "-f", configFile]), { encoding: "utf8" });
  if (check.status !== 0) throw new Error(`sshd -t refused the configuration: ${check.stderr}`);
  // sshd re-executes itself for each connection, so it must be started by an absolute path.
  const child = spawn(...run(["-D", "-f", configFile, "-E", logFile]), { stdio: "ignore" });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited(child);
  };
  for (let waited = 0; !(await accepting(port)); waited += 50) {
    if (child.exitCode !== null || waited > 10_000) {
      await stop();
      throw new Error(`sshd did not start on port ${port}; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, logFile, stop };
}
