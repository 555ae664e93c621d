// End-to-end test support: the real ssh client logging in by
// keyboard-interactive (or password), answering the server's prompt through
// SSH_ASKPASS, since a test has no terminal to type at.
import { spawnSync } from "node:child_process";
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
}

/** Log in to 127.0.0.1:`port`, answer the one prompt with `answer`, run `command`. */
export function sshWithPromptAnswer(login: SshPromptLogin): SshResult {
  const answerFile = join(login.dir, `answer-${process.hrtime.bigint()}`);
  writeFileSync(answerFile, login.answer, { mode: 0o600 });
  const askpass = join(login.dir, "askpass");
  writeFileSync(askpass, '#!/bin/sh\nexec cat "$AIRGRANT_TEST_ANSWER"\n');
  chmodSync(askpass, 0o700);
  const r = spawnSync(
    "ssh",
    [
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
    ],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
      // OpenSSH 8.4 and later: "force" uses SSH_ASKPASS with or without a display or terminal.
      env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", AIRGRANT_TEST_ANSWER: answerFile },
    },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
