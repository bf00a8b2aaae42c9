/**
 * The layout of the shared control array through which the main thread hands
 * blocks of work to kernel workers (a job board every thread takes blocks
 * from, and a mailbox per worker to wake it), and the message that starts a
 * worker.
 *
 * @module
 */

/**
 * The shared job board, at the start of the control array: one product (or
 * elementwise pass) cut into blocks, perhaps with blocks of another kernel to
 * run beside them, which every thread (the caller included) takes one at a
 * time until none is left. The blocks come in one
 * share per thread, in order (thread 0 the first blocks, thread 1 the next):
 * each thread takes its own share first, then helps with the others'. So a
 * thread works on the same part of each buffer from one product to the next
 * (the parameters it updated are the rows its gradient blocks write), and its
 * cache lines stay on its core instead of crossing to the other, which costs
 * more than the arithmetic on a virtual machine; yet a thread the host has
 * descheduled simply takes fewer blocks, and nobody waits for it unless it
 * holds one. Int32 offsets.
 */
export const JOB = {
  /** How many shares the blocks come in: the thread count, set once. */
  shares: 3,
  /** Per thread (by slot): its scratch address. */
  scratch: 16,
  /** Per share: `end << 16 | next`, the share's blocks being [first, end); next ≥ end: none left. */
  share: 16 + 256,
  /** Per block: 0 while it runs (or waits), 1 once done, −1 if it failed. */
  done: 16 + 512,
  /** Per block: the slot of the thread that took it. */
  owner: 16 + 768,
  /** Per block: its arguments, {@linkcode JOB.args} each. */
  table: 16 + 1024,
  /** Arguments per block (extra ones are ignored). */
  args: 17,
  /** Per block: which kernel it runs, an index into {@linkcode KERNEL_EXPORTS}. */
  kernel: 16 + 1024 + 256 * 17,
  /** Per block: which argument takes the running thread's own scratch address; −1 for none. */
  scratchArg: 16 + 1024 + 256 * 18,
  /** The most blocks one job holds. */
  maxBlocks: 256,
  /** Int32s of the whole board. */
  size: 16 + 1024 + 256 * 19,
} as const;

/**
 * Publishes `total` blocks whose table is written: thread t's share is blocks
 * [⌊t·total/threads⌋, ⌊(t+1)·total/threads⌋). No block can be taken before this.
 */
export function publishBlocks(control: Int32Array, total: number, threads: number): void {
  for (let share = 0; share < threads; share++) {
    const first = Math.floor((share * total) / threads);
    const end = Math.floor(((share + 1) * total) / threads);
    Atomics.store(control, JOB.share + share, (end << 16) | first);
  }
}

/**
 * Takes the next block for thread `slot`: from its own share while one is
 * left, then from the others' in turn. Returns the block, or −1 when none is left.
 */
export function takeBlock(control: Int32Array, slot: number): number {
  const shares = control[JOB.shares];
  for (let i = 0; i < shares; i++) {
    const at = JOB.share + (slot + i) % shares;
    for (;;) {
      const seen = Atomics.load(control, at);
      const next = seen & 0xffff;
      if (next >= seen >>> 16) break;
      if (Atomics.compareExchange(control, at, seen, seen + 1) === seen) return next;
    }
  }
  return -1;
}

/** Int32 offsets inside one worker's mailbox, after the job board. */
export const MAILBOX = {
  /** Int32 slots per mailbox (a cache line of its own, so workers never share one). */
  size: 16,
  /** Sequence number of the latest job; negative asks the worker to stop. */
  request: 0,
} as const;

/** Where thread `slot`'s mailbox starts in the control array. */
export function mailboxAt(slot: number): number {
  return JOB.size + slot * MAILBOX.size;
}

/** The exports of gemm.wasm a job can name (up to {@linkcode JOB.args} arguments). */
export const KERNEL_EXPORTS = [
  "gemm",
  "gemmSparseA",
  "gemmCsr",
  "sigmoidRange",
  "sgdRange",
  "nesterovRange",
  "adamRange",
  "reluRange",
  "reluBackwardRange",
  "sigmoidBackwardRange",
  "columnSums",
  "penaltyRange",
  "gemmCsrScatter",
  "logisticLossRange",
  "gemmSigmoidGated",
] as const;

/**
 * The kernels a job can name, in {@linkcode KERNEL_EXPORTS} order: each one's
 * native twin where `twins` has it (kernels/native.ts), else gemm.wasm's export.
 */
export function kernelTable(
  instance: WebAssembly.Instance,
  twins: Partial<Record<string, (...args: number[]) => void>>,
): ((...args: number[]) => void)[] {
  return KERNEL_EXPORTS.map((name) =>
    twins[name] ?? instance.exports[name] as (...args: number[]) => void
  );
}

/**
 * Calls `kernel` with the {@linkcode JOB.args} arguments at `base` of `table`,
 * the one at `scratchArg` (when ≥ 0) replaced by `scratch`. Spelled out: copying
 * them into an array to spread costs about 0.8 µs a call, 25 times as much.
 */
function callKernel(
  kernel: (...args: number[]) => void,
  table: Int32Array,
  base: number,
  scratchArg: number,
  scratch: number,
): void {
  const at = (i: number) => (i === scratchArg ? scratch : table[base + i]);
  kernel(
    at(0),
    at(1),
    at(2),
    at(3),
    at(4),
    at(5),
    at(6),
    at(7),
    at(8),
    at(9),
    at(10),
    at(11),
    at(12),
    at(13),
    at(14),
    at(15),
    at(16),
  );
}

/**
 * Takes blocks of the current job ({@linkcode takeBlock}) and runs them on
 * thread `slot` until none is left; returns how many it ran. A block's arguments are read only after
 * it was taken, so a thread that wakes late can only ever take blocks of a
 * job whose table is complete. A block that throws is marked failed and its
 * error handed to `onError`; the rest go on.
 */
export function runBlocks(
  control: Int32Array,
  slot: number,
  kernels: ((...args: number[]) => void)[],
  onError: (error: unknown) => void,
): number {
  let ran = 0;
  for (;;) {
    const next = takeBlock(control, slot);
    if (next < 0) return ran;
    Atomics.store(control, JOB.owner + next, slot);
    const base = JOB.table + next * JOB.args;
    let outcome = 1;
    try {
      const kernel = kernels[control[JOB.kernel + next]];
      callKernel(
        kernel,
        control,
        base,
        control[JOB.scratchArg + next],
        control[JOB.scratch + slot],
      );
    } catch (error) {
      outcome = -1;
      onError(error);
    }
    ran++;
    Atomics.store(control, JOB.done + next, outcome);
    Atomics.notify(control, JOB.done + next);
  }
}

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
  /** This worker's slot: its mailbox, its scratch. */
  slot: number;
  /** Whether the worker runs the native kernels where they have a twin, as the caller does. */
  native: boolean;
}
