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

/** The exports of gemm.wasm a mailbox can name (up to 16 arguments; extra ones are ignored). */
export const KERNEL_EXPORTS = [
  "gemm",
  "gemmSparseA",
  "gemmCsr",
  "sigmoidRange",
  "sgdRange",
  "nesterovRange",
  "adamRange",
] as const;

/**
 * How long a thread keeps polling for its next message before it sleeps.
 * Products come every millisecond or two while training, and waking a
 * sleeping thread costs up to half a millisecond on a virtual machine.
 */
export const SPIN_MS = 2;

/**
 * Waits until `control[index]` differs from `value`: polls for up to
 * {@linkcode SPIN_MS}, then sleeps on it. Returns the new value, or `value`
 * itself once `deadline` (a `performance.now()` time) has passed.
 */
export function waitForChange(
  control: Int32Array,
  index: number,
  value: number,
  deadline: number = Infinity,
): number {
  const until = performance.now() + SPIN_MS;
  for (let polls = 1;; polls++) {
    const seen = Atomics.load(control, index);
    if (seen !== value) return seen;
    if ((polls & 255) === 0 && performance.now() > until) break;
  }
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return Atomics.load(control, index);
    Atomics.wait(control, index, value, left === Infinity ? undefined : left);
    const seen = Atomics.load(control, index);
    if (seen !== value) return seen;
  }
}

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
