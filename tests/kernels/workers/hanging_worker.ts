/**
 * A kernel worker that says it is ready, takes the first block of the first
 * job it sees, then never finishes it, as one stuck in an endless loop.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { JOB, type WorkerInit } from "../../../kernels/mailbox.ts";

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const { control, slot } = event.data;
  self.postMessage("ready");
  // Polled without pause, so it takes a block the moment the job board has one.
  for (;;) {
    const seen = Atomics.load(control, JOB.counter);
    if ((seen & 0xffff) < seen >>> 16) {
      if (Atomics.compareExchange(control, JOB.counter, seen, seen + 1) === seen) {
        Atomics.store(control, JOB.owner + (seen & 0xffff), slot);
        break;
      }
    }
  }
  for (;;) {
    // Hangs holding its block.
  }
};
