/**
 * The matrix kernels the network runs on, behind one small interface, and the
 * plain TypeScript reference every faster kernel is tested against.
 *
 * One operation does the heavy lifting: `C = op(A)·op(B)` (`gemm`). Each
 * element of C is summed in one fixed order, `p = 0, 1, …, k − 1`, as
 * `acc = acc + a·b` in float32 when C is a `Float32Array` (float64 otherwise),
 * and only then added to C's old value when accumulating. The WebAssembly
 * kernels in kernels/ follow the same order, so they match this reference bit
 * for bit and stay bit-identical however many threads split the work.
 *
 * @module
 */
import { type Activation, type Floats, flushDenormal } from "./activations.ts";

/** One matrix product: `C (m, n) = op(A) (m, k) · op(B) (k, n)`, all row-major. */
export interface GemmArgs {
  /** Rows of C. */
  m: number;
  /** Columns of C. */
  n: number;
  /** The summed dimension. */
  k: number;
  /** A as stored: (m, k), or (k, m) when `transA`. */
  a: Floats;
  /** B as stored: (k, n), or (n, k) when `transB`. */
  b: Floats;
  /** C (m, n). */
  c: Floats;
  /** Read A transposed. @default {false} */
  transA?: boolean;
  /** Read B transposed. @default {false} */
  transB?: boolean;
  /** Add the product to C instead of overwriting it. @default {false} */
  accumulate?: boolean;
  /**
   * A row of n values (a layer's biases) added to every row of the product,
   * with the bits of writing it into each row of C and accumulating; never
   * with `accumulate`.
   */
  bias?: Floats;
  /**
   * A matrix laid out as C (m, n), never C itself: C[i, j] becomes +0 where
   * `reluGate[i·n + j]` ≤ 0 (−0 included; NaN keeps C), a ReLU layer's
   * backward, `dz = da·relu'(z)` with this as z: the bits of
   * model/activations.ts `activateBackward("relu")` on the product. Never with
   * `accumulate` or `bias`.
   */
  reluGate?: Floats;
  /**
   * A sigmoid layer's activations a, laid out as C (m, n), never C itself: each
   * C[i, j] becomes that layer's backward, `dz = da·a·(1 − a)` in float64 with
   * denormals flushed, da the product: the bits of model/activations.ts
   * `activateBackward("sigmoid")` on it. Never with `accumulate`, `bias` or `reluGate`.
   */
  sigmoidGate?: Floats;
  /**
   * Picks A's stored rows by index, so a minibatch needs no copy: stored row r
   * is row `aRows[r]` of `a` (rows of width k, or of width m when `transA`).
   */
  aRows?: Uint32Array;
}

/**
 * One optimiser step over `size` parameters, as model/optimizers.ts computes
 * it: float32 parameters and gradient; float64 state and arithmetic (sgd,
 * nesterov) or float32 throughout (adam).
 */
export interface UpdateArgs {
  /** The update rule (see model/optimizers.ts `OptimizerKind`). */
  rule: "sgd" | "nesterov" | "adam";
  /** Parameters, updated in place. */
  params: Float32Array;
  /** The gradient. */
  grad: Float32Array;
  /** Δw_prev (sgd) or the velocity (nesterov), float64; the first moment (adam), float32. */
  first: Float64Array | Float32Array;
  /** The second moment (adam; empty otherwise), updated in place. */
  second: Float32Array;
  /** Elements to update. */
  size: number;
  /** Learning rate η. */
  eta: number;
  /** Momentum α or μ (sgd, nesterov). */
  momentum: number;
  /** Adam's β₁, 1 − β₁, β₂, 1 − β₂, η/c₁, 1/√c₂ and ε, each a float32 value. */
  adam: readonly [number, number, number, number, number, number, number];
}

/** The matrix operations a network needs, and where their buffers live. */
export interface Kernels {
  /** A short name for reports, e.g. `"reference"` or `"wasm-simd ×2"`. */
  readonly name: string;
  /** A zeroed float32 buffer the kernels can work on without copying. */
  alloc(length: number): Float32Array;
  /** `C = op(A)·op(B)` (or `C += …`); see {@linkcode GemmArgs}. */
  gemm(args: GemmArgs): void;
  /**
   * Two independent products (neither reads what the other writes) at once,
   * each as `gemm` computes it: two too small to share among threads can then
   * run on two. False, having done nothing, when it cannot.
   */
  gemmPair?(first: GemmArgs, second: GemmArgs): boolean;
  /** Says `a`, rows of `cols` values, will often be read through `aRows`; kernels may index it. */
  prepareRows?(a: Float32Array, cols: number): void;
  /**
   * Indexes `rows` rows of `cols` values from passes over them (`pass()`
   * yields them in order, in blocks), holding only the index, never a dense
   * copy. Returns the handle that products then take as `a`, always with
   * `aRows` and never with a transposed B, or null when the rows are too
   * dense for an index to pay off (the caller then holds them dense).
   */
  indexRows?(
    pass: () => AsyncIterable<Float32Array>,
    rows: number,
    cols: number,
  ): Promise<Float32Array | null>;
  /** `a[i] = sigmoid(z[i])` for i < n, the same bits as model/activations.ts `sigmoid`. */
  sigmoid?(z: Float32Array, a: Float32Array, n: number): void;
  /**
   * `a = f(z)` over the first n values, the same bits as model/activations.ts
   * `activate`; false, having changed nothing, when it cannot (that function, those buffers).
   */
  activate?(kind: Activation, z: Float32Array, a: Float32Array, n: number): boolean;
  /**
   * `dz = da·f'(z)` over the first n values (a = f(z)), the same bits as copying
   * da to dz and model/activations.ts `activateBackward`; false when it cannot.
   */
  activateBackward?(
    kind: Activation,
    z: Float32Array,
    a: Float32Array,
    da: Float32Array,
    dz: Float32Array,
    n: number,
  ): boolean;
  /**
   * model/network.ts `outputLoss("sigmoid", …)` over n units, the same bits:
   * writes `a = sigmoid(z)` and `dz = (a − y)·scale`, returns the logistic
   * cost summed in index order; null, having changed nothing, when it cannot.
   */
  logisticLoss?(
    z: Float32Array,
    y: Float32Array,
    a: Float32Array,
    dz: Float32Array,
    n: number,
    scale: number,
  ): number | null;
  /**
   * `logisticLoss` with the cost summed later: writes a and dz now and returns
   * a function that returns the cost, the same bits, for the caller to call
   * before z or y change. Meanwhile the kernels may compute it beside later
   * work, on threads that work leaves idle. Null, having changed nothing, when it cannot.
   */
  logisticLossLater?(
    z: Float32Array,
    y: Float32Array,
    a: Float32Array,
    dz: Float32Array,
    n: number,
    scale: number,
  ): (() => number) | null;
  /**
   * `sums[j] += Σ_i x[i·cols + j]` over `rows` rows, in row order in float32
   * (a bias gradient); false when it cannot.
   */
  columnSums?(x: Float32Array, rows: number, cols: number, sums: Float32Array): boolean;
  /**
   * Adds the weight penalty's gradient `l2·w + (l1/2)·sign(w)` to the first n
   * values of `grad` (in float64, rounded once) and returns the running sums
   * Σ|w| and Σw² continued, in index order, from `abs` and `squares`: the same
   * bits as model/network.ts `lossAndGradient`'s loop; null when it cannot.
   */
  penalty?(
    weights: Float32Array,
    grad: Float32Array,
    n: number,
    l1: number,
    l2: number,
    abs: number,
    squares: number,
  ): [number, number] | null;
  /** A zeroed float64 buffer the kernels can work on without copying (optimiser state). */
  alloc64?(length: number): Float64Array;
  /**
   * One optimiser step with the same bits as model/optimizers.ts; returns false,
   * having changed nothing, when it cannot run it (buffers from elsewhere).
   */
  update?(args: UpdateArgs): boolean;
  /**
   * Hands back a buffer from `alloc` or `alloc64`, or a handle from `indexRows`
   * (or an array given to `prepareRows`: its index), so later buffers reuse its
   * memory. The buffer must not be used afterwards.
   */
  free?(buffer: Float32Array | Float64Array): void;
}

/** Throws unless the buffers are large enough for the shapes. */
export function checkGemm(args: GemmArgs, aLength: number = args.a.length): void {
  const { m, n, k, b, c } = args;
  if (![m, n, k].every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(
      `Cannot multiply matrices as m, n and k must be integers ≥ 0: current values are ${m}, ${n}, ${k}`,
    );
  }
  if (args.bias && args.accumulate) {
    throw new RangeError(
      "Cannot multiply matrices as a bias row and accumulate must not both be given: both were",
    );
  }
  if (args.reluGate && (args.bias || args.accumulate)) {
    throw new RangeError(
      "Cannot multiply matrices as a ReLU gate must not come with a bias row or accumulate: it did",
    );
  }
  if (args.sigmoidGate && (args.bias || args.accumulate || args.reluGate)) {
    throw new RangeError(
      "Cannot multiply matrices as a sigmoid gate must not come with a bias row, accumulate " +
        "or a ReLU gate: it did",
    );
  }
  if (args.sigmoidGate && args.sigmoidGate.length < m * n) {
    throw new RangeError(
      `Cannot multiply matrices as the sigmoid gate must hold m·n=${m * n} values: ` +
        `current length is ${args.sigmoidGate.length}`,
    );
  }
  if (args.reluGate && args.reluGate.length < m * n) {
    throw new RangeError(
      `Cannot multiply matrices as the ReLU gate must hold m·n=${m * n} values: ` +
        `current length is ${args.reluGate.length}`,
    );
  }
  if (args.bias && args.bias.length < n) {
    throw new RangeError(
      `Cannot multiply matrices as the bias row must hold n=${n} values: current length is ${args.bias.length}`,
    );
  }
  let needA = m * k;
  if (args.aRows) {
    const stored = args.transA ? k : m;
    if (args.aRows.length < stored) {
      throw new RangeError(
        `Cannot multiply matrices as aRows must pick ${stored} rows: current length is ${args.aRows.length}`,
      );
    }
    let last = -1;
    for (let r = 0; r < stored; r++) last = Math.max(last, args.aRows[r]);
    needA = (last + 1) * (args.transA ? m : k);
  }
  for (
    const [name, length, need] of [["A", aLength, needA], ["B", b.length, k * n], [
      "C",
      c.length,
      m * n,
    ]] as const
  ) {
    if (length < need) {
      throw new RangeError(
        `Cannot multiply matrices as ${name} must hold ${need} values for m=${m} n=${n} k=${k}: ` +
          `current length is ${length}`,
      );
    }
  }
}

/**
 * The reference product, one element at a time in the documented order.
 *
 * @example Multiply a 1×2 row by a 2×1 column
 * ```ts
 * import assert from "node:assert/strict";
 * import { referenceGemm } from "./kernels.ts";
 * const c = new Float32Array(1);
 * referenceGemm({ m: 1, n: 1, k: 2, a: Float32Array.of(1, 2), b: Float32Array.of(3, 4), c });
 * assert.equal(c[0], 11);
 * ```
 */
export function referenceGemm(args: GemmArgs): void {
  checkGemm(args);
  const { m, n, k, a, b, c, transA = false, transB = false, accumulate = false, aRows } = args;
  const { bias, reluGate, sigmoidGate } = args;
  const round = c instanceof Float32Array ? Math.fround : (x: number) => x;
  const width = transA ? m : k;
  const stored = (r: number) => (aRows ? aRows[r] : r) * width;
  const at = (i: number, p: number) => transA ? stored(p) + i : stored(i) + p;
  const bRow = transB ? 1 : n, bCol = transB ? k : 1;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) {
        acc = round(acc + round(a[at(i, p)] * b[p * bRow + j * bCol]));
      }
      const base = bias ? round(bias[j]) : accumulate ? c[i * n + j] : undefined;
      c[i * n + j] = base === undefined ? acc : round(base + acc);
      if (reluGate && reluGate[i * n + j] <= 0) c[i * n + j] = 0;
      if (sigmoidGate) {
        const s = sigmoidGate[i * n + j];
        c[i * n + j] = flushDenormal(c[i * n + j] * s * (1 - s));
      }
    }
  }
}

/** Plain TypeScript kernels on ordinary arrays: the reference, and the float64 path. */
export const referenceKernels: Kernels = {
  name: "reference",
  alloc: (length) => new Float32Array(length),
  gemm: referenceGemm,
};

/** Kernels that remember every buffer they hand out, so one call returns them all. */
export interface KernelScope extends Kernels {
  /** Frees every buffer and index handed out through this scope, on the kernels beneath. */
  freeAll(): void;
}

/**
 * Wraps `kernels` so every buffer and index taken through the wrapper can be
 * handed back at once (a training's buffers, when it ends, however it ends).
 * Kernels without `free` keep their buffers; then `freeAll` does nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { kernelScope, referenceKernels } from "./kernels.ts";
 * const scope = kernelScope(referenceKernels);
 * assert.equal(scope.alloc(3).length, 3);
 * scope.freeAll();
 * ```
 */
export function kernelScope(kernels: Kernels): KernelScope {
  const taken: (Float32Array | Float64Array)[] = [];
  const keep = <T extends Float32Array | Float64Array>(buffer: T): T => {
    taken.push(buffer);
    return buffer;
  };
  return {
    ...kernels,
    name: kernels.name,
    alloc: (length) => keep(kernels.alloc(length)),
    gemm: (args) => kernels.gemm(args),
    alloc64: kernels.alloc64 && ((length) => keep(kernels.alloc64!(length))),
    prepareRows: kernels.prepareRows && ((a, cols) => {
      kernels.prepareRows!(a, cols);
      if (!taken.includes(a)) taken.push(a);
    }),
    indexRows: kernels.indexRows &&
      (async (pass, rows, cols) => {
        const handle = await kernels.indexRows!(pass, rows, cols);
        return handle && keep(handle);
      }),
    free(buffer) {
      const at = taken.indexOf(buffer);
      if (at >= 0) taken.splice(at, 1);
      kernels.free?.(buffer);
    },
    freeAll() {
      // Newest first, so a bump allocator's top comes straight back down.
      for (const buffer of taken.splice(0).reverse()) kernels.free?.(buffer);
    },
  };
}
