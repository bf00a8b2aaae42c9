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
import { sigmoid as sigmoidOf } from "../model/activations.ts";
import { checkGemm, type GemmArgs, type Kernels, referenceGemm } from "../model/kernels.ts";
import { KERNEL_EXPORTS, MAILBOX, waitForChange, type WorkerInit } from "./mailbox.ts";

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
}

/** WebAssembly kernels with their workers; `close` stops the workers. */
export interface WasmKernels extends Kernels {
  /** Threads in use, the calling one included. */
  readonly threads: number;
  /** Stops the workers; the kernels must not be used afterwards. */
  close(): void;
  /** Indexes `a`, rows of `cols` values, for products that read it through `aRows`. */
  prepareRows(a: Float32Array, cols: number): void;
  /** Indexes streamed rows without a dense copy; see {@linkcode Kernels.indexRows}. */
  indexRows(
    pass: () => AsyncIterable<Float32Array>,
    rows: number,
    cols: number,
  ): Promise<Float32Array | null>;
  /** `a[i] = sigmoid(z[i])` for i < n, shared by the threads. */
  sigmoid(z: Float32Array, a: Float32Array, n: number): void;
}

const PAGE = 65536;
/** The most WebAssembly memory the kernels can hold: 65 536 pages of 64 KiB, 4 GiB. */
export const MAX_KERNEL_BYTES: number = 65536 * PAGE;
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
  // Waking a worker takes about 50 µs, the time of a million multiply-adds or so:
  // below four million, sharing a product costs more than it saves.
  const { threads = defaultThreads(), minParallelWork = 1 << 22, sparseZeros = 0.5 } = options;
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
            reject(
              new Error(
                `Cannot start kernel worker ${slot} as its module must load: ${event.message}`,
              ),
            );
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
    // 64 bytes of slack past the last buffer: the sparse kernels' last vector may read 12 past a row.
    if (end + 64 > have) {
      memory.grow(Math.ceil((end + 64 - have) / PAGE));
      ours.add(memory.buffer);
    }
    top = end;
    return start;
  };
  const view = (offset: number, length: number) => new Float32Array(memory.buffer, offset, length);

  // Per-thread scratch and staging areas for arrays outside the memory, grown on demand.
  type Area = { at: number; bytes: number };
  const scratch = new Array<Area>(threads).fill({ at: 0, bytes: 0 });
  const staging: Record<"a" | "b" | "c" | "rows", Area> = {
    a: { at: 0, bytes: 0 },
    b: { at: 0, bytes: 0 },
    c: { at: 0, bytes: 0 },
    rows: { at: 0, bytes: 0 },
  };
  const area = (current: Area, bytes: number) =>
    current.bytes >= bytes ? current : { at: reserve(bytes), bytes };
  const place = (array: Float32Array, role: "a" | "b" | "c", length: number, copy: boolean) => {
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
    }
  >();

  let sequence = 0;
  let closed = false;

  /** Runs `blocks[part]` on thread `part` with kernel `kernel`, then copies a staged C back. */
  const dispatch = (
    kernel: number,
    blocks: number[][],
    c: Float32Array,
    cAt: number,
    length: number,
  ) => {
    // Positive and below 2^30, however long training runs: negative requests stop workers.
    sequence = sequence % 0x3fffffff + 1;
    for (let part = 1; part < blocks.length; part++) {
      const base = part * MAILBOX.size;
      control[base + MAILBOX.kernel] = kernel;
      control.set(blocks[part], base + MAILBOX.firstArg);
      Atomics.store(control, base + MAILBOX.request, sequence);
      Atomics.notify(control, base + MAILBOX.request);
    }
    let failed = -1;
    try {
      exported[kernel](...blocks[0]);
    } finally {
      // Every worker finishes this request before anything returns or throws, so no later
      // request can rewrite a mailbox a worker is still reading.
      for (let part = 1; part < blocks.length; part++) {
        const done = part * MAILBOX.size + MAILBOX.done;
        let seen = Atomics.load(control, done);
        while (seen !== sequence && seen !== -sequence) seen = waitForChange(control, done, seen);
        if (seen === -sequence && failed < 0) failed = part;
      }
    }
    if (failed > 0) {
      throw new Error(
        `Cannot compute as kernel worker ${failed} must finish its block: it failed ` +
          "(its error is printed above)",
      );
    }
    if (!ours.has(c.buffer)) c.set(view(cAt, length));
  };

  /** Splits `tiles` tiles among the threads when `work` is worth it: [from, to) per part. */
  const split = (tiles: number, work: number): [number, number][] => {
    const parts = work < minParallelWork ? 1 : Math.max(1, Math.min(threads, tiles));
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

  const gemm = (args: GemmArgs): void => {
    checkOpen("multiply matrices");
    const { m, n, k, a, b, c, transA = false, transB = false, accumulate = false, aRows } = args;
    if (!(a instanceof Float32Array && b instanceof Float32Array && c instanceof Float32Array)) {
      referenceGemm(args);
      return;
    }
    const handle = prepared.get(a);
    const indexOnly = handle !== undefined && !handle.dense;
    checkGemm(args, indexOnly ? handle.rows * handle.cols : a.length);
    if (m === 0 || n === 0) return;
    // Listing a transposed A's terms costs a pass over them, which pays off only over wide rows of C.
    const sparseFits = !transB && (!transA || n >= 64 || sparseZeros === 0);

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
      const blocks = split(Math.ceil(m / TILE_ROWS), m * n * k * (1 - csr.zeros)).map(
        ([from, to]) => {
          const i0 = from * TILE_ROWS, i1 = Math.min(m, to * TILE_ROWS);
          return [i0, i1, 0, n, k, csr.rowStart, csr.idx, csr.val, staging.a.at, transA ? 1 : 0];
        },
      );
      blocks.forEach((block, part) => {
        scratch[part] = area(scratch[part], 8 * (block[1] - block[0] + 1) * (k + 1));
        block.push(bAt, n, cAt, n, accumulate ? 1 : 0, scratch[part].at);
      });
      dispatch(2, blocks, c, cAt, m * n);
      return;
    }

    const aAt = place(a, "a", m * k, true);
    const bAt = place(b, "b", k * n, true);
    const cAt = place(c, "c", m * n, accumulate);
    const aRow = transA ? 1 : k, aCol = transA ? m : 1;
    const bRow = transB ? 1 : n, bCol = transB ? k : 1;
    const zeros = sparseFits ? zeroFraction(a, m * k) : 0;
    const sparse = sparseFits && zeros >= sparseZeros;
    // The sparse kernel splits C by rows, so no thread scans another's part of A.
    const byColumns = !sparse && n >= m;
    const tiles = byColumns ? Math.ceil(n / TILE_COLS) : Math.ceil(m / TILE_ROWS);
    const blocks = split(tiles, m * n * k * (sparse ? 1 - zeros : 1)).map(([from, to], part) => {
      const [i0, i1, j0, j1] = byColumns
        ? [0, m, from * TILE_COLS, Math.min(n, to * TILE_COLS)]
        : [from * TILE_ROWS, Math.min(m, to * TILE_ROWS), 0, n];
      // Sparse: the lists of A's non-zero terms; dense: one packed panel of B and a spill row.
      const need = sparse ? 8 * (i1 - i0 + 1) * (k + 1) : k * 32 + 32;
      scratch[part] = area(scratch[part], need);
      const acc = accumulate ? 1 : 0;
      return [i0, i1, j0, j1, k, aAt, aRow, aCol, bAt, bRow, bCol, cAt, n, acc, scratch[part].at];
    });
    dispatch(sparse ? 1 : 0, blocks, c, cAt, m * n);
  };

  /** Elementwise sigmoid, in place in the memory (else the TypeScript twin), shared by the threads. */
  const sigmoid = (z: Float32Array, a: Float32Array, n: number): void => {
    checkOpen("compute sigmoids");
    if (n <= 0) return;
    if (!ours.has(z.buffer) || !ours.has(a.buffer) || z.length < n || a.length < n) {
      for (let i = 0; i < n; i++) a[i] = sigmoidOf(z[i]);
      return;
    }
    // A sigmoid costs about as much as 50 multiply-adds.
    const blocks = split(Math.ceil(n / 1024), n * 50).map(([from, to]) => [
      from * 1024,
      Math.min(n, to * 1024),
      z.byteOffset,
      a.byteOffset,
    ]);
    dispatch(3, blocks, a, a.byteOffset, 0);
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
    prepared.set(a, { rowStart, idx, val, zeros, rows, cols, dense: true });
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
    prepared.set(handle, { rowStart, idx, val, zeros, rows, cols, dense: false });
    return handle;
  };

  return {
    name: `wasm-simd ×${threads}`,
    threads,
    alloc: (length) => view(reserve(length * 4), length),
    gemm,
    prepareRows,
    indexRows,
    sigmoid,
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
