// The verifier's syslog line (docs/verifier.md, "Syslog"), received for
// real: the installed command (launcher, runtime, and the syslog forwarder
// the launcher starts) runs in a mount namespace of its own (unshare -m) whose
// /dev is the host's under an overlay that adds /dev/log, a link to a unix
// datagram socket a perl receiver has bound, or hides /dev/log. Nothing
// is told of the socket: syslog(3) uses /dev/log as on a host, and the host's
// own /dev is never touched. Needs root, unshare and perl (CI has them).
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sshCertificateLine, sshIssuerKeyLine, toHex } from "@airgrant/core";
import { makeBundleBytes, makeGrantText, makeTestIssuer, testFields, VERIFIER_EXECUTABLE } from "@airgrant/testkit";
import { requireCommand, requireRoot } from "@airgrant/testkit/system";
import { mintSshCertificate } from "@airgrant/testkit/token";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const HOST = "syslog.example";
const issuer = makeTestIssuer("ed25519");
let work: string;
let stateDir: string;
let run = 0;

/**
 * In a private mount namespace: an overlay on /dev whose upper layer holds
 * `log` as the link $2 (or, for "-", a whiteout hiding any /dev/log), then
 * the command. Paths come as arguments, never inside the script.
 */
const IN_NAMESPACE = [
  'mount -t tmpfs tmpfs "$1"',
  'mkdir "$1/up" "$1/work"',
  'if [ "$2" = - ]; then mknod "$1/up/log" c 0 0; else ln -s "$2" "$1/up/log"; fi',
  'mount -t overlay overlay -o "lowerdir=/dev,upperdir=$1/up,workdir=$1/work" /dev',
  "shift 2",
  'exec "$@"',
].join(" && ");

/**
 * A unix datagram socket bound at the path given, printing each datagram as
 * one line of hex. Perl, which every Debian system has (perl-base is
 * essential): Node has no unix datagram sockets.
 */
const RECEIVER = [
  "use Socket;",
  "socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die $!;",
  "bind($s, pack_sockaddr_un($ARGV[0])) or die $!;",
  "chmod 0666, $ARGV[0];",
  "$| = 1;",
  'print "ready\\n";',
  'while (defined(recv($s, my $d, 65536, 0))) { print unpack("H*", $d), "\\n"; }',
].join("\n");

/** As many one-byte datagrams into the socket at the path given as it takes before it would block; prints how many. */
const FILL = [
  "use Socket; use Errno;",
  "socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die $!;",
  "my $to = pack_sockaddr_un($ARGV[0]); my $n = 0;",
  "while ($n < 100000 && defined(send($s, 'x', MSG_DONTWAIT, $to))) { $n++; }",
  "print $n;",
].join("\n");

interface Receiver {
  socket: string;
  lines: string[];
  child: ChildProcess;
}

let receivers: Receiver[] = [];

async function startReceiver(): Promise<Receiver> {
  const socket = join(work, `log-${run++}.sock`);
  const child = spawn("perl", ["-e", RECEIVER, socket], { stdio: ["ignore", "pipe", "inherit"] });
  const receiver: Receiver = { socket, lines: [], child };
  receivers.push(receiver);
  await new Promise<void>((resolve, reject) => {
    let buffered = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === "ready") resolve();
        else receiver.lines.push(Buffer.from(line, "hex").toString("utf8"));
        nl = buffered.indexOf("\n");
      }
    });
    child.once("exit", (code) => reject(new Error(`the receiver exited (${code})`)));
  });
  return receiver;
}

async function nextLine(receiver: Receiver, count: number): Promise<string> {
  for (let waited = 0; receiver.lines.length < count; waited += 20) {
    if (waited > 5000) throw new Error(`no syslog line ${count} within 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return receiver.lines[count - 1] as string;
}

/** The verifier with these arguments in a namespace where /dev/log is `devLog` ("-": none). */
function inNamespace(devLog: string, args: string[], env: NodeJS.ProcessEnv, input: string) {
  const overlay = join(work, `ovl-${run++}`);
  mkdirSync(overlay);
  const r = spawnSync(
    "unshare",
    [
      "--mount",
      "--propagation",
      "private",
      "--",
      "/bin/sh",
      "-c",
      IN_NAMESPACE,
      "sh",
      overlay,
      devLog,
      VERIFIER_EXECUTABLE,
      ...args,
    ],
    { input, env, encoding: "utf8", timeout: 20_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, pid: r.pid };
}

function pamEnv(over: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PAM_TYPE: "auth",
    PAM_USER: "alice",
    PAM_SERVICE: "sshd",
    PAM_RHOST: "192.0.2.10",
    PAM_TTY: "ssh",
    ...over,
  };
}

function grantFor(user: string): { text: string; grantId: string } {
  const now = Math.floor(Date.now() / 1000);
  const fields = testFields(issuer, {
    principal: user,
    notBefore: now - 60,
    notAfter: now + 3600,
    target: { kind: "host", name: HOST },
  });
  return { text: makeGrantText(fields, [issuer]), grantId: toHex(fields.grantId) };
}

const pam = ["pam", "--state", "STATE", "--host", HOST];
const withState = (args: string[]) => args.map((a) => (a === "STATE" ? stateDir : a));

beforeAll(() => {
  requireRoot("syslog.test.ts mounts an overlay on /dev in a namespace of its own");
  requireCommand("unshare", "util-linux");
  requireCommand("perl", "perl-base");
  work = mkdtempSync(join(tmpdir(), "airgrant-syslog-"));
  stateDir = join(work, "state");
  const bundle = join(work, "bundle.json");
  writeFileSync(bundle, makeBundleBytes([issuer], { created: Math.floor(Date.now() / 1000) - 100 }));
  const r = spawnSync(
    VERIFIER_EXECUTABLE,
    ["install-bundle", "--state", stateDir, bundle, "--receipt", join(work, "receipt.json")],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(r.stderr);
});
afterEach(() => {
  for (const r of receivers) r.child.kill();
  receivers = [];
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the syslog line", () => {
  it("is one authpriv line per pam verdict, tagged with the verifier's pid, allowed then replayed", async () => {
    const receiver = await startReceiver();
    const grant = grantFor("alice");
    const allowed = inNamespace(receiver.socket, withState(pam), pamEnv(), `${grant.text}\0`);
    expect(allowed.stderr).toBe("");
    expect(allowed.status).toBe(0);
    // <85>: authpriv (10) * 8 + notice (5).
    expect(await nextLine(receiver, 1)).toMatch(
      new RegExp(
        `^<85>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d airgrant-verifier\\[${allowed.pid}\\]: event=pam verdict=allowed grant=${grant.grantId} user=alice host=${HOST} service=sshd rhost=192\\.0\\.2\\.10 tty=ssh use=1 seq=\\d+$`,
      ),
    );
    const replayed = inNamespace(receiver.socket, withState(pam), pamEnv(), `${grant.text}\0`);
    expect(replayed.status).toBe(1);
    // <84>: authpriv.warning.
    expect(await nextLine(receiver, 2)).toMatch(
      new RegExp(
        `^<84>.* airgrant-verifier\\[${replayed.pid}\\]: event=pam verdict=grant-replayed grant=${grant.grantId} user=alice host=${HOST} service=sshd rhost=192\\.0\\.2\\.10 tty=ssh seq=\\d+$`,
      ),
    );
    expect(receiver.lines).toHaveLength(2);
  });

  it("makes what the client sent printable ASCII without spaces, and bounded", async () => {
    const receiver = await startReceiver();
    const user = `evil user\n<13>Jan  1 00:00:00 fake: line${"é".repeat(100)}`;
    const rhost = `x\u202e${"h".repeat(300)}`;
    const r = inNamespace(receiver.socket, withState(pam), pamEnv({ PAM_USER: user, PAM_RHOST: rhost }), "junk\0");
    expect(r.status).toBe(1);
    const line = await nextLine(receiver, 1);
    const message = line.slice(line.indexOf("]: ") + 3);
    expect(message).toMatch(
      /^event=pam verdict=malformed-grant user=\S+ host=\S+ service=sshd rhost=\S+ tty=ssh seq=\d+$/,
    );
    const fields = Object.fromEntries(
      message.split(" ").map((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)]),
    );
    expect(fields.user).toBe(`evil?user?<13>Jan??1?00:00:00?fake:?line${"?".repeat(24)}`);
    expect(fields.rhost).toBe(`x?${"h".repeat(62)}`);
    expect(message).toMatch(/^[\x21-\x7e ]+$/);
  });

  it("logs check and ssh-session verdicts too", async () => {
    const receiver = await startReceiver();
    const grant = grantFor("bob");
    const check = inNamespace(
      receiver.socket,
      ["check", "--user", "bob", "--state", stateDir, "--host", HOST],
      {},
      grant.text,
    );
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
    expect(await nextLine(receiver, 1)).toMatch(
      new RegExp(
        `airgrant-verifier\\[${check.pid}\\]: event=check verdict=allowed grant=${grant.grantId} user=bob host=${HOST} use=1 seq=\\d+$`,
      ),
    );
    const cert = mintSshCertificate(issuer, {
      publicKeyLine: sshIssuerKeyLine("ed25519", makeTestIssuer("ed25519").spki, "engineer"),
      principals: ["carol"],
      target: HOST,
    });
    const env = pamEnv({
      PAM_TYPE: "open_session",
      PAM_USER: "carol",
      SSH_AUTH_INFO_0: `publickey ${sshCertificateLine(cert.blob)}\n`,
    });
    const session = inNamespace(receiver.socket, ["ssh-session", "--state", stateDir, "--host", HOST], env, "");
    expect(session.stderr).toBe("");
    expect(session.status).toBe(0);
    expect(await nextLine(receiver, 2)).toMatch(
      new RegExp(
        `airgrant-verifier\\[${session.pid}\\]: event=ssh-session verdict=allowed grant=${cert.grantId} user=carol host=${HOST} service=sshd rhost=192\\.0\\.2\\.10 tty=ssh use=1 seq=\\d+$`,
      ),
    );
  });

  it("writes only into the launcher's own pipe, whatever AIRGRANT_SYSLOG_FD the PAM environment holds", async () => {
    const receiver = await startReceiver();
    const grant = grantFor("alice");
    const r = inNamespace(receiver.socket, withState(pam), pamEnv({ AIRGRANT_SYSLOG_FD: "1" }), `${grant.text}\0`);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^allowed: [^\n]*\n$/);
    expect(await nextLine(receiver, 1)).toMatch(/event=pam verdict=allowed /);
  });

  it("costs a login nothing when there is no /dev/log at all", () => {
    const grant = grantFor("alice");
    const r = inNamespace("-", withState(pam), pamEnv(), `${grant.text}\0`);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^allowed: grant [0-9a-f]{32} lets 'alice' in/);
    expect(r.status).toBe(0);
    const refused = inNamespace("-", withState(pam), pamEnv(), `${grant.text}\0`);
    expect(refused.stderr).toMatch(/^error: grant-replayed: /);
    expect(refused.status).toBe(1);
  });

  it("does not hold a login when the syslog daemon reads nothing and its queue is full", async () => {
    const receiver = await startReceiver();
    receiver.child.kill("SIGSTOP");
    // Fill the socket's queue so that the forwarder's send blocks.
    const fill = spawnSync("perl", ["-e", FILL, receiver.socket], { encoding: "utf8" });
    expect(Number(fill.stdout)).toBeGreaterThan(0);
    const grant = grantFor("alice");
    const r = inNamespace(receiver.socket, withState(pam), pamEnv(), `${grant.text}\0`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    receiver.child.kill("SIGCONT");
    // The forwarder that waited delivers once the daemon reads again.
    const lines = Number(fill.stdout) + 1;
    expect(await nextLine(receiver, lines)).toMatch(/event=pam verdict=allowed /);
  });
});
