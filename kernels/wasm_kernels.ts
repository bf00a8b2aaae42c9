/**
 * Fast kernels: the float32 WebAssembly SIMD gemm of kernels/assembly/gemm.ts,
 * run on the main thread plus `threads − 1` workers that share one
 * WebAssembly memory. Buffers from `alloc` live in that memory, so the
 * network's products run in place; other buffers are copied in and out.
 *
 * Each call splits C into blocks of whole tiles, one per thread. Every element
 * of C is summed in the same order whichever thread computes it, so results
 * are bit-identical for any thread count, and equal to the reference kernel.
 *
 * @module
 */
import { checkGemm, type GemmArgs, type Kernels, referenceGemm } from "../model/kernels.ts";
import { KERNEL_EXPORTS, MAILBOX, type WorkerInit } from "./mailbox.ts";

/** Options of {@linkcode createWasmKernels}. */
export interface WasmKernelOptions {
  /** Threads that share each product, the calling one included. @default {navigator.hardwareConcurrency} */
  threads?: number;
  /** Products with fewer multiply-adds than this run on the calling thread alone. @default {524288} */
  minParallelWork?: number;
  /**
   * Share of zeros in A from which a product skips A's zeros (the sparse
   * kernel; same bits, less work on image pixels). 0 always, above 1 never.
   * @default {0.5}
   */
  sparseZeros?: number;
}

/** WebAssembly kernels with their workers; `close` stops the workers. */
export interface WasmKernels extends Kernels {
  /** Threads in use, the calling one included. */
  readonly threads: number;
  /** Stops the workers; the kernels must not be used afterwards. */
  close(): void;
}

const PAGE = 65536;
const TILE_ROWS = 4;
const TILE_COLS = 8;

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
  // Below about half a million multiply-adds, waking a worker costs more than it saves.
  const { threads = defaultThreads(), minParallelWork = 1 << 19, sparseZeros = 0.5 } = options;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new RangeError(
      `Cannot start kernels as threads must be an integer from 1 to 256: current value is ${threads}`,
    );
  }
  const module = await kernelModule();
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const exported = KERNEL_EXPORTS.map((name) =>
    instance.exports[name] as (...args: number[]) => void
  );
  const control = new Int32Array(new SharedArrayBuffer(threads * MAILBOX.size * 4));

  const workers: Worker[] = [];
  try {
    const ready: Promise<void>[] = [];
    for (let slot = 1; slot < threads; slot++) {
      const worker = new Worker(new URL("./gemm_worker.ts", import.meta.url).href, {
        type: "module",
      });
      workers.push(worker);
      ready.push(
        new Promise((resolve, reject) => {
          worker.onmessage = () => resolve();
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(`Cannot start kernel worker ${slot}: ${event.message}`));
          };
        }),
      );
      const init: WorkerInit = { module, memory, control, slot };
      worker.postMessage(init);
    }
    await Promise.all(ready);
  } catch (error) {
    for (const worker of workers) worker.terminate();
    throw error;
  }

  // Page 0 stays unused, so no buffer ever starts at address 0.
  let top = PAGE;
  const ours = new Set<ArrayBufferLike>([memory.buffer]);
  const reserve = (bytes: number): number => {
    const start = Math.ceil(top / 64) * 64;
    const end = start + bytes;
    const have = memory.buffer.byteLength;
    if (end > have) {
      memory.grow(Math.ceil((end - have) / PAGE));
      ours.add(memory.buffer);
    }
    top = end;
    return start;
  };
  const view = (offset: number, length: number) => new Float32Array(memory.buffer, offset, length);

  // Per-thread panel scratch and staging areas for arrays outside the memory, grown on demand.
  const scratch = new Array<{ at: number; bytes: number }>(threads).fill({ at: 0, bytes: 0 });
  const staging = { a: { at: 0, bytes: 0 }, b: { at: 0, bytes: 0 }, c: { at: 0, bytes: 0 } };
  const area = (current: { at: number; bytes: number }, bytes: number) =>
    current.bytes >= bytes ? current : { at: reserve(bytes), bytes };

  let sequence = 0;
  let closed = false;

  const gemm = (args: GemmArgs): void => {
    if (closed) throw new Error("Cannot multiply matrices as the kernels were closed");
    const { m, n, k, a, b, c, transA = false, transB = false, accumulate = false } = args;
    if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) {
      referenceGemm(args);
      return;
    }
    checkGemm(args);
    if (m === 0 || n === 0) return;
    const place = (array: Float32Array, role: "a" | "b" | "c", length: number, copy: boolean) => {
      if (ours.has(array.buffer)) return array.byteOffset;
      staging[role] = area(staging[role], length * 4);
      if (copy) view(staging[role].at, length).set(array.subarray(0, length));
      return staging[role].at;
    };
    const aAt = place(a, "a", m * k, true);
    const bAt = place(b, "b", k * n, true);
    const cAt = place(c, "c", m * n, accumulate);

    const aRow = transA ? 1 : k, aCol = transA ? m : 1;
    const bRow = transB ? 1 : n, bCol = transB ? k : 1;
    const zeros = transB ? 0 : zeroFraction(a, m * k);
    const sparse = !transB && zeros >= sparseZeros;
    // The sparse kernel splits C by rows, so no thread scans another's part of A.
    const byColumns = !sparse && n >= m;
    const tiles = byColumns ? Math.ceil(n / TILE_COLS) : Math.ceil(m / TILE_ROWS);
    const work = m * n * k * (sparse ? 1 - zeros : 1);
    const parts = work < minParallelWork ? 1 : Math.min(threads, tiles);
    const blocks: number[][] = [];
    for (let part = 0; part < parts; part++) {
      const from = Math.floor((tiles * part) / parts);
      const to = Math.floor((tiles * (part + 1)) / parts);
      const [i0, i1, j0, j1] = byColumns
        ? [0, m, from * TILE_COLS, Math.min(n, to * TILE_COLS)]
        : [from * TILE_ROWS, Math.min(m, to * TILE_ROWS), 0, n];
      const need = sparse ? (i1 - i0) * n * 4 : k * 32 + 32;
      scratch[part] = area(scratch[part], need);
      blocks.push([
        i0,
        i1,
        j0,
        j1,
        k,
        aAt,
        aRow,
        aCol,
        bAt,
        bRow,
        bCol,
        cAt,
        n,
        accumulate ? 1 : 0,
        scratch[part].at,
      ]);
    }
    sequence++;
    const kernel = sparse ? 1 : 0;
    for (let part = 1; part < parts; part++) {
      const base = part * MAILBOX.size;
      control[base + MAILBOX.kernel] = kernel;
      control.set(blocks[part], base + MAILBOX.firstArg);
      Atomics.store(control, base + MAILBOX.request, sequence);
      Atomics.notify(control, base + MAILBOX.request);
    }
    exported[kernel](...blocks[0]);
    for (let part = 1; part < parts; part++) {
      const done = part * MAILBOX.size + MAILBOX.done;
      for (;;) {
        const seen = Atomics.load(control, done);
        if (seen === sequence) break;
        if (seen === -sequence) {
          throw new Error(
            `Cannot multiply matrices as kernel worker ${part} failed on m=${m} n=${n} k=${k}`,
          );
        }
        Atomics.wait(control, done, seen);
      }
    }
    if (!ours.has(c.buffer)) c.set(view(cAt, m * n));
  };

  return {
    name: `wasm-simd ×${threads}`,
    threads,
    alloc: (length) => view(reserve(length * 4), length),
    gemm,
    close() {
      if (closed) return;
      closed = true;
      for (let slot = 1; slot < threads; slot++) {
        Atomics.store(control, slot * MAILBOX.size + MAILBOX.request, -1);
        Atomics.notify(control, slot * MAILBOX.size + MAILBOX.request);
      }
      for (const worker of workers) worker.terminate();
    },
  };
}
