/**
 * A worker thread of the WebAssembly kernels: it instantiates gemm.wasm on the
 * shared memory, then sleeps on its mailbox and, at each new job, takes and
 * runs blocks from the job board until none is left. See kernels/mailbox.ts.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import {
  kernelTable,
  MAILBOX,
  mailboxAt,
  runBlocks,
  waitForChange,
  type WorkerInit,
} from "./mailbox.ts";
import { openNativeKernels } from "./native.ts";

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const { module, memory, control, slot, native } = event.data;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const kernels = kernelTable(instance, native ? openNativeKernels()?.bind(memory) ?? {} : {});
  const request = mailboxAt(slot) + MAILBOX.request;
  self.postMessage("ready");
  let seen = 0;
  for (;;) {
    seen = waitForChange(control, request, seen);
    if (seen < 0) break;
    // A trap (say, an access out of bounds) must not leave the caller waiting forever: the
    // block is marked failed; the caller is blocked and cannot take a message, so the error
    // goes to stderr here.
    runBlocks(control, slot, kernels, (error) => {
      console.error(`error: kernel worker ${slot}: ${error}`);
    });
  }
  self.close();
};
