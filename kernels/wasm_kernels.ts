/**
 * Fast kernels: the float32 WebAssembly SIMD gemm of kernels/assembly/gemm.ts,
 * run on the main thread plus `threads − 1` workers that share one
 * WebAssembly memory. Buffers from `alloc` live in that memory, so the
 * network's products run in place; other buffers are copied in and out.
 *
 * Each call shared among the threads splits C into blocks (up to four a
 * thread). Every element of C is summed in the same order whichever thread
 * computes it, so results are bit-identical for any thread count, and equal
 * to the reference kernel.
 *
 * @module
 */
import { type Floats, sigmoid as sigmoidOf } from "../model/activations.ts";
import {
  checkGemm,
  type GemmArgs,
  type Kernels,
  referenceGemm,
  type UpdateArgs,
} from "../model/kernels.ts";
import {
  JOB,
  KERNEL_EXPORTS,
  kernelTable,
  MAILBOX,
  mailboxAt,
  publishBlocks,
  runBlocks,
  waitForChange,
  type WorkerInit,
} from "./mailbox.ts";
import { openNativeKernels } from "./native.ts";

/** Options of {@linkcode createWasmKernels}. */
export interface WasmKernelOptions {
  /** Threads that share each product, the calling one included. @default {navigator.hardwareConcurrency} */
  threads?: number;
  /** Products with fewer multiply-adds than this run on the calling thread alone. @default {4194304} */
  minParallelWork?: number;
  /**
   * Share of zeros in A from which a product skips A's zeros (the sparse
   * kernel; same bits, less work on image pixels). 0 always, above 1 never.
   * @default {0.5}
   */
  sparseZeros?: number;
  /**
   * How long a product waits for a worker's block before it gives up with an
   * error (the worker died or hangs) and closes the kernels.
   * @default {60000}
   */
  timeoutMs?: number;
  /** How long the workers may take to load and say they are ready. @default {60000} */
  startTimeoutMs?: number;
  /** The worker's module (tests swap in one that misbehaves). @default {gemm_worker.ts} */
  workerModule?: URL;
  /**
   * Whether the native twins of the hottest kernels (kernels/native.ts) run
   * in place of theirs where they can: the same bits, faster.
   * @default {true}
   */
  native?: boolean;
}

/** The optional {@linkcode Kernels} methods that the WebAssembly kernels all offer. */
export type OfferedMethods =
  | "prepareRows"
  | "indexRows"
  | "sigmoid"
  | "activate"
  | "activateBackward"
  | "columnSums"
  | "alloc64"
  | "update"
  | "penalty"
  | "logisticLoss"
  | "logisticLossLater"
  | "gemmPair"
  | "free";

/** WebAssembly kernels with their workers; `close` stops the workers. */
export interface WasmKernels
  extends Omit<Kernels, OfferedMethods>, Required<Pick<Kernels, OfferedMethods>> {
  /** Threads in use, the calling one included. */
  readonly threads: number;
  /** The instruction set of the native kernels in use ("AVX-512", "AVX2", "SSE2"), or null for none. */
  readonly native: string | null;
  /** Stops the workers; the kernels must not be used afterwards. */
  close(): void;
  /**
   * Bytes of the buffers and indexes handed out and not yet freed, of the
   * kernels' own scratch (kept for the next product), and of the memory.
   */
  memoryBytes(): { buffers: number; scratch: number; reserved: number };
}

const PAGE = 65536;
/** The most WebAssembly memory the kernels can hold: 65 536 pages of 64 KiB, 4 GiB. */
export const MAX_KERNEL_BYTES: number = 65536 * PAGE;
const TILE_ROWS = 4;
const TILE_COLS = 8;
/**
 * From this many columns of C, threads split a forward index product by
 * columns: each thread then reads only its own columns of the layer's
 * weights, half the lines that the optimiser (on the other core) last wrote,
 * where a split by rows makes every thread read all of them (a line the other
 * core wrote costs more to fetch than the arithmetic on it). Narrower, by rows.
 */
const WIDE_COLUMNS = 256;

/**
 * Cuts [0, n) into `parts` runs at multiples of 16 (whole vectors and cache
 * lines), dropping empty runs: the same cuts for every product of the same
 * width, so each thread's share is the same columns.
 */
function columnRuns(n: number, parts: number): [number, number][] {
  const runs: [number, number][] = [];
  let from = 0;
  for (let part = 1; part <= parts; part++) {
    const to = part === parts ? n : Math.min(n, Math.round((part * n) / parts / 16) * 16);
    if (to > from) runs.push([from, to]);
    from = Math.max(from, to);
  }
  return runs;
}

/**
 * Bytes of scratch a dense product's block needs for k terms: the
 * WebAssembly kernel packs B into k rows of 12 columns (48 bytes) and a spill
 * row; its native twin, B transposed into k rows of four vectors of up to 16
 * lanes (256 bytes).
 */
function denseScratch(k: number): number {
  return k * 256 + 64;
}

/**
 * Up to this size in bytes, a transposed index product's C (a weight
 * gradient, 157 KB for 784 × 50) stays in the L2 cache, so its terms are
 * scattered into it rather than first bucketed by its row.
 */
const SCATTER_BYTES = 512 * 1024;

/**
 * Up to this many columns, a scattered product sums a mostly-zero B's columns
 * one at a time in a scratch of its own (gemmCsrScatter's scatterColumns), and
 * its threads split C by columns.
 */
const SCATTER_COLUMNS = 64;

const SCATTER_KERNEL = KERNEL_EXPORTS.indexOf("gemmCsrScatter");
const PENALTY_KERNEL = KERNEL_EXPORTS.indexOf("penaltyRange");
const RELU_BACKWARD_KERNEL = KERNEL_EXPORTS.indexOf("reluBackwardRange");
/**
 * ReLU and its backward, priced as 64 multiply-adds an element, so a wide
 * layer's (from 65 536 values, against four million for sharing) is shared:
 * each line of dz was last read on both cores (by the weight gradient), so
 * writing it waits for the other core to drop its copy, and two threads wait
 * in parallel (128 × 800: 74-78 → 55-58 µs); z comes from a forward product
 * split by columns, half of it from the other core (wide epochs on two
 * threads 1.5–3% faster, trained alternately in one process).
 */
const RELU_COST = 64;
/** The widest C that counts as a layer of classes: 10 for MNIST, 12 at most in one 3×12 tile. */
const NARROW_COLUMNS = 12;
/**
 * How much more a plain product into a layer of classes counts toward
 * sharing (wide and textbook epochs on two threads about 1% faster, trained
 * alternately in one process: the 128 × 800 · 800 × 10 forward now shared).
 */
const NARROW_SHARE = 8;
/**
 * Multiply-adds that one element of a sigmoid-gated product costs, as the
 * split counts them: mostly a gate test, the sum being skipped for a
 * saturated unit (the textbook's 1 200 × 50 gradient then stays on one thread,
 * beside its weight gradient's product on the other).
 */
const SIGMOID_GATE_COST = 8;
/** Which of gemmSigmoidGated's arguments is its thread's scratch. */
const SIGMOID_GATED_SCRATCH = 13;
const LOGISTIC_KERNEL = KERNEL_EXPORTS.indexOf("logisticLossRange");
const SIGMOID_GATED_KERNEL = KERNEL_EXPORTS.indexOf("gemmSigmoidGated");
/** logisticLossRange's `passes`: the sigmoids and gradients, the costs, or both. */
const LOSS_PASSES = { forward: 1, cost: 2, both: 3 } as const;

/** Blocks of another kernel that a job runs beside its own, on the threads its own leave idle. */
interface Beside {
  /** Their kernel: an index into KERNEL_EXPORTS. */
  kernel: number;
  /** Their arguments. */
  blocks: number[][];
  /** Which argument becomes the running thread's scratch; none when absent. */
  scratchArg?: number;
}

/** A logistic cost whose second pass was left for later: see logisticLossLater. */
interface PendingCost {
  /** The loss kernel's buffer arguments (see lossArgs). */
  args: number[];
  /** Units. */
  n: number;
  /** Where the units' costs land. */
  terms: number;
  /** Whether the second pass has run. */
  ran: boolean;
  /** The cost, once summed. */
  loss: number | null;
}

let compiled: WebAssembly.Module | undefined;

/** Compiles gemm.wasm once per process. */
async function kernelModule(): Promise<WebAssembly.Module> {
  if (!compiled) {
    const bytes = await Deno.readFile(new URL("./gemm.wasm", import.meta.url));
    compiled = await WebAssembly.compile(bytes);
  }
  return compiled;
}

/** The share of zeros among up to 1024 evenly spaced entries of `array[0..length)`. */
function zeroFraction(array: Float32Array, length: number): number {
  if (length === 0) return 0;
  const step = Math.max(1, Math.floor(length / 1024));
  let zeros = 0, seen = 0;
  for (let i = 0; i < length; i += step, seen++) if (array[i] === 0) zeros++;
  return zeros / seen;
}

/** Threads to use by default: every core. */
export function defaultThreads(): number {
  return Math.max(1, navigator.hardwareConcurrency || 1);
}

/**
 * Starts the WebAssembly kernels on `threads` threads (the caller plus
 * workers), resolving once every worker is ready.
 */
export async function createWasmKernels(options: WasmKernelOptions = {}): Promise<WasmKernels> {
  // Waking a worker takes about 50 µs, the time of a million multiply-adds or so:
  // below four million, sharing a product costs more than it saves.
  const {
    threads = defaultThreads(),
    minParallelWork = 1 << 22,
    sparseZeros = 0.5,
    timeoutMs = 60_000,
    startTimeoutMs = 60_000,
    workerModule = new URL("./gemm_worker.ts", import.meta.url),
    native = true,
  } = options;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new RangeError(
      `Cannot start kernels as threads must be an integer from 1 to 256: current value is ${threads}`,
    );
  }
  const module = await kernelModule();
  const memory = new WebAssembly.Memory({
    initial: 64,
    maximum: MAX_KERNEL_BYTES / PAGE,
    shared: true,
  });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  // The allocator below never hands out the first page, where the constants live.
  const staticEnd = (instance.exports.staticEnd as () => number)();
  if (staticEnd > PAGE) {
    throw new Error(
      `Cannot start kernels as their static data must fit in the memory's first page (${PAGE} ` +
        `bytes): gemm.wasm's ends at byte ${staticEnd}. Hint: shrink its constant tables`,
    );
  }
  const nativeKernels = native ? openNativeKernels() : null;
  const exported = kernelTable(instance, nativeKernels?.bind(memory) ?? {});
  const control = new Int32Array(new SharedArrayBuffer(mailboxAt(threads) * 4));
  control[JOB.shares] = threads;

  const workers: Worker[] = [];
  // A worker that fails after it started is remembered here, so the next product says so at once.
  let failure = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const ready: Promise<void>[] = [];
    for (let slot = 1; slot < threads; slot++) {
      const worker = new Worker(workerModule.href, { type: "module" });
      workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          let started = false;
          worker.onmessage = () => {
            started = true;
            resolve();
          };
          worker.onerror = (event) => {
            event.preventDefault();
            if (started) {
              failure ||= `kernel worker ${slot} failed: ${event.message}`;
              return;
            }
            reject(
              new Error(
                `Cannot start kernel worker ${slot} as its module must load: ${event.message}`,
              ),
            );
          };
        }),
      );
      const init: WorkerInit = { module, memory, control, slot, native: nativeKernels !== null };
      worker.postMessage(init);
    }
    await Promise.race([
      Promise.all(ready),
      new Promise((_, reject) => {
        timer = setTimeout(() =>
          reject(
            new Error(
              `Cannot start kernels as every worker must be ready within ${startTimeoutMs} ms: ` +
                "some never answered. Hint: try --threads 1",
            ),
          ), startTimeoutMs);
      }),
    ]);
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  } finally {
    clearTimeout(timer);
  }

  // Blocks of whole 64-byte lines: first fit among the freed ones, else past the last.
  // Page 0 holds the kernels' static data (constants they load from fixed addresses) and is
  // never handed out, so no buffer ever starts at address 0 or overwrites those constants.
  let top = PAGE, highWater = PAGE;
  const ours = new Set<ArrayBufferLike>([memory.buffer]);
  const live = new Map<number, number>();
  // The kernels' own scratch, staging and settings blocks: kept and regrown, never handed out.
  const internal = new Set<number>();
  const holes: { at: number; bytes: number }[] = []; // sorted by address, never adjacent
  const reserve = (size: number): number => {
    const bytes = Math.max(64, Math.ceil(size / 64) * 64);
    let start = -1;
    const fit = holes.findIndex((hole) => hole.bytes >= bytes);
    if (fit >= 0) {
      start = holes[fit].at;
      if (holes[fit].bytes === bytes) holes.splice(fit, 1);
      else holes[fit] = { at: start + bytes, bytes: holes[fit].bytes - bytes };
    } else {
      start = top;
      const have = memory.buffer.byteLength;
      // 64 bytes of slack past the last buffer: the sparse kernels' last vector may read 12 past a row.
      if (start + bytes + 64 > have) {
        memory.grow(Math.ceil((start + bytes + 64 - have) / PAGE));
        ours.add(memory.buffer);
      }
      top = start + bytes;
    }
    // Freed memory (a hole, or the top come back down) holds old values: alloc promises zeros.
    // Past the high-water mark the memory was never written, so zero already.
    const used = Math.min(start + bytes, highWater) - start;
    if (used > 0) new Uint8Array(memory.buffer, start, used).fill(0);
    highWater = Math.max(highWater, start + bytes);
    live.set(start, bytes);
    return start;
  };
  const release = (at: number): void => {
    const bytes = live.get(at);
    if (bytes === undefined) {
      throw new RangeError(
        `Cannot free kernel memory at byte ${at} as it must be a live buffer from alloc: it is not ` +
          "(freed twice, or a view into one). Hint: free the array alloc returned, once",
      );
    }
    live.delete(at);
    let index = holes.findIndex((hole) => hole.at > at);
    if (index < 0) index = holes.length;
    holes.splice(index, 0, { at, bytes });
    // Merge with the next hole, then the previous one, then give the last hole back to the top.
    if (index + 1 < holes.length && at + bytes === holes[index + 1].at) {
      holes[index].bytes += holes[index + 1].bytes;
      holes.splice(index + 1, 1);
    }
    if (index > 0 && holes[index - 1].at + holes[index - 1].bytes === at) {
      holes[index - 1].bytes += holes[index].bytes;
      holes.splice(index, 1);
    }
    const last = holes[holes.length - 1];
    if (last && last.at + last.bytes === top) {
      top = last.at;
      holes.pop();
    }
  };
  const view = (offset: number, length: number) => new Float32Array(memory.buffer, offset, length);

  // Per-thread scratch and staging areas for arrays outside the memory, grown on demand.
  type Area = { at: number; bytes: number };
  const scratch = new Array<Area>(threads).fill({ at: 0, bytes: 0 });
  const staging: Record<"a" | "b" | "c" | "bias" | "rows" | "terms", Area> = {
    terms: { at: 0, bytes: 0 },
    bias: { at: 0, bytes: 0 },
    a: { at: 0, bytes: 0 },
    b: { at: 0, bytes: 0 },
    c: { at: 0, bytes: 0 },
    rows: { at: 0, bytes: 0 },
  };
  /** Makes every thread's scratch hold at least `bytes`. */
  const reserveScratch = (bytes: number) => {
    for (let slot = 0; slot < threads; slot++) scratch[slot] = area(scratch[slot], bytes);
  };
  const area = (current: Area, bytes: number) => {
    if (current.bytes >= bytes) return current;
    if (current.bytes > 0) {
      internal.delete(current.at);
      release(current.at);
    }
    const at = reserve(bytes);
    internal.add(at);
    return { at, bytes };
  };
  const place = (
    array: Float32Array,
    role: "a" | "b" | "c" | "bias",
    length: number,
    copy: boolean,
  ) => {
    if (ours.has(array.buffer)) return array.byteOffset;
    staging[role] = area(staging[role], length * 4);
    if (copy) view(staging[role].at, length).set(array.subarray(0, length));
    return staging[role].at;
  };

  /**
   * Sparse copies (CSR) of arrays read through `aRows`, made by `prepareRows`,
   * and of rows indexed by `indexRows` (keyed by an empty handle: `dense` false).
   */
  const prepared = new WeakMap<
    Float32Array,
    {
      rowStart: number;
      idx: number;
      val: number;
      zeros: number;
      rows: number;
      cols: number;
      dense: boolean;
      /** Terms in columns [0, j), for j from 0 to cols. */
      before: Float64Array;
    }
  >();

  /** How many of `count` terms (their columns at `idx`) lie in columns [0, j), for each j ≤ cols. */
  const termsBefore = (idx: number, count: number, cols: number): Float64Array => {
    const before = new Float64Array(cols + 1);
    const columns = new Int32Array(memory.buffer, idx, count);
    for (let t = 0; t < count; t++) before[columns[t] + 1]++;
    for (let j = 0; j < cols; j++) before[j + 1] += before[j];
    return before;
  };

  /**
   * Cuts C's rows [0, m) of a transposed index product (A's columns) into
   * `parts` runs holding about as many of the index's terms each, where equal
   * runs would not: an image's top rows hold fewer strokes than its bottom
   * ones (MNIST: 47% of the terms in the first half of the pixels).
   */
  const runsByTerms = (before: Float64Array, m: number, parts: number): [number, number][] => {
    const runs: [number, number][] = [];
    let from = 0;
    for (let part = 1; part <= parts; part++) {
      const target = (before[m] * part) / parts;
      let to = part === parts ? m : from;
      while (to < m && before[to] < target) to++;
      // At least one row each, and one left for each run after this one (m ≥ parts).
      to = Math.min(Math.max(to, from + 1), m - (parts - part));
      runs.push([from, to]);
      from = to;
    }
    return runs;
  };

  let sequence = 0;
  let closed = false;

  /**
   * Runs `blocks` with kernel `kernel`: one block on this thread alone; more
   * through the job board, on every thread that is awake to take them, each
   * thread first its own share (see publishBlocks). When
   * `scratchArg` ≥ 0, that argument becomes the running thread's own scratch
   * (which the caller made large enough for any block). `beside`'s blocks,
   * of its own kernel, come after them on the board, in the last threads'
   * shares. Then copies a staged C back.
   */
  const dispatch = (
    kernel: number,
    blocks: number[][],
    c: Float32Array | null,
    cAt: number,
    length: number,
    scratchArg = -1,
    beside: Beside | null = null,
  ) => {
    if (blocks.length === 1 && !beside) {
      if (scratchArg >= 0) blocks[0][scratchArg] = scratch[0].at;
      exported[kernel](...blocks[0]);
      if (c && !ours.has(c.buffer)) c.set(view(cAt, length));
      return;
    }
    if (failure) {
      closeAll();
      throw new Error(
        `Cannot compute as every kernel worker must be alive: ${failure}. The kernels are now ` +
          "closed. Hint: rerun, or use --threads 1",
      );
    }
    const all = beside ? [...blocks, ...beside.blocks] : blocks;
    const total = all.length;
    for (let slot = 0; slot < threads; slot++) control[JOB.scratch + slot] = scratch[slot].at;
    all.forEach((block, b) => {
      const own = b < blocks.length;
      control.set(block, JOB.table + b * JOB.args);
      control[JOB.kernel + b] = own ? kernel : beside!.kernel;
      control[JOB.scratchArg + b] = own ? scratchArg : beside!.scratchArg ?? -1;
      control[JOB.done + b] = 0;
      control[JOB.owner + b] = -1;
    });
    publishBlocks(control, total, threads);
    // Positive and below 2^30, however long training runs: negative requests stop workers.
    sequence = sequence % 0x3fffffff + 1;
    for (let slot = 1; slot < threads; slot++) {
      Atomics.store(control, mailboxAt(slot) + MAILBOX.request, sequence);
      Atomics.notify(control, mailboxAt(slot) + MAILBOX.request);
    }
    let thrown: unknown = undefined, caught = false;
    runBlocks(control, 0, exported, (error) => {
      if (!caught) [thrown, caught] = [error, true];
    });
    // Every block taken is finished before anything returns or throws, so no later job can
    // rewrite the table under a thread; a thread that never finishes its block (it died or
    // hangs) is stopped with the rest, so none can write there later either.
    const deadline = performance.now() + timeoutMs;
    let failed = -1, silent = -1;
    for (let b = 0; b < total && silent < 0; b++) {
      let seen = Atomics.load(control, JOB.done + b);
      while (seen === 0) {
        seen = waitForChange(control, JOB.done + b, 0, deadline);
        if (seen === 0 && performance.now() >= deadline) {
          silent = b;
          break;
        }
      }
      if (seen === -1 && failed < 0) failed = control[JOB.owner + b];
    }
    if (silent >= 0) {
      closeAll();
      throw new Error(
        `Cannot compute as kernel worker ${Atomics.load(control, JOB.owner + silent)} must ` +
          `finish its block within ${timeoutMs} ms: ` +
          `it did not${failure ? ` (${failure})` : " (it died or hangs)"}. The kernels are now ` +
          "closed. Hint: rerun, or use --threads 1",
      );
    }
    if (caught) throw thrown;
    if (failed > 0) {
      throw new Error(
        `Cannot compute as kernel worker ${failed} must finish its block: it failed ` +
          "(its error is printed above)",
      );
    }
    if (c && !ours.has(c.buffer)) c.set(view(cAt, length));
  };

  /**
   * Splits `tiles` tiles into blocks when `work` is worth sharing: `perThread`
   * blocks per thread, so a thread the host has descheduled leaves its share to
   * the others instead of holding everyone up. [from, to) per block.
   */
  const split = (tiles: number, work: number, perThread = 4): [number, number][] => {
    const parts = work < minParallelWork || threads === 1
      ? 1
      : Math.max(1, Math.min(threads * perThread, tiles, JOB.maxBlocks));
    return Array.from({ length: parts }, (_, part) => [
      Math.floor((tiles * part) / parts),
      Math.floor((tiles * (part + 1)) / parts),
    ]);
  };

  const checkOpen = (action: string) => {
    if (closed) {
      throw new Error(
        `Cannot ${action} as the kernels must be open: they were closed. ` +
          "Hint: create new kernels with createWasmKernels()",
      );
    }
  };

  /**
   * Whether a product may list A's non-zero terms (the sparse kernel, when
   * enough of A is zero): listing pays off only over rows of C wide enough to
   * reuse each list, not for 10 classes; a transposed A costs a pass to list,
   * which pays off only over wider rows still.
   */
  const listFits = ({ n, transA = false, transB = false }: GemmArgs) =>
    !transB && (sparseZeros === 0 || n >= (transA ? 64 : 16));

  /** Whether a product of a plain A (no index) takes the sparse kernel, not the dense one. */
  const listsTerms = (args: GemmArgs) =>
    listFits(args) && zeroFraction(args.a as Float32Array, args.m * args.k) >= sparseZeros;

  /** The arguments of the dense or sparse kernel for C's rows [i0, i1) and columns [j0, j1). */
  const productBlock = (
    { m, n, k, transA = false, transB = false, accumulate = false }: GemmArgs,
    aAt: number,
    bAt: number,
    cAt: number,
    i0: number,
    i1: number,
    j0: number,
    j1: number,
    biasAt = 0,
    gateAt = 0,
  ): number[] => {
    const aRow = transA ? 1 : k, aCol = transA ? m : 1;
    const bRow = transB ? 1 : n, bCol = transB ? k : 1;
    const add = accumulate ? 1 : 0;
    return [i0, i1, j0, j1, k, aAt, aRow, aCol, bAt, bRow, bCol, cAt, n, add, 0, biasAt, gateAt];
  };

  /** activateBackward("relu") on a product's C, in place: +0 where the gate is ≤ 0. */
  const gateAfter = (gate: Floats, c: Float32Array, n: number) => {
    if (gate instanceof Float32Array && inMemory(n, gate, c)) {
      elementwise(RELU_BACKWARD_KERNEL, n, RELU_COST, [gate, c, c]);
      return;
    }
    for (let i = 0; i < n; i++) if (gate[i] <= 0) c[i] = 0;
  };

  const gemm = (args: GemmArgs): void => {
    checkOpen("multiply matrices");
    const { m, n, k, a, b, c, transA = false, transB = false, accumulate = false, aRows } = args;
    const { bias } = args;
    if (
      !(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array) ||
      (bias && !(bias instanceof Float32Array))
    ) {
      referenceGemm(args);
      return;
    }
    const handle = prepared.get(a);
    const indexOnly = handle !== undefined && !handle.dense;
    checkGemm(args, indexOnly ? handle.rows * handle.cols : a.length);
    if (m === 0 || n === 0) return;
    if (args.sigmoidGate) {
      const blocks = sigmoidGatedBlocks(args);
      if (blocks) {
        reserveScratch(sigmoidGatedScratch(args));
        dispatch(SIGMOID_GATED_KERNEL, blocks, c, c.byteOffset, m * n, SIGMOID_GATED_SCRATCH);
      } else {
        referenceGemm(args);
      }
      return;
    }
    const { reluGate } = args;
    // Only the dense kernel gates C as it stores it: elsewhere, the product and then the gate.
    const gatedByKernel = reluGate instanceof Float32Array && ours.has(reluGate.buffer) &&
      ours.has(c.buffer) && !aRows && !listsTerms(args);
    if (reluGate && !gatedByKernel) {
      gemm({ ...args, reluGate: undefined });
      gateAfter(reluGate, c, m * n);
      return;
    }
    // The kernels add a bias row as they store C where A is read untransposed; else C takes it first.
    if (bias && transA) {
      const row = bias.length === n ? bias : bias.subarray(0, n);
      for (let i = 0; i < m; i++) c.set(row, i * n);
      gemm({ ...args, bias: undefined, accumulate: true });
      return;
    }
    const sparseFits = listFits(args);

    if (aRows) {
      const stored = transA ? k : m, width = transA ? m : k;
      const indexed = prepared.get(a);
      // The index serves only products that read `a` with the width it was built for; it lists
      // a transposed A's terms cheaply, so here the width of C does not matter.
      const csr = indexed?.cols === width && aRows.subarray(0, stored).every((r) =>
          r < indexed.rows
        )
        ? indexed
        : undefined;
      if (indexOnly && (!csr || transB)) {
        throw new Error(
          "Cannot multiply matrices as rows indexed by indexRows() can only be read through " +
            `their index, with rows of ${handle.cols} and B not transposed: the product asks ` +
            `for rows of ${width}${transB ? " with B transposed" : ""}`,
        );
      }
      if (!csr || transB || (!indexOnly && csr.zeros < sparseZeros)) {
        // No index to use: gather the rows, then multiply as usual (the same bits either way).
        staging.rows = area(staging.rows, stored * width * 4);
        const gathered = view(staging.rows.at, stored * width);
        for (let r = 0; r < stored; r++) {
          gathered.set(a.subarray(aRows[r] * width, (aRows[r] + 1) * width), r * width);
        }
        gemm({ ...args, a: gathered, aRows: undefined });
        return;
      }
      staging.a = area(staging.a, stored * 4);
      new Uint32Array(memory.buffer, staging.a.at, stored).set(aRows.subarray(0, stored));
      const bAt = place(b, "b", k * n, true);
      const cAt = place(c, "c", m * n, accumulate);
      const biasAt = bias ? place(bias as Float32Array, "bias", n, true) : 0;
      const work = m * n * k * (1 - csr.zeros);
      // Small enough a C to stay in cache: each stored row's terms scatter straight into C.
      const scatter = transA && !accumulate && m * n * 4 <= SCATTER_BYTES;
      // Transposed, every block lists its rows' terms from all k stored rows: one block per thread.
      // (Two a thread, so the thread done first could take one of the other's, waited less but
      // made the wide epoch 1-4% slower, trained alternately in one process.)
      const perThread = transA ? 1 : 4;
      // Transposed, by rows: a split by columns would list every term on every thread.
      const byColumns = !transA && threads > 1 && n >= WIDE_COLUMNS && work >= minParallelWork;
      const rowRuns = split(Math.ceil(m / TILE_ROWS), work, perThread).map(([from, to]) =>
        [from * TILE_ROWS, Math.min(m, to * TILE_ROWS)] as [number, number]
      );
      // Transposed, C's rows are A's columns: cut where the terms are shared evenly (the wide
      // weight gradient on two threads: 1% faster epochs, trained alternately in one process).
      const runs = transA && rowRuns.length > 1
        ? runsByTerms(csr.before, m, rowRuns.length)
        : rowRuns;
      const parts = byColumns
        ? columnRuns(n, threads * perThread).map(([j0, j1]) => [0, m, j0, j1])
        : runs.map(([i0, i1]) => [i0, i1, 0, n]);
      if (scatter) {
        // No pass to bucket the terms by C's row, on the same rows per thread; the scratch holds
        // the block transposed, where a mostly-zero B's columns sum one at a time.
        const rest = [k, csr.rowStart, csr.idx, csr.val, staging.a.at, bAt, n, cAt, n, 0];
        // A narrow C (a saturated sigmoid layer's gradient: the textbook's 50 columns, 98% zeros)
        // is split by columns, each thread summing the stored rows' terms into its own: split by
        // C's rows, every thread walked every stored row, and two threads were hardly faster
        // than one (textbook epochs on two threads 11-14% faster, trained alternately in one
        // process, against one thread with the logistic costs' pass beside it).
        const narrow = n <= SCATTER_COLUMNS && parts.length > 1;
        const blocks = narrow
          ? split(n, Infinity, 1).map(([j0, j1]) => [0, m, j0, j1, ...rest])
          : parts.map((part) => [...part, ...rest]);
        if (n <= SCATTER_COLUMNS) reserveScratch(m * n * 4);
        dispatch(SCATTER_KERNEL, blocks, c, cAt, m * n, 13);
        return;
      }
      let need = 0;
      const blocks = parts.map(([i0, i1, j0, j1]) => {
        need = Math.max(need, 8 * (i1 - i0 + 1) * (k + 1));
        const acc = accumulate ? 1 : 0;
        const rows = [
          i0,
          i1,
          j0,
          j1,
          k,
          csr.rowStart,
          csr.idx,
          csr.val,
          staging.a.at,
          transA ? 1 : 0,
        ];
        return [...rows, bAt, n, cAt, n, acc, 0, biasAt];
      });
      reserveScratch(need);
      dispatch(2, blocks, c, cAt, m * n, 15);
      return;
    }

    const aAt = place(a, "a", m * k, true);
    const bAt = place(b, "b", k * n, true);
    const cAt = place(c, "c", m * n, accumulate);
    const biasAt = bias ? place(bias as Float32Array, "bias", n, true) : 0;
    const zeros = sparseFits ? zeroFraction(a, m * k) : 0;
    const sparse = sparseFits && zeros >= sparseZeros;
    const gateAt = reluGate ? (reluGate as Float32Array).byteOffset : 0;
    // The sparse kernel splits C by rows, so no thread scans another's part of A.
    const byColumns = !sparse && n >= m;
    const tiles = byColumns ? Math.ceil(n / TILE_COLS) : Math.ceil(m / TILE_ROWS);
    let need = 0;
    // A layer's forward into at most 12 columns (the classes) reads rows of A that the threads
    // just wrote in the same halves (the hidden activations, split by rows): shared from an
    // eighth of the work that pays elsewhere, as no line crosses cores.
    const narrowForward = !sparse && !transA && !transB && n <= NARROW_COLUMNS;
    const work = m * n * k * (sparse ? 1 - zeros : 1) * (narrowForward ? NARROW_SHARE : 1);
    const blocks = split(tiles, work).map(([from, to]) => {
      const [i0, i1, j0, j1] = byColumns
        ? [0, m, from * TILE_COLS, Math.min(n, to * TILE_COLS)]
        : [from * TILE_ROWS, Math.min(m, to * TILE_ROWS), 0, n];
      // Sparse: the lists of A's non-zero terms; dense: one packed panel of B and a spill row.
      need = Math.max(need, sparse ? 8 * (i1 - i0 + 1) * (k + 1) : denseScratch(k));
      return productBlock(args, aAt, bAt, cAt, i0, i1, j0, j1, biasAt, gateAt);
    });
    reserveScratch(need);
    dispatch(sparse ? 1 : 0, blocks, c, cAt, m * n, 14);
  };

  /**
   * The dense block of a product too small to share, over all of C, or null
   * when the product is not one: buffers outside the memory, an index, a
   * sparse A, or enough work to split among the threads.
   */
  const wholeDenseBlock = (args: GemmArgs): number[] | null => {
    const { m, n, k, a, b, c } = args;
    if (
      args.aRows || args.bias || args.sigmoidGate || m === 0 || n === 0 || k === 0 ||
      m * n * k >= minParallelWork
    ) {
      return null;
    }
    if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) {
      return null;
    }
    if (![a, b, c].every((x) => ours.has(x.buffer)) || prepared.has(a)) return null;
    if (listsTerms(args)) return null;
    const gate = args.reluGate;
    if (gate && !(gate instanceof Float32Array && ours.has(gate.buffer))) return null;
    checkGemm(args);
    const gateAt = gate ? gate.byteOffset : 0;
    return productBlock(args, a.byteOffset, b.byteOffset, c.byteOffset, 0, m, 0, n, 0, gateAt);
  };

  /** Bytes of scratch a sigmoid-gated product's block packs B into: k rows of n rounded up to 4. */
  const sigmoidGatedScratch = ({ n, k }: GemmArgs) => k * Math.ceil(n / 4) * 16;

  /**
   * The blocks of a sigmoid-gated product (C's rows cut among the threads), or
   * null when a buffer lies outside the memory or A's rows are picked by index.
   * The caller checks the arguments.
   */
  const sigmoidGatedBlocks = (args: GemmArgs): number[][] | null => {
    const { m, n, k, a, b, c, sigmoidGate, transA = false, transB = false } = args;
    const inside = [a, b, c, sigmoidGate].every((x) =>
      x instanceof Float32Array && ours.has(x.buffer)
    );
    if (!inside || args.aRows || prepared.has(a as Float32Array)) return null;
    const aRow = transA ? 1 : k, aCol = transA ? m : 1;
    const bRow = transB ? 1 : n, bCol = transB ? k : 1;
    const [aAt, bAt, cAt, gateAt] = [a, b, c, sigmoidGate].map((x) =>
      (x as Float32Array).byteOffset
    );
    // Most of a saturated layer's sums are skipped: the work is about one gate test an element.
    return split(m, m * n * SIGMOID_GATE_COST).map((
      [i0, i1],
    ) => [i0, i1, m, n, k, aAt, aRow, aCol, bAt, bRow, bCol, gateAt, cAt, 0]);
  };

  const gemmPair = (first: GemmArgs, second: GemmArgs): boolean => {
    checkOpen("multiply matrices");
    if (threads < 2) return false;
    if (second.sigmoidGate) {
      // The gated product beside the other one's dense block, each on a thread of its own.
      const dense = wholeDenseBlock(first), gated = sigmoidGatedBlocks(second);
      if (dense === null || gated === null) return false;
      checkGemm(second);
      reserveScratch(Math.max(denseScratch(first.k), sigmoidGatedScratch(second)));
      dispatch(0, [dense], first.c as Float32Array, 0, 0, 14, {
        kernel: SIGMOID_GATED_KERNEL,
        blocks: gated,
        scratchArg: SIGMOID_GATED_SCRATCH,
      });
      return true;
    }
    const blocks = [wholeDenseBlock(first), wholeDenseBlock(second)];
    if (blocks[0] === null || blocks[1] === null) return false;
    // Each block packs one panel of B (up to k·48 bytes) and a spill row in its thread's scratch.
    reserveScratch(denseScratch(Math.max(first.k, second.k)));
    dispatch(0, blocks as number[][], first.c as Float32Array, 0, 0, 14);
    return true;
  };

  /** Elementwise sigmoid, in place in the memory (else the TypeScript twin), shared by the threads. */
  const sigmoid = (z: Float32Array, a: Float32Array, n: number): void => {
    checkOpen("compute sigmoids");
    if (n <= 0) return;
    if (!ours.has(z.buffer) || !ours.has(a.buffer) || z.length < n || a.length < n) {
      for (let i = 0; i < n; i++) a[i] = sigmoidOf(z[i]);
      return;
    }
    // A sigmoid (float64 exp, two divisions) costs about as much as 100 multiply-adds.
    const blocks = split(Math.ceil(n / 1024), n * 100).map(([from, to]) => [
      from * 1024,
      Math.min(n, to * 1024),
      z.byteOffset,
      a.byteOffset,
    ]);
    dispatch(3, blocks, a, a.byteOffset, 0);
  };

  // The optimisers' float64 settings, written before each step: see kernels/assembly/optimizers.ts.
  const hyper = reserve(10 * 8);
  internal.add(hyper);
  const RULES = { sgd: 4, nesterov: 5, adam: 6 } as const;
  // Multiply-adds one element's update costs about as much as (Adam divides twice and takes a root).
  const RULE_WORK = { sgd: 4, nesterov: 6, adam: 30 } as const;

  /** One optimiser step in the memory, shared by the threads; false when a buffer is elsewhere. */
  const update = (args: UpdateArgs): boolean => {
    checkOpen("update parameters");
    const { rule, params, grad, first, second, size } = args;
    const buffers = rule === "adam" ? [params, grad, first, second] : [params, grad, first];
    if (!buffers.every((b) => ours.has(b.buffer) && b.length >= size)) return false;
    if (size <= 0) return true;
    new Float64Array(memory.buffer, hyper, 10).set([
      args.eta,
      args.momentum,
      1 + args.momentum,
      ...args.adam,
    ]);
    // Blocks of 64 elements: no two threads ever share a cache line of any buffer.
    // From 32 K parameters, shared even when the arithmetic alone would not pay for it: the
    // threads wrote the gradient, each its own part, and each updating the part it wrote
    // moves fewer cache lines between cores (textbook step: 125 → 80 µs on two threads).
    const work = size >= 1 << 15 ? Infinity : size * RULE_WORK[rule];
    const blocks = split(Math.ceil(size / 64), work).map(([from, to]) => {
      const range = [from * 64, Math.min(size, to * 64), params.byteOffset, grad.byteOffset];
      return rule === "adam"
        ? [...range, first.byteOffset, second.byteOffset, hyper]
        : [...range, first.byteOffset, hyper];
    });
    dispatch(RULES[rule], blocks, params, params.byteOffset, 0);
    return true;
  };

  /** Whether every buffer lives in the memory and holds at least n values. */
  const inMemory = (n: number, ...buffers: Float32Array[]) =>
    buffers.every((b) => ours.has(b.buffer) && b.length >= n);

  /** Runs an elementwise kernel over [0, n), cut among the threads; `cost` multiply-adds each. */
  const elementwise = (kernel: number, n: number, cost: number, buffers: Float32Array[]) => {
    // Blocks of 64 values: no two threads ever write to the same cache line.
    const blocks = split(Math.ceil(n / 64), n * cost).map(([from, to]) => [
      from * 64,
      Math.min(n, to * 64),
      ...buffers.map((b) => b.byteOffset),
    ]);
    dispatch(kernel, blocks, buffers[buffers.length - 1], 0, 0);
  };

  const activate: WasmKernels["activate"] = (kind, z, a, n) => {
    checkOpen("compute activations");
    if (kind === "sigmoid") {
      sigmoid(z, a, n);
      return true;
    }
    if (kind !== "relu" || !inMemory(n, z, a)) return false;
    if (n > 0) elementwise(7, n, RELU_COST, [z, a]);
    return true;
  };

  const activateBackward: WasmKernels["activateBackward"] = (kind, z, a, da, dz, n) => {
    checkOpen("compute activation gradients");
    if (kind === "relu" && inMemory(n, z, da, dz)) {
      if (n > 0) elementwise(RELU_BACKWARD_KERNEL, n, RELU_COST, [z, da, dz]);
      return true;
    }
    if (kind === "sigmoid" && inMemory(n, a, da, dz)) {
      if (n > 0) elementwise(9, n, 3, [a, da, dz]);
      return true;
    }
    return false;
  };

  const columnSums = (x: Float32Array, rows: number, cols: number, sums: Float32Array) => {
    checkOpen("sum columns");
    if (!inMemory(rows * cols, x) || !inMemory(cols, sums)) return false;
    if (rows === 0 || cols === 0) return true;
    // Blocks of 16 columns (64 bytes of sums).
    const blocks = split(Math.ceil(cols / 16), rows * cols).map(([from, to]) => [
      from * 16,
      Math.min(cols, to * 16),
      rows,
      cols,
      x.byteOffset,
      sums.byteOffset,
    ]);
    dispatch(10, blocks, sums, 0, 0);
    return true;
  };

  // The penalty's float64 block: the running sums in and out, then l1/2 and l2.
  const sums = reserve(4 * 8);
  internal.add(sums);
  const penaltyKernel = exported[PENALTY_KERNEL];

  /**
   * The penalty in one block: its sums run in index order, so it is not
   * shared. On two threads, a pending logistic cost's pass runs beside it, on
   * the thread it leaves idle (textbook step: 2 × 40 K weights and 12 K costs).
   */
  const penalty: WasmKernels["penalty"] = (weights, grad, n, l1, l2, abs, squares) => {
    checkOpen("add the weight penalty");
    if (!inMemory(n, weights, grad)) return null;
    const block = new Float64Array(memory.buffer, sums, 4);
    block.set([abs, squares, l1 / 2, l2]);
    const beside = threads === 2 ? pendingBeside() : null;
    if (beside) {
      dispatch(
        PENALTY_KERNEL,
        [[0, n, weights.byteOffset, grad.byteOffset, sums]],
        null,
        0,
        0,
        -1,
        beside,
      );
      // Marked as run only once it has: if the job failed, asking for the cost runs it.
      pending!.ran = true;
    } else {
      penaltyKernel(0, n, weights.byteOffset, grad.byteOffset, sums);
    }
    return [block[0], block[1]];
  };

  // The logistic loss's float64 gradient scale.
  const lossScale = reserve(8);
  internal.add(lossScale);
  // The cost of logisticLossLater's latest call, until it is summed.
  let pending: PendingCost | null = null;

  /** Runs `passes` of the sigmoid output layer's loss kernel over n units, on the threads. */
  const lossPasses = (args: number[], n: number, passes: number) => {
    // An exp, a log1p and five divisions in float64 take about 20 ns, as long as 400 multiply-adds.
    const blocks = split(Math.ceil(n / 64), n * 400).map(([from, to]) => [
      from * 64,
      Math.min(n, to * 64),
      ...args,
      passes,
    ]);
    dispatch(LOGISTIC_KERNEL, blocks, null, 0, 0);
  };

  /** Sums a pending cost (running its second pass first if no product ran it), once. */
  const settle = (job: PendingCost): number => {
    if (job.loss !== null) return job.loss;
    if (!job.ran) {
      lossPasses(job.args, job.n, LOSS_PASSES.cost);
      job.ran = true;
    }
    job.loss = sumCosts(job.terms, job.n);
    if (pending === job) pending = null;
    return job.loss;
  };

  /** The n staged costs at `terms`, summed in index order (as outputLoss sums). */
  const sumCosts = (terms: number, n: number): number => {
    const costs = new Float64Array(memory.buffer, terms, n);
    let loss = 0;
    for (let i = 0; i < n; i++) loss += costs[i];
    return loss;
  };

  /**
   * The second pass of the pending cost, to run beside a job that leaves a
   * thread idle (the caller marks it as run once it has), or null when there
   * is none.
   */
  const pendingBeside = (): Beside | null => {
    if (!pending || pending.ran) return null;
    const { n, args } = pending;
    // Two runs of whole 64-value lines a thread: the other thread takes them, and the job's own
    // the ones left when its block is done (the textbook's penalty, 39 200 weights, with its
    // 12 000 costs beside: 156 → 104-110 µs, alone on two threads).
    const blocks = split(Math.ceil(n / 64), Infinity, 2).map(([from, to]) => [
      from * 64,
      Math.min(n, to * 64),
      ...args,
      LOSS_PASSES.cost,
    ]);
    return { kernel: LOGISTIC_KERNEL, blocks };
  };

  /** Stages n units' float64 costs and the gradient scale; returns the kernel's buffer arguments. */
  const lossArgs = (
    z: Float32Array,
    y: Float32Array,
    a: Float32Array,
    dz: Float32Array,
    n: number,
    scale: number,
  ) => {
    // A cost still pending lands in the same staging area: sum it before it is overwritten.
    if (pending) settle(pending);
    staging.terms = area(staging.terms, n * 8);
    new Float64Array(memory.buffer, lossScale, 1)[0] = scale;
    return [z.byteOffset, y.byteOffset, a.byteOffset, dz.byteOffset, staging.terms.at, lossScale];
  };

  /**
   * The sigmoid output layer's forward, gradient and cost, shared by the
   * threads; each unit's cost lands in a float64 staging area, summed here in
   * index order (as outputLoss sums).
   */
  const logisticLoss: WasmKernels["logisticLoss"] = (z, y, a, dz, n, scale) => {
    checkOpen("compute the logistic loss");
    if (!inMemory(n, z, y, a, dz)) return null;
    if (n <= 0) return 0;
    lossPasses(lossArgs(z, y, a, dz, n, scale), n, LOSS_PASSES.both);
    return sumCosts(staging.terms.at, n);
  };

  /**
   * logisticLoss with its second pass (the costs) left for later: on two
   * threads, the weight penalty (which runs on one) has this pass beside it,
   * on the thread that would otherwise wait; else the pass runs, shared, when
   * the cost is asked for.
   */
  const logisticLossLater: WasmKernels["logisticLossLater"] = (z, y, a, dz, n, scale) => {
    checkOpen("compute the logistic loss");
    if (!inMemory(n, z, y, a, dz)) return null;
    if (n <= 0) return () => 0;
    const args = lossArgs(z, y, a, dz, n, scale);
    lossPasses(args, n, LOSS_PASSES.forward);
    const job: PendingCost = {
      args,
      n,
      terms: staging.terms.at,
      ran: false,
      loss: null,
    };
    pending = job;
    return () => {
      checkOpen("compute the logistic loss");
      return settle(job);
    };
  };

  /** Builds the CSR copy of `a` (rows of `cols`) when enough of it is zero to pay off. */
  const prepareRows = (a: Float32Array, cols: number): void => {
    if (prepared.has(a) || cols === 0) return;
    const rows = Math.floor(a.length / cols);
    let nonZeros = 0;
    for (let i = 0; i < rows * cols; i++) if (a[i] !== 0) nonZeros++;
    const zeros = 1 - nonZeros / Math.max(1, rows * cols);
    if (zeros < sparseZeros) return;
    const rowStart = reserve((rows + 1) * 4),
      idx = reserve(nonZeros * 4),
      val = reserve(nonZeros * 4);
    const starts = new Int32Array(memory.buffer, rowStart, rows + 1);
    const columns = new Int32Array(memory.buffer, idx, nonZeros);
    const values = view(val, nonZeros);
    let t = 0;
    for (let r = 0; r < rows; r++) {
      starts[r] = t;
      for (let j = 0, at = r * cols; j < cols; j++, at++) {
        // −0 counts as zero, as in the kernels.
        if (a[at] !== 0) {
          columns[t] = j;
          values[t++] = a[at];
        }
      }
    }
    starts[rows] = t;
    const before = termsBefore(idx, nonZeros, cols);
    prepared.set(a, { rowStart, idx, val, zeros, rows, cols, dense: true, before });
  };

  /** Builds a CSR index from two passes over streamed rows; no dense copy is ever held. */
  const indexRows = async (
    pass: () => AsyncIterable<Float32Array>,
    rows: number,
    cols: number,
  ): Promise<Float32Array | null> => {
    checkOpen("index rows");
    let nonZeros = 0, seen = 0;
    for await (const block of pass()) {
      for (let i = 0; i < block.length; i++) if (block[i] !== 0) nonZeros++;
      seen += block.length;
    }
    if (seen !== rows * cols) {
      throw new RangeError(
        `Cannot index rows as the pass must hold ${rows}×${cols} values: it held ${seen}`,
      );
    }
    const zeros = 1 - nonZeros / Math.max(1, rows * cols);
    if (zeros < sparseZeros || cols === 0) return null;
    const rowStart = reserve((rows + 1) * 4),
      idx = reserve(nonZeros * 4),
      val = reserve(nonZeros * 4);
    let t = 0, row = 0, column = 0;
    for await (const block of pass()) {
      // Views are taken after every reservation, so no growth can detach them.
      const starts = new Int32Array(memory.buffer, rowStart, rows + 1);
      const columns = new Int32Array(memory.buffer, idx, nonZeros);
      const values = view(val, nonZeros);
      for (let i = 0; i < block.length; i++) {
        if (column === 0) starts[row] = t;
        // −0 counts as zero, as in the kernels.
        if (block[i] !== 0) {
          if (t === nonZeros) {
            throw new RangeError("Cannot index rows as the second pass must equal the first");
          }
          columns[t] = column;
          values[t++] = block[i];
        }
        if (++column === cols) {
          column = 0;
          row++;
        }
      }
    }
    if (t !== nonZeros || row !== rows) {
      throw new RangeError("Cannot index rows as the second pass must equal the first");
    }
    new Int32Array(memory.buffer, rowStart, rows + 1)[rows] = t;
    const handle = new Float32Array(0);
    const before = termsBefore(idx, nonZeros, cols);
    prepared.set(handle, { rowStart, idx, val, zeros, rows, cols, dense: false, before });
    return handle;
  };

  /** Hands back a buffer from alloc or alloc64, and any index built for it (or a handle's). */
  const free = (buffer: Float32Array | Float64Array): void => {
    const index = buffer instanceof Float32Array ? prepared.get(buffer) : undefined;
    if (index) {
      prepared.delete(buffer as Float32Array);
      for (const at of [index.rowStart, index.idx, index.val]) release(at);
      if (!index.dense) return;
    }
    if (ours.has(buffer.buffer)) release(buffer.byteOffset);
  };

  function closeAll(): void {
    if (closed) return;
    closed = true;
    for (let slot = 1; slot < threads; slot++) {
      Atomics.store(control, mailboxAt(slot) + MAILBOX.request, -1);
      Atomics.notify(control, mailboxAt(slot) + MAILBOX.request);
    }
    for (const worker of workers) worker.terminate();
  }

  return {
    name: `${nativeKernels ? `native ${nativeKernels.isa} + ` : ""}wasm-simd ×${threads}`,
    threads,
    native: nativeKernels?.isa ?? null,
    alloc: (length) => view(reserve(length * 4), length),
    alloc64(length) {
      const at = reserve(length * 8); // first: it may grow the memory, replacing memory.buffer
      return new Float64Array(memory.buffer, at, length);
    },
    gemm,
    gemmPair,
    prepareRows,
    indexRows,
    sigmoid,
    activate,
    activateBackward,
    columnSums,
    update,
    penalty,
    logisticLoss,
    logisticLossLater,
    free,
    memoryBytes() {
      let buffers = 0, scratch = 0;
      for (const [at, size] of live) {
        if (internal.has(at)) scratch += size;
        else buffers += size;
      }
      return { buffers, scratch, reserved: memory.buffer.byteLength };
    },
    close: closeAll,
  };
}
