/**
 * Run as its own process by cli.test.ts: another program using the same
 * token, logging in to it over and over (each SoftHSM2 login rewrites the
 * token's file) until the stop file exists. Arguments: module path, token
 * label, stop file. The PIN comes from AIRGRANT_PIN, the token from
 * SOFTHSM2_CONF. Prints "ready" after its first login and the number of
 * logins at the end; a login that fails (openToken's retries spent) ends it.
 */
import { existsSync } from "node:fs";
import { openToken } from "./token-session.js";

const [modulePath, tokenLabel, stopFile] = process.argv.slice(2);
if (modulePath === undefined || tokenLabel === undefined || stopFile === undefined) {
  throw new Error("usage: token-login-loop MODULE TOKEN STOP_FILE");
}
const pause = new Int32Array(new SharedArrayBuffer(4));
let logins = 0;
while (!existsSync(stopFile)) {
  openToken({ modulePath, tokenLabel, pin: process.env.AIRGRANT_PIN ?? "" }).close();
  if (logins === 0) process.stdout.write("ready\n");
  logins += 1;
  Atomics.wait(pause, 0, 0, 2);
}
process.stdout.write(`${logins}\n`);
