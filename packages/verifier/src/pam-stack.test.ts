import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { airgrantLine } from "./doctor-pam.js";
import { pamServices, pamWords, readPamStack } from "./pam-stack.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "airgrant-pam-stack-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, lines: string[]): void {
  writeFileSync(join(dir, name), `${lines.join("\n")}\n`);
}

describe("readPamStack", () => {
  it("reads comments, continuations and bracketed controls as Linux-PAM does", () => {
    write("svc", [
      "# a comment",
      "auth [success=done  ignore=ignore\tdefault=die] pam_exec.so quiet # trailing comment",
      "auth required \\",
      "  pam_unix.so nullok",
      "-session optional pam_systemd.so",
      "account [default=bad success=ok user_unknown=ignore] pam_sss.so",
    ]);
    expect(
      readPamStack(dir, "svc", "auth").map(({ control, module, args, line }) => [control, module, args, line]),
    ).toEqual([
      ["[success=done ignore=ignore default=die]", "pam_exec.so", ["quiet"], 2],
      ["required", "pam_unix.so", ["nullok"], 3],
    ]);
    expect(readPamStack(dir, "svc", "session").map((e) => e.module)).toEqual(["pam_systemd.so"]);
  });

  it("follows @include (every type), include and substack (one type), in order, to PAM's depth", () => {
    write("svc", [
      "auth required pam_env.so",
      "@include common-auth",
      "auth substack stack2",
      "session include common-auth",
    ]);
    write("common-auth", ["auth required pam_unix.so", "session required pam_limits.so"]);
    write("stack2", ["auth optional pam_deny.so", "session required pam_mkhomedir.so"]);
    write("loop", ["@include loop", "auth required pam_permit.so"]);
    const auth = readPamStack(dir, "svc", "auth");
    expect(auth.map((e) => [e.module, e.file])).toEqual([
      ["pam_env.so", join(dir, "svc")],
      ["pam_unix.so", join(dir, "common-auth")],
      ["pam_deny.so", join(dir, "stack2")],
    ]);
    expect(readPamStack(dir, "svc", "session").map((e) => e.module)).toEqual(["pam_limits.so", "pam_limits.so"]);
    // A file that includes itself ends at the depth limit, each level adding its own line.
    expect(readPamStack(dir, "loop", "auth")).toHaveLength(17);
  });

  it("lists services but not Debian's common files", () => {
    write("sshd", []);
    write("common-auth", []);
    write("login", []);
    expect(pamServices(dir)).toEqual(["login", "sshd"]);
  });

  it("keeps a bracketed argument one word", () => {
    expect(pamWords("auth [default=die] pam_x.so [a b\\]c] d")).toEqual([
      "auth",
      "[default=die]",
      "pam_x.so",
      "[a b]c]",
      "d",
    ]);
  });
});

describe("airgrantLine", () => {
  const entry = (args: string[]) => ({
    type: "auth" as const,
    control: "required",
    module: "pam_exec.so",
    args,
    file: "f",
    line: 1,
  });

  it("recognises the installed command and the bundle run by node, with the subcommand and --state", () => {
    const installed = airgrantLine(
      entry([
        "expose_authtok",
        "quiet",
        "log=/var/log/a.log",
        "/usr/sbin/airgrant-verifier",
        "pam",
        "--state",
        "/var/lib/airgrant",
      ]),
    );
    expect(installed).toMatchObject({
      subcommand: "pam",
      options: ["expose_authtok", "quiet", "log=/var/log/a.log"],
      stateDir: "/var/lib/airgrant",
    });
    const bundled = airgrantLine(
      entry([
        "type=open_session",
        "/usr/bin/node",
        "/usr/lib/airgrant/verifier/dist/airgrant-verifier.cjs",
        "ssh-session",
        "--state=/s",
      ]),
    );
    expect(bundled).toMatchObject({ subcommand: "ssh-session", options: ["type=open_session"], stateDir: "/s" });
  });

  it("leaves other pam_exec lines and other modules alone", () => {
    expect(airgrantLine(entry(["/usr/local/bin/other-check", "airgrant-verifier"]))).toBeUndefined();
    expect(airgrantLine(entry(["/usr/sbin/airgrant-verifier-old", "pam"]))).toBeUndefined();
    expect(airgrantLine({ ...entry(["/usr/sbin/airgrant-verifier", "pam"]), module: "pam_unix.so" })).toBeUndefined();
  });
});
