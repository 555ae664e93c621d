// End-to-end test support: the real ssh client logging in by
// keyboard-interactive (or password), answering the server's prompt through
// SSH_ASKPASS, since a test has no terminal to type at.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface SshResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface SshPromptLogin {
  /** A scratch directory for the askpass script and the answer file (0600). */
  dir: string;
  port: number;
  user: string;
  /** What to answer at the prompt: the grant, or a password. */
  answer: string;
  command: string;
  method?: "keyboard-interactive" | "password";
  /** More ssh options, such as a forwarding to ask for. */
  options?: string[];
  /** Where to write the prompt the client was shown (SSH_ASKPASS's argument), text the server sent included. */
  promptFile?: string;
}

/** The client's command line and environment for a prompt login: the answer goes in a 0600 file askpass reads. */
function promptLogin(login: SshPromptLogin): { args: string[]; env: NodeJS.ProcessEnv } {
  const answerFile = join(login.dir, `answer-${process.hrtime.bigint()}`);
  writeFileSync(answerFile, login.answer, { mode: 0o600 });
  const askpass = join(login.dir, "askpass");
  writeFileSync(
    askpass,
    '#!/bin/sh\n[ -z "$AIRGRANT_TEST_PROMPT" ] || printf %s "$1" > "$AIRGRANT_TEST_PROMPT"\nexec cat "$AIRGRANT_TEST_ANSWER"\n',
  );
  chmodSync(askpass, 0o700);
  const args = [
    "-F",
    "/dev/null",
    "-p",
    String(login.port),
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    `PreferredAuthentications=${login.method ?? "keyboard-interactive"}`,
    "-o",
    "NumberOfPasswordPrompts=1",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "LogLevel=ERROR",
    ...(login.options ?? []),
    `${login.user}@127.0.0.1`,
    login.command,
  ];
  // OpenSSH 8.4 and later: "force" uses SSH_ASKPASS with or without a display or terminal.
  const env = {
    ...process.env,
    SSH_ASKPASS: askpass,
    SSH_ASKPASS_REQUIRE: "force",
    AIRGRANT_TEST_ANSWER: answerFile,
    AIRGRANT_TEST_PROMPT: login.promptFile ?? "",
  };
  return { args, env };
}

/** Log in to 127.0.0.1:`port`, answer the one prompt with `answer`, run `command`. */
export function sshWithPromptAnswer(login: SshPromptLogin): SshResult {
  const { args, env } = promptLogin(login);
  const r = spawnSync("ssh", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 30_000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The same login left running, for a session the test holds open; stdin is a pipe. */
export function spawnSshWithPromptAnswer(login: SshPromptLogin): ChildProcess {
  const { args, env } = promptLogin(login);
  return spawn("ssh", args, { stdio: ["pipe", "pipe", "pipe"], env });
}
