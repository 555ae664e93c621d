/**
 * Run as its own process by token-session.test.ts, several at once, to sign
 * with the same token as the others. Arguments: module path, token label, key
 * label, barrier directory, number of processes, duration (ms), message (hex).
 * Each opens the token, writes a file in the barrier directory and waits until
 * every process has, so that their signing loops really overlap. The PIN comes
 * from AIRGRANT_PIN, the token from SOFTHSM2_CONF. Prints {"count", "samples"}.
 */
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openToken } from "./token-session.js";

const [modulePath, tokenLabel, keyLabel, barrier, processes, duration, messageHex] = process.argv.slice(2);
if (
  modulePath === undefined ||
  tokenLabel === undefined ||
  keyLabel === undefined ||
  barrier === undefined ||
  messageHex === undefined
) {
  throw new Error("usage: concurrent-signer MODULE TOKEN KEY BARRIER_DIR PROCESSES DURATION_MS MESSAGE_HEX");
}
const session = openToken({ modulePath, tokenLabel, pin: process.env.AIRGRANT_PIN ?? "" });
try {
  writeFileSync(join(barrier, String(process.pid)), "");
  const tick = new Int32Array(new SharedArrayBuffer(4));
  while (readdirSync(barrier).length < Number(processes)) Atomics.wait(tick, 0, 0, 2);
  const message = Buffer.from(messageHex, "hex");
  const end = Date.now() + Number(duration);
  const samples: string[] = [];
  let count = 0;
  while (Date.now() < end) {
    const signature = session.sign(keyLabel, message);
    if (count % 500 === 0) samples.push(Buffer.from(signature).toString("hex"));
    count += 1;
  }
  process.stdout.write(`${JSON.stringify({ count, samples })}\n`);
} finally {
  session.close();
}
