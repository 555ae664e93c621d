// A separate process for the concurrency test in file-counter-store.test.ts:
// it validates a list of OTPs, in order, against a shared store file,
// and prints the ones it accepted. The AES key comes in a file, not on argv.
// All workers start together: each says it is ready, then waits for "go".
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { nodeAesDecryptor } from "./aes-block-decryptor.js";
import { fileCounterStore } from "./file-counter-store.js";
import { validateOtp } from "./validate-otp.js";

interface WorkerJob {
  storePath: string;
  readyPrefix: string;
  goPath: string;
  publicId: string;
  aesKeyHex: string;
  privateIdHex: string;
  otps: string[];
}

const [jobPath] = process.argv.slice(2);
if (jobPath === undefined) throw new Error("usage: file-counter-store.test-worker.ts JOB.json");
const job = JSON.parse(readFileSync(jobPath, "utf8")) as WorkerJob;
const key = {
  privateId: new Uint8Array(Buffer.from(job.privateIdHex, "hex")),
  decryptor: nodeAesDecryptor(new Uint8Array(Buffer.from(job.aesKeyHex, "hex"))),
};
const store = fileCounterStore(job.storePath);

writeFileSync(`${job.readyPrefix}${process.pid}`, "");
const pause = new Int32Array(new SharedArrayBuffer(4));
while (!existsSync(job.goPath)) Atomics.wait(pause, 0, 0, 1);

const accepted: string[] = [];
const refused: Record<string, number> = {};
for (const otp of job.otps) {
  const verdict = validateOtp(otp, (publicId) => (publicId === job.publicId ? key : undefined), store);
  if (verdict.ok) accepted.push(otp);
  else refused[verdict.code] = (refused[verdict.code] ?? 0) + 1;
}
process.stdout.write(`${JSON.stringify({ accepted, refused })}\n`);
