// A synchronous pause without spinning: Atomics.wait on a buffer nobody
// notifies. The buffer is made at first use, not when the module loads, so
// that the host's single executable can take this module into its start-up
// snapshot, which cannot hold a SharedArrayBuffer.
let sleeper: Int32Array | undefined;

/** Block this thread for `ms` milliseconds. */
export function sleepMs(ms: number): void {
  sleeper ??= new Int32Array(new SharedArrayBuffer(4));
  Atomics.wait(sleeper, 0, 0, ms);
}
