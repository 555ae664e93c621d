import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

// A command's output through writeOut and writeErr, in a process of its own
// (they write to this process's descriptors 1 and 2).
const WRITER = `
import { writeErr, writeOut } from "@airgrant/core";
const [lines] = process.argv.slice(1);
for (let i = 0; i < Number(lines); i++) writeOut(\`line \${i} \${"x".repeat(200)}\\n\`);
writeErr("done\\n");
`;

function runWriter(lines: number, readStdout: (chunk: Buffer, stop: () => void) => void) {
  return new Promise<{ status: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", WRITER, String(lines)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.stdout.on("data", (chunk: Buffer) => readStdout(chunk, () => child.stdout.destroy()));
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

describe("writeOut and writeErr", () => {
  it("write every byte through a pipe a slow reader drains, in order", async () => {
    let out = "";
    const r = await runWriter(2000, (chunk) => {
      out += chunk.toString("utf8");
    });
    expect(r).toEqual({ status: 0, stderr: "done\n" });
    const lines = out.trimEnd().split("\n");
    expect(lines).toHaveLength(2000);
    expect(lines.every((line, i) => line.startsWith(`line ${i} `))).toBe(true);
  });

  it("stop writing, without failing, when the reader goes away", async () => {
    const r = await runWriter(20_000, (_chunk, stop) => stop());
    expect(r).toEqual({ status: 0, stderr: "done\n" });
  });
});
