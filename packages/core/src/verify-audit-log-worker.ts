// One half of a two-core chain verification (verify-audit-log.ts): verifies
// its half, with the caller's check when it gave one, and hands the report
// back through shared memory, since the caller waits for it synchronously.
import { workerData } from "node:worker_threads";
import { type HalfCheckData, type RangeCheck, verifyLogHalf } from "./verify-audit-log.js";

const { logPath, half, shared, check } = workerData as {
  logPath: string;
  half: Parameters<typeof verifyLogHalf>[1];
  shared: SharedArrayBuffer;
  check?: HalfCheckData;
};
const signal = new Int32Array(shared, 0, 2);
Atomics.store(signal, 0, 1);
Atomics.notify(signal, 0);
let text: string;
try {
  let rangeCheck: RangeCheck<unknown> | undefined;
  if (check !== undefined) {
    const module = (await import(check.module)) as {
      createRangeCheck(args: unknown, start: HalfCheckData["start"]): RangeCheck<unknown>;
    };
    rangeCheck = module.createRangeCheck(check.args, check.start);
  }
  text = JSON.stringify(verifyLogHalf(logPath, half, rangeCheck));
} catch (err) {
  text = JSON.stringify({ failed: (err as Error).message });
}
const bytes = new TextEncoder().encode(text);
new Uint8Array(shared, 8).set(bytes.subarray(0, shared.byteLength - 8));
signal[1] = Math.min(bytes.length, shared.byteLength - 8);
Atomics.store(signal, 0, 2);
Atomics.notify(signal, 0);
