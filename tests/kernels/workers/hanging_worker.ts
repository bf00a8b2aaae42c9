/**
 * A kernel worker that says it is ready, takes the first block of the first
 * job it sees, then never finishes it, as one stuck in an endless loop.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { JOB, takeBlock, type WorkerInit } from "../../../kernels/mailbox.ts";

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const { control, slot } = event.data;
  self.postMessage("ready");
  // Polled without pause, so it takes a block the moment the job board has one.
  for (;;) {
    const block = takeBlock(control, slot);
    if (block >= 0) {
      Atomics.store(control, JOB.owner + block, slot);
      break;
    }
  }
  for (;;) {
    // Hangs holding its block.
  }
};
