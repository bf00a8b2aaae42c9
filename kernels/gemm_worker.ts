/**
 * A worker thread of the WebAssembly kernels: it instantiates gemm.wasm on the
 * shared memory, then waits on its mailbox and runs each block of C it is
 * handed. See kernels/wasm_kernels.ts for the mailbox layout.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { KERNEL_EXPORTS, MAILBOX, waitForChange, type WorkerInit } from "./mailbox.ts";

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const { module, memory, control, slot } = event.data;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const kernels = KERNEL_EXPORTS.map((name) => instance.exports[name] as (...a: number[]) => void);
  const base = slot * MAILBOX.size;
  self.postMessage("ready");
  let seen = 0;
  for (;;) {
    seen = waitForChange(control, base + MAILBOX.request, seen);
    if (seen < 0) break;
    const kernel = kernels[control[base + MAILBOX.kernel]];
    const args: number[] = [];
    for (let i = 0; i < MAILBOX.args; i++) args.push(control[base + MAILBOX.firstArg + i]);
    let outcome = seen;
    try {
      kernel(...args);
    } catch (error) {
      // A trap (say, an access out of bounds) must not leave the caller waiting forever;
      // the caller is blocked and cannot take a message, so the error goes to stderr here.
      console.error(`error: kernel worker ${slot}: ${error}`);
      outcome = -seen;
    }
    Atomics.store(control, base + MAILBOX.done, outcome);
    Atomics.notify(control, base + MAILBOX.done);
  }
  self.close();
};
