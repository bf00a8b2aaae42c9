/**
 * The layout of the shared mailboxes through which the main thread hands
 * blocks of work to kernel workers, and the message that starts a worker.
 *
 * @module
 */

/** Int32 offsets inside one worker's mailbox. */
export const MAILBOX = {
  /** Int32 slots per mailbox (a cache line of its own, so workers never share one). */
  size: 32,
  /** Sequence number of the latest request; negative asks the worker to stop. */
  request: 0,
  /** Sequence number of the latest finished request; negated when it failed. */
  done: 1,
  /** Which kernel to run: an index into {@linkcode KERNEL_EXPORTS}. */
  kernel: 2,
  /** Where the kernel's arguments start. */
  firstArg: 3,
  /** Room for the longest argument list. */
  args: 16,
} as const;

/** The exports of gemm.wasm a mailbox can name (gemm and gemmSparseA take 15 arguments, gemmCsr 16). */
export const KERNEL_EXPORTS = ["gemm", "gemmSparseA", "gemmCsr"] as const;

/** What a worker receives once, before any work. */
export interface WorkerInit {
  /** The compiled kernels. */
  module: WebAssembly.Module;
  /** The shared memory every buffer lives in. */
  memory: WebAssembly.Memory;
  /** All mailboxes. */
  control: Int32Array;
  /** This worker's mailbox index. */
  slot: number;
}
