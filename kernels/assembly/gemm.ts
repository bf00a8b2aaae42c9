// AssemblyScript source of kernels/gemm.wasm; `deno task build:wasm` rebuilds it.
//
// One operation: C = op(A)·op(B) over a block of C's rows and columns, in
// float32 with WebAssembly SIMD. Every element of C is summed in the same
// order, p = 0, 1, …, k − 1, as `acc = acc + a·b` (a float32 multiply, then a
// float32 add; WebAssembly never fuses them), whatever block, tile or thread
// computes it. So splitting C among threads cannot change a single bit, and
// the plain TypeScript reference in model/kernels.ts gives the same bits.
//
// Addresses are byte offsets into the shared memory; strides count floats.
// A(i, p) = a[i·aRow + p·aCol] and B(p, j) = b[p·bRow + j·bCol], so either
// operand can be read transposed without copying it first.

import { sigmoidBackward2 } from "./elementwise";

/** Rows of C one tile computes. */
const TILE_ROWS: i32 = 4;
/** Columns of C one tile computes: two float32x4 vectors. */
const TILE_COLS: i32 = 8;
/**
 * Columns of C the sparse kernels finish for every row before the next: two
 * blocks of 48, so the slice of B they read (rows × 384 bytes, 300 KB for
 * 784 rows) stays in a 512 KB L2 cache instead of streaming from L3 per row.
 */
const PANEL_COLS: i32 = 96;

/**
 * Copies B's columns [j, j + width) for every p into a (k, 8) row-major panel,
 * zero past `width`, so the tile loop reads B with unit stride from L1 cache.
 */
function packPanel(
  b: usize,
  bRow: i32,
  bCol: i32,
  k: i32,
  j: i32,
  width: i32,
  panel: usize,
): void {
  if (bCol == 1 && width == TILE_COLS) {
    const rowBytes = <usize> bRow << 2;
    let src = b + (<usize> j << 2);
    let dst = panel;
    for (let p = 0; p < k; p++) {
      v128.store(dst, v128.load(src));
      v128.store(dst, v128.load(src, 16), 16);
      src += rowBytes;
      dst += 32;
    }
    return;
  }
  packColumns(b, bRow, bCol, k, j, width, panel, TILE_COLS);
}

/**
 * Copies B's columns [j, j + width) for every p into a (k, `cols`) row-major
 * panel, one value at a time, zero past `width`.
 */
function packColumns(
  b: usize,
  bRow: i32,
  bCol: i32,
  k: i32,
  j: i32,
  width: i32,
  panel: usize,
  cols: i32,
): void {
  const rowBytes = <usize> bRow << 2;
  const panelRowBytes = <usize> cols << 2;
  for (let jj = 0; jj < cols; jj++) {
    let dst = panel + (<usize> jj << 2);
    if (jj < width) {
      let src = b + (<usize> ((j + jj) * bCol) << 2);
      for (let p = 0; p < k; p++) {
        store<f32>(dst, load<f32>(src));
        src += rowBytes;
        dst += panelRowBytes;
      }
    } else {
      for (let p = 0; p < k; p++) {
        store<f32>(dst, 0);
        dst += panelRowBytes;
      }
    }
  }
}

/**
 * Writes one tile row of 8 sums to C, only the first `width` on the right
 * edge, each added to the value at the same column of `base` unless base is 0
 * (C's own row when accumulating, or the bias row); or, where `gate` (the
 * same columns of a row laid out as C's) is not 0, each made +0 where the
 * gate's value is ≤ 0 (a ReLU layer's backward: never with a base).
 */
function storeRow(
  c: usize,
  lo: v128,
  hi: v128,
  width: i32,
  base: usize,
  spill: usize,
  gate: usize,
): void {
  if (width == TILE_COLS) {
    if (base != 0) {
      lo = f32x4.add(v128.load(base), lo);
      hi = f32x4.add(v128.load(base, 16), hi);
    }
    if (gate != 0) {
      // z ≤ 0 gives +0; z > 0, or NaN, keeps the sum: activateBackward("relu")'s rule.
      const zero = f32x4.splat(0);
      lo = v128.andnot(lo, f32x4.le(v128.load(gate), zero));
      hi = v128.andnot(hi, f32x4.le(v128.load(gate, 16), zero));
    }
    v128.store(c, lo);
    v128.store(c, hi, 16);
    return;
  }
  v128.store(spill, lo);
  v128.store(spill, hi, 16);
  for (let jj = 0; jj < width; jj++) {
    const at = <usize> jj << 2;
    const sum = load<f32>(spill + at);
    const value = base != 0 ? load<f32>(base + at) + sum : sum;
    store<f32>(c + at, gate != 0 && load<f32>(gate + at) <= 0 ? 0 : value);
  }
}

/** `gate` moved on by `bytes`, or 0 when it is 0 (no gate). */
// @ts-ignore: decorator
@inline
function gateAt(gate: usize, bytes: usize): usize {
  return gate == 0 ? 0 : gate + bytes;
}

/** A 4 × 8 tile of C: 8 float32x4 accumulators stay in registers for the whole k loop. */
function tile4(
  a: usize,
  aRowBytes: usize,
  aColBytes: usize,
  panel: usize,
  k: i32,
  c: usize,
  cRowBytes: usize,
  width: i32,
  accumulate: bool,
  bias: usize,
  spill: usize,
  gate: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const a1 = aRowBytes, a2 = aRowBytes << 1, a3 = aRowBytes * 3;
  let pa = a;
  let pb = panel;
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let s = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(s, b0));
    c01 = f32x4.add(c01, f32x4.mul(s, b1));
    s = v128.load32_splat(pa + a1);
    c10 = f32x4.add(c10, f32x4.mul(s, b0));
    c11 = f32x4.add(c11, f32x4.mul(s, b1));
    s = v128.load32_splat(pa + a2);
    c20 = f32x4.add(c20, f32x4.mul(s, b0));
    c21 = f32x4.add(c21, f32x4.mul(s, b1));
    s = v128.load32_splat(pa + a3);
    c30 = f32x4.add(c30, f32x4.mul(s, b0));
    c31 = f32x4.add(c31, f32x4.mul(s, b1));
    pa += aColBytes;
    pb += 32;
  }
  const c1 = c + cRowBytes, c2 = c + (cRowBytes << 1), c3 = c + cRowBytes * 3;
  storeRow(c, c00, c01, width, accumulate ? c : bias, spill, gate);
  storeRow(c1, c10, c11, width, accumulate ? c1 : bias, spill, gateAt(gate, cRowBytes));
  storeRow(c2, c20, c21, width, accumulate ? c2 : bias, spill, gateAt(gate, cRowBytes << 1));
  storeRow(c3, c30, c31, width, accumulate ? c3 : bias, spill, gateAt(gate, cRowBytes * 3));
}

/** A 1 × 8 tile of C, for the rows left over below the last full 4-row tile. */
function tile1(
  a: usize,
  aColBytes: usize,
  panel: usize,
  k: i32,
  c: usize,
  width: i32,
  accumulate: bool,
  bias: usize,
  spill: usize,
  gate: usize,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let pa = a;
  let pb = panel;
  for (let p = 0; p < k; p++) {
    const s = v128.load32_splat(pa);
    c0 = f32x4.add(c0, f32x4.mul(s, v128.load(pb)));
    c1 = f32x4.add(c1, f32x4.mul(s, v128.load(pb, 16)));
    pa += aColBytes;
    pb += 32;
  }
  storeRow(c, c0, c1, width, accumulate ? c : bias, spill, gate);
}

/** Columns of C the last, wide tile computes: three float32x4 vectors. */
const WIDE_COLS: i32 = 12;

/**
 * Writes one wide tile row of 12 sums to C, only the first `width` (9 to
 * 12): the first 8 as {@link storeRow} does, the rest as a narrow row of 1 to 4.
 */
function storeWideRow(
  c: usize,
  lo: v128,
  mid: v128,
  hi: v128,
  width: i32,
  base: usize,
  spill: usize,
  gate: usize,
): void {
  storeRow(c, lo, mid, TILE_COLS, base, spill, gate);
  // The last 1 to 4 as a narrow row of their own (its second vector never stored).
  storeRow(c + 32, hi, hi, width - TILE_COLS, shifted(base, TILE_COLS), spill, gateAt(gate, 32));
}

/**
 * A 3 × 12 tile of C (its last 9 to 12 columns): 9 float32x4 accumulators in
 * registers for the whole k loop, each of A's values read once for all 12.
 */
function tile3Wide(
  a: usize,
  aRowBytes: usize,
  aColBytes: usize,
  panel: usize,
  k: i32,
  c: usize,
  cRowBytes: usize,
  width: i32,
  accumulate: bool,
  bias: usize,
  spill: usize,
  gate: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c02 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0), c12 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c22 = f32x4.splat(0);
  const a1 = aRowBytes, a2 = aRowBytes << 1;
  let pa = a;
  let pb = panel;
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const b2 = v128.load(pb, 32);
    let s = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(s, b0));
    c01 = f32x4.add(c01, f32x4.mul(s, b1));
    c02 = f32x4.add(c02, f32x4.mul(s, b2));
    s = v128.load32_splat(pa + a1);
    c10 = f32x4.add(c10, f32x4.mul(s, b0));
    c11 = f32x4.add(c11, f32x4.mul(s, b1));
    c12 = f32x4.add(c12, f32x4.mul(s, b2));
    s = v128.load32_splat(pa + a2);
    c20 = f32x4.add(c20, f32x4.mul(s, b0));
    c21 = f32x4.add(c21, f32x4.mul(s, b1));
    c22 = f32x4.add(c22, f32x4.mul(s, b2));
    pa += aColBytes;
    pb += 48;
  }
  const c1 = c + cRowBytes, c2 = c + (cRowBytes << 1);
  storeWideRow(c, c00, c01, c02, width, accumulate ? c : bias, spill, gate);
  storeWideRow(c1, c10, c11, c12, width, accumulate ? c1 : bias, spill, gateAt(gate, cRowBytes));
  storeWideRow(c2, c20, c21, c22, width, accumulate ? c2 : bias, spill, gateAt(gate, cRowBytes << 1));
}

/** A 1 × 12 tile of C, for the rows left over below the last full 3-row wide tile. */
function tile1Wide(
  a: usize,
  aColBytes: usize,
  panel: usize,
  k: i32,
  c: usize,
  width: i32,
  accumulate: bool,
  bias: usize,
  spill: usize,
  gate: usize,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0);
  let pa = a;
  let pb = panel;
  for (let p = 0; p < k; p++) {
    const s = v128.load32_splat(pa);
    c0 = f32x4.add(c0, f32x4.mul(s, v128.load(pb)));
    c1 = f32x4.add(c1, f32x4.mul(s, v128.load(pb, 16)));
    c2 = f32x4.add(c2, f32x4.mul(s, v128.load(pb, 32)));
    pa += aColBytes;
    pb += 48;
  }
  storeWideRow(c, c0, c1, c2, width, accumulate ? c : bias, spill, gate);
}

/**
 * C[i, j] = Σ_p A(i, p)·B(p, j) for rows [i0, i1) and columns [j0, j1) of C
 * (C[i, j] += … when `accumulate` is 1; bias[j] + … when `bias`, the address
 * of a row of C's width, is not 0; +0 where gate[i, j] ≤ 0 when `gate`, the
 * address of a matrix laid out as C, is not 0). `scratch` holds k·48 + 48
 * bytes that belong to the calling thread alone.
 */
export function gemm(
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
  k: i32,
  a: usize,
  aRow: i32,
  aCol: i32,
  b: usize,
  bRow: i32,
  bCol: i32,
  c: usize,
  ldc: i32,
  accumulate: i32,
  scratch: usize,
  bias: usize,
  gate: usize,
): void {
  const panel = scratch;
  const spill = scratch + <usize> k * 48;
  const aRowBytes = <usize> aRow << 2;
  const aColBytes = <usize> aCol << 2;
  const cRowBytes = <usize> ldc << 2;
  const add = accumulate != 0;
  for (let j = j0; j < j1; j += TILE_COLS) {
    const left = j1 - j;
    if (left > TILE_COLS && left <= WIDE_COLS) {
      // The last 9 to 12 columns (the 10 classes) in one pass over A, not two.
      wideColumns(i0, i1, j, left, k, a, aRowBytes, aColBytes, b, bRow, bCol, c, cRowBytes, add, bias, panel, spill, gate);
      return;
    }
    const width = min(TILE_COLS, left);
    packPanel(b, bRow, bCol, k, j, width, panel);
    const biasAt = shifted(bias, j);
    let i = i0;
    for (; i + TILE_ROWS <= i1; i += TILE_ROWS) {
      tile4(
        a + <usize> i * aRowBytes,
        aRowBytes,
        aColBytes,
        panel,
        k,
        c + <usize> i * cRowBytes + (<usize> j << 2),
        cRowBytes,
        width,
        add,
        biasAt,
        spill,
        gateAt(gate, <usize> i * cRowBytes + (<usize> j << 2)),
      );
    }
    for (; i < i1; i++) {
      tile1(
        a + <usize> i * aRowBytes,
        aColBytes,
        panel,
        k,
        c + <usize> i * cRowBytes + (<usize> j << 2),
        width,
        add,
        biasAt,
        spill,
        gateAt(gate, <usize> i * cRowBytes + (<usize> j << 2)),
      );
    }
  }
}

/** Columns [j, j + width) of {@link gemm}, width 9 to 12, in 3 × 12 tiles. */
function wideColumns(
  i0: i32,
  i1: i32,
  j: i32,
  width: i32,
  k: i32,
  a: usize,
  aRowBytes: usize,
  aColBytes: usize,
  b: usize,
  bRow: i32,
  bCol: i32,
  c: usize,
  cRowBytes: usize,
  add: bool,
  bias: usize,
  panel: usize,
  spill: usize,
  gate: usize,
): void {
  // (k, 12): the last columns of a C whose width leaves 9 to 12 (the 10 classes).
  packColumns(b, bRow, bCol, k, j, width, panel, WIDE_COLS);
  const biasAt = shifted(bias, j);
  let i = i0;
  for (; i + 3 <= i1; i += 3) {
    const at = <usize> i * cRowBytes + (<usize> j << 2);
    tile3Wide(a + <usize> i * aRowBytes, aRowBytes, aColBytes, panel, k, c + at, cRowBytes, width, add, biasAt, spill, gateAt(gate, at));
  }
  for (; i < i1; i++) {
    const at = <usize> i * cRowBytes + (<usize> j << 2);
    tile1Wide(a + <usize> i * aRowBytes, aColBytes, panel, k, c + at, width, add, biasAt, spill, gateAt(gate, at));
  }
}

// Sparse operands. Where A is mostly zeros (image pixels), the products below
// visit only its non-zero entries. Skipping a zero term changes no bit of the
// sum: every sum starts at +0 and a float sum is never −0 after that, so
// adding the ±0 that a zero term contributes returns the sum unchanged
// (for finite B). The order of the remaining terms is the dense kernel's.

/**
 * Stores four sums at dst + offset, each added to the value at base + offset
 * when base is not 0 (C's own row when accumulating, or a bias row).
 */
// @ts-ignore: decorator
@inline
function storeSum(dst: usize, offset: usize, sum: v128, base: usize): void {
  v128.store(dst + offset, base != 0 ? f32x4.add(v128.load(base + offset), sum) : sum);
}

/**
 * One row of C from a list of A's non-zero terms in that row: for each term t,
 * C[j] += val[t]·B(idx[t], j), summed per column in list order (which is p order),
 * 48 columns at a time in registers, then 16, then 4, then the last 1 to 3.
 */
function rowFromList(
  idx: usize,
  val: usize,
  count: i32,
  b: usize,
  bRowBytes: usize,
  j0: i32,
  j1: i32,
  c: usize,
  base: usize,
): void {
  let j = j0;
  for (; j + 48 <= j1; j += 48) {
    const left = j1 - j - 48;
    if (left > 0 && left <= 4) {
      // The last 49 to 52 columns in one pass: a second pass over the terms for the 1 to 4
      // past the 48 cost about a fifth of the first (50 hidden units: 805 → 662 µs for 48).
      rowWith52(idx, val, count, b + (<usize>j << 2), bRowBytes, c + (<usize>j << 2), left, shifted(base, j));
      return;
    }
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
    let c8 = f32x4.splat(0), c9 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    const column = b + (<usize>j << 2);
    let t = 0;
    // Two terms a turn (5% faster: the loop's own work is a large share here), then the last one.
    for (; t + 2 <= count; t += 2) {
      const at = <usize>t << 2;
      const s = v128.load32_splat(val + at);
      const src = column + <usize>load<i32>(idx + at) * bRowBytes;
      c0 = f32x4.add(c0, f32x4.mul(s, v128.load(src)));
      c1 = f32x4.add(c1, f32x4.mul(s, v128.load(src, 16)));
      c2 = f32x4.add(c2, f32x4.mul(s, v128.load(src, 32)));
      c3 = f32x4.add(c3, f32x4.mul(s, v128.load(src, 48)));
      c4 = f32x4.add(c4, f32x4.mul(s, v128.load(src, 64)));
      c5 = f32x4.add(c5, f32x4.mul(s, v128.load(src, 80)));
      c6 = f32x4.add(c6, f32x4.mul(s, v128.load(src, 96)));
      c7 = f32x4.add(c7, f32x4.mul(s, v128.load(src, 112)));
      c8 = f32x4.add(c8, f32x4.mul(s, v128.load(src, 128)));
      c9 = f32x4.add(c9, f32x4.mul(s, v128.load(src, 144)));
      c10 = f32x4.add(c10, f32x4.mul(s, v128.load(src, 160)));
      c11 = f32x4.add(c11, f32x4.mul(s, v128.load(src, 176)));
      const at2 = <usize>(t + 1) << 2;
      const s2 = v128.load32_splat(val + at2);
      const src2 = column + <usize>load<i32>(idx + at2) * bRowBytes;
      c0 = f32x4.add(c0, f32x4.mul(s2, v128.load(src2)));
      c1 = f32x4.add(c1, f32x4.mul(s2, v128.load(src2, 16)));
      c2 = f32x4.add(c2, f32x4.mul(s2, v128.load(src2, 32)));
      c3 = f32x4.add(c3, f32x4.mul(s2, v128.load(src2, 48)));
      c4 = f32x4.add(c4, f32x4.mul(s2, v128.load(src2, 64)));
      c5 = f32x4.add(c5, f32x4.mul(s2, v128.load(src2, 80)));
      c6 = f32x4.add(c6, f32x4.mul(s2, v128.load(src2, 96)));
      c7 = f32x4.add(c7, f32x4.mul(s2, v128.load(src2, 112)));
      c8 = f32x4.add(c8, f32x4.mul(s2, v128.load(src2, 128)));
      c9 = f32x4.add(c9, f32x4.mul(s2, v128.load(src2, 144)));
      c10 = f32x4.add(c10, f32x4.mul(s2, v128.load(src2, 160)));
      c11 = f32x4.add(c11, f32x4.mul(s2, v128.load(src2, 176)));
    }
    for (; t < count; t++) {
      const at = <usize>t << 2;
      const s = v128.load32_splat(val + at);
      const src = column + <usize>load<i32>(idx + at) * bRowBytes;
      c0 = f32x4.add(c0, f32x4.mul(s, v128.load(src)));
      c1 = f32x4.add(c1, f32x4.mul(s, v128.load(src, 16)));
      c2 = f32x4.add(c2, f32x4.mul(s, v128.load(src, 32)));
      c3 = f32x4.add(c3, f32x4.mul(s, v128.load(src, 48)));
      c4 = f32x4.add(c4, f32x4.mul(s, v128.load(src, 64)));
      c5 = f32x4.add(c5, f32x4.mul(s, v128.load(src, 80)));
      c6 = f32x4.add(c6, f32x4.mul(s, v128.load(src, 96)));
      c7 = f32x4.add(c7, f32x4.mul(s, v128.load(src, 112)));
      c8 = f32x4.add(c8, f32x4.mul(s, v128.load(src, 128)));
      c9 = f32x4.add(c9, f32x4.mul(s, v128.load(src, 144)));
      c10 = f32x4.add(c10, f32x4.mul(s, v128.load(src, 160)));
      c11 = f32x4.add(c11, f32x4.mul(s, v128.load(src, 176)));
    }
    const dst = c + (<usize>j << 2), from = shifted(base, j);
    storeSum(dst, 0, c0, from);
    storeSum(dst, 16, c1, from);
    storeSum(dst, 32, c2, from);
    storeSum(dst, 48, c3, from);
    storeSum(dst, 64, c4, from);
    storeSum(dst, 80, c5, from);
    storeSum(dst, 96, c6, from);
    storeSum(dst, 112, c7, from);
    storeSum(dst, 128, c8, from);
    storeSum(dst, 144, c9, from);
    storeSum(dst, 160, c10, from);
    storeSum(dst, 176, c11, from);
  }
  for (; j + 16 <= j1; j += 16) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    const column = b + (<usize>j << 2);
    for (let t = 0; t < count; t++) {
      const at = <usize>t << 2;
      const s = v128.load32_splat(val + at);
      const src = column + <usize>load<i32>(idx + at) * bRowBytes;
      c0 = f32x4.add(c0, f32x4.mul(s, v128.load(src)));
      c1 = f32x4.add(c1, f32x4.mul(s, v128.load(src, 16)));
      c2 = f32x4.add(c2, f32x4.mul(s, v128.load(src, 32)));
      c3 = f32x4.add(c3, f32x4.mul(s, v128.load(src, 48)));
    }
    const dst = c + (<usize>j << 2), from = shifted(base, j);
    storeSum(dst, 0, c0, from);
    storeSum(dst, 16, c1, from);
    storeSum(dst, 32, c2, from);
    storeSum(dst, 48, c3, from);
  }
  for (; j + 4 <= j1; j += 4) {
    let c0 = f32x4.splat(0);
    const column = b + (<usize>j << 2);
    for (let t = 0; t < count; t++) {
      const at = <usize>t << 2;
      const src = column + <usize>load<i32>(idx + at) * bRowBytes;
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(val + at), v128.load(src)));
    }
    storeSum(c + (<usize>j << 2), 0, c0, shifted(base, j));
  }
  if (j < j1) {
    // The last 1 to 3 columns as one vector: its other lanes read up to 12 bytes
    // past them (the memory always has that much slack) and are never stored.
    let c0 = f32x4.splat(0);
    const column = b + (<usize>j << 2);
    for (let t = 0; t < count; t++) {
      const at = <usize>t << 2;
      const src = column + <usize>load<i32>(idx + at) * bRowBytes;
      c0 = f32x4.add(c0, f32x4.mul(v128.load32_splat(val + at), v128.load(src)));
    }
    const dst = c + (<usize>j << 2), from = shifted(base, j);
    const left = j1 - j;
    storeLane(dst, 0, f32x4.extract_lane(c0, 0), from);
    if (left > 1) storeLane(dst, 4, f32x4.extract_lane(c0, 1), from);
    if (left > 2) storeLane(dst, 8, f32x4.extract_lane(c0, 2), from);
  }
}

/**
 * Columns [0, 48 + left) of {@link rowFromList} (left 1 to 4) at `column` in B and
 * `dst` in C: a thirteenth vector whose lanes past `left` read up to 12 bytes
 * past the columns (the memory always has that much slack) and are never stored.
 */
function rowWith52(
  idx: usize,
  val: usize,
  count: i32,
  column: usize,
  bRowBytes: usize,
  dst: usize,
  left: i32,
  base: usize,
): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  let c4 = f32x4.splat(0), c5 = f32x4.splat(0), c6 = f32x4.splat(0), c7 = f32x4.splat(0);
  let c8 = f32x4.splat(0), c9 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c12 = f32x4.splat(0);
  for (let t = 0; t < count; t++) {
    const at = <usize>t << 2;
    const s = v128.load32_splat(val + at);
    const src = column + <usize>load<i32>(idx + at) * bRowBytes;
    c0 = f32x4.add(c0, f32x4.mul(s, v128.load(src)));
    c1 = f32x4.add(c1, f32x4.mul(s, v128.load(src, 16)));
    c2 = f32x4.add(c2, f32x4.mul(s, v128.load(src, 32)));
    c3 = f32x4.add(c3, f32x4.mul(s, v128.load(src, 48)));
    c4 = f32x4.add(c4, f32x4.mul(s, v128.load(src, 64)));
    c5 = f32x4.add(c5, f32x4.mul(s, v128.load(src, 80)));
    c6 = f32x4.add(c6, f32x4.mul(s, v128.load(src, 96)));
    c7 = f32x4.add(c7, f32x4.mul(s, v128.load(src, 112)));
    c8 = f32x4.add(c8, f32x4.mul(s, v128.load(src, 128)));
    c9 = f32x4.add(c9, f32x4.mul(s, v128.load(src, 144)));
    c10 = f32x4.add(c10, f32x4.mul(s, v128.load(src, 160)));
    c11 = f32x4.add(c11, f32x4.mul(s, v128.load(src, 176)));
    c12 = f32x4.add(c12, f32x4.mul(s, v128.load(src, 192)));
  }
  storeSum(dst, 0, c0, base);
  storeSum(dst, 16, c1, base);
  storeSum(dst, 32, c2, base);
  storeSum(dst, 48, c3, base);
  storeSum(dst, 64, c4, base);
  storeSum(dst, 80, c5, base);
  storeSum(dst, 96, c6, base);
  storeSum(dst, 112, c7, base);
  storeSum(dst, 128, c8, base);
  storeSum(dst, 144, c9, base);
  storeSum(dst, 160, c10, base);
  storeSum(dst, 176, c11, base);
  storeLanes(dst + 192, base != 0 ? f32x4.add(v128.load(base, 192), c12) : c12, left);
}

/** `base` moved on by `j` columns, or 0 when it is 0 (nothing to add). */
// @ts-ignore: decorator
@inline
function shifted(base: usize, j: i32): usize {
  return base != 0 ? base + (<usize>j << 2) : 0;
}

/** Stores the first `left` (1 to 4) lanes of `sums` at `at`. */
// @ts-ignore: decorator
@inline
function storeLanes(at: usize, sums: v128, left: i32): void {
  if (left == 4) {
    v128.store(at, sums);
  } else if (left == 1) {
    v128.store32_lane(at, sums, 0);
  } else {
    v128.store64_lane(at, sums, 0);
    if (left == 3) v128.store32_lane(at, sums, 2, 8);
  }
}

/** Stores one sum at dst + offset, added to the value at base + offset when base is not 0. */
// @ts-ignore: decorator
@inline
function storeLane(dst: usize, offset: usize, sum: f32, base: usize): void {
  store<f32>(dst + offset, base != 0 ? load<f32>(base + offset) + sum : sum);
}

/**
 * Like {@link gemm} for a mostly-zero A, with the same arguments; B must be
 * untransposed (bCol = 1). `scratch` holds 8·(i1 − i0 + 1)·(k + 1) bytes for
 * this thread alone: the lists of A's non-zero terms.
 */
export function gemmSparseA(
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
  k: i32,
  a: usize,
  aRow: i32,
  aCol: i32,
  b: usize,
  bRow: i32,
  bCol: i32,
  c: usize,
  ldc: i32,
  accumulate: i32,
  scratch: usize,
  bias: usize,
): void {
  assert(bCol == 1);
  const bRowBytes = <usize>bRow << 2;
  const cRowBytes = <usize>ldc << 2;
  const add = accumulate != 0;
  if (aCol == 1) {
    // A's rows are contiguous: list each row's non-zero terms, then use them at once.
    const idx = scratch;
    const val = scratch + (<usize>k << 2);
    for (let i = i0; i < i1; i++) {
      const row = a + (<usize>(i * aRow) << 2);
      let count = 0;
      for (let p = 0; p < k; p++) {
        const x = load<f32>(row + (<usize>p << 2));
        // Written every time, kept only when non-zero: no branch to mispredict.
        store<i32>(idx + (<usize>count << 2), p);
        store<f32>(val + (<usize>count << 2), x);
        count += i32(x != 0);
      }
      const ci = c + <usize>i * cRowBytes;
      rowFromList(idx, val, count, b, bRowBytes, j0, j1, ci, add ? ci : bias);
    }
    return;
  }
  // A is stored transposed, each of its rows i a column of the array: bucket the
  // non-zero terms by i in one pass over the array (in p order), then as above.
  const rows = i1 - i0;
  const aColBytes = <usize>aCol << 2;
  const starts = scratch; // rows + 1 counters, then the start of each row's list
  memory.fill(starts, 0, <usize>(rows + 1) << 2);
  for (let p = 0; p < k; p++) {
    const line = a + p * aColBytes + (<usize>i0 << 2);
    for (let r = 0; r < rows; r++) {
      const at = starts + (<usize>(r + 1) << 2);
      store<i32>(at, load<i32>(at) + i32(load<f32>(line + (<usize>r << 2)) != 0));
    }
  }
  for (let r = 0; r < rows; r++) {
    const at = starts + (<usize>(r + 1) << 2);
    store<i32>(at, load<i32>(at) + load<i32>(at - 4));
  }
  const total = load<i32>(starts + (<usize>rows << 2));
  const idx = starts + (<usize>(rows + 1) << 2);
  const val = idx + (<usize>total << 2);
  const fill = val + (<usize>total << 2); // rows cursors
  memory.copy(fill, starts, <usize>rows << 2);
  for (let p = 0; p < k; p++) {
    const line = a + p * aColBytes + (<usize>i0 << 2);
    for (let r = 0; r < rows; r++) {
      const x = load<f32>(line + (<usize>r << 2));
      if (x != 0) {
        const cursor = fill + (<usize>r << 2);
        const t = load<i32>(cursor);
        store<i32>(idx + (<usize>t << 2), p);
        store<f32>(val + (<usize>t << 2), x);
        store<i32>(cursor, t + 1);
      }
    }
  }
  listRows(starts, idx, val, rows, b, bRowBytes, j0, j1, c + <usize>i0 * cRowBytes, cRowBytes, add);
}

/**
 * Loads one value from every 64-byte line of a stored row's terms (its
 * indices and values), so that they are on their way into the cache before
 * they are needed: WebAssembly has no prefetch. Returns their bits' sum.
 */
function touchRow(rowStart: usize, idx: usize, val: usize, row: i32): i32 {
  const first = load<i32>(rowStart + (<usize>row << 2));
  const end = load<i32>(rowStart + (<usize>(row + 1) << 2));
  let sum: i32 = 0;
  for (let t = first; t < end; t += 16) {
    sum += load<i32>(idx + (<usize>t << 2)) + load<i32>(val + (<usize>t << 2));
  }
  return sum;
}

/** Which index row stored row r is. */
// @ts-ignore: decorator
@inline
function rowAt(rowIds: usize, r: i32): i32 {
  return load<i32>(rowIds + (<usize>r << 2));
}

/** The first t in [t0, t1) with idx[t] ≥ target, idx being ascending there (t1 when none). */
function firstAtLeast(idx: usize, t0: i32, t1: i32, target: i32): i32 {
  if (target <= 0) return t0;
  let lo = t0, hi = t1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (load<i32>(idx + (<usize>mid << 2)) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Like {@link gemmSparseA} for an A whose stored rows come from a prepared
 * sparse (CSR) matrix: stored row r of A is CSR row rowIds[r], whose non-zero
 * terms are idx/val[rowStart[row] .. rowStart[row + 1]) in column order.
 * Untransposed (transA = 0), C's row i is stored row i; transposed, C's row i
 * is column i and the k stored rows are summed over. Scratch as for gemmSparseA.
 * Untransposed and not accumulating, a non-zero `bias` is the address of a row
 * of n values added to every row of the product, as if C had held it and were
 * accumulated into (a layer's biases, with no pass to write them into C first).
 */
export function gemmCsr(
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  transA: i32,
  b: usize,
  bRow: i32,
  c: usize,
  ldc: i32,
  accumulate: i32,
  scratch: usize,
  bias: usize,
): void {
  const bRowBytes = <usize>bRow << 2;
  const cRowBytes = <usize>ldc << 2;
  const add = accumulate != 0;
  if (transA == 0) {
    // Column panels outside, rows inside: the panel of B that every row reads stays in L2.
    let touched: i32 = 0;
    for (let j = j0; j < j1; j += PANEL_COLS) {
      const jEnd = min(j1, j + PANEL_COLS);
      for (let i = i0; i < i1; i++) {
        // The rows of a minibatch lie anywhere in the index, so each is a miss in every cache. On
        // the first panel, every fourth row, touch the terms of the four rows 4 to 7 ahead, and
        // where the terms of rows 8 to 11 start (the touches wait on that lookup otherwise). A
        // touch holds the core until its line arrives, so four rows' lines at once share one wait
        // (cold rows, 1 200 of 50 columns: 1 120 → 925 µs on one thread, 790 → 540 on two).
        if (j == j0 && ((i - i0) & 3) == 0) {
          if (i == i0) {
            for (let r = i + 1; r < i + 4 && r < i1; r++) touched += touchRow(rowStart, idx, val, rowAt(rowIds, r));
            for (let r = i + 4; r < i + 8 && r < i1; r++) touched += load<i32>(rowStart + (<usize>rowAt(rowIds, r) << 2));
          }
          for (let r = i + 4; r < i + 8 && r < i1; r++) touched += touchRow(rowStart, idx, val, rowAt(rowIds, r));
          for (let r = i + 8; r < i + 12 && r < i1; r++) touched += load<i32>(rowStart + (<usize>rowAt(rowIds, r) << 2));
        }
        const row = rowAt(rowIds, i);
        const first = load<i32>(rowStart + (<usize>row << 2));
        const count = load<i32>(rowStart + (<usize>(row + 1) << 2)) - first;
        const at = <usize>first << 2;
        const ci = c + <usize>i * cRowBytes;
        rowFromList(idx + at, val + at, count, b, bRowBytes, j, jEnd, ci, add ? ci : bias);
      }
    }
    // Kept, so the touches are not optimised away; never read.
    store<i32>(scratch, touched);
    return;
  }
  // A stored row p whose row of B is all zeros adds only ±0 terms (A being finite), which
  // cannot change a sum: skip it. Saturated sigmoids give many such rows of a gradient.
  const live = scratch;
  for (let p = 0; p < k; p++) {
    const bp = b + <usize>p * bRowBytes;
    let any = false;
    for (let j = j0; j < j1 && !any; j++) any = load<f32>(bp + (<usize>j << 2)) != 0;
    store<i32>(live + (<usize>p << 2), i32(any));
  }
  // Bucket the live stored rows' terms by column (C's row), keeping p order within each. Each
  // stored row's terms are in column order, so this block visits only its own: from the first
  // at or past i0 (found once, by bisection) up to i1.
  const rows = i1 - i0;
  const starts = scratch + (<usize>k << 2);
  memory.fill(starts, 0, <usize>(rows + 1) << 2);
  const firsts = starts + (<usize>(rows + 1) << 2); // per stored row: its first term in the block
  for (let p = 0; p < k; p++) {
    if (load<i32>(live + (<usize>p << 2)) == 0) continue;
    const row = rowAt(rowIds, p);
    const end = load<i32>(rowStart + (<usize>(row + 1) << 2));
    let t = firstAtLeast(idx, load<i32>(rowStart + (<usize>row << 2)), end, i0);
    store<i32>(firsts + (<usize>p << 2), t);
    for (; t < end; t++) {
      const r = load<i32>(idx + (<usize>t << 2)) - i0;
      if (r >= rows) break;
      const at = starts + (<usize>(r + 1) << 2);
      store<i32>(at, load<i32>(at) + 1);
    }
  }
  for (let r = 0; r < rows; r++) {
    const at = starts + (<usize>(r + 1) << 2);
    store<i32>(at, load<i32>(at) + load<i32>(at - 4));
  }
  const total = load<i32>(starts + (<usize>rows << 2));
  const cursors = firsts + (<usize>k << 2);
  const listIdx = cursors + (<usize>rows << 2);
  const listVal = listIdx + (<usize>total << 2);
  memory.copy(cursors, starts, <usize>rows << 2);
  for (let p = 0; p < k; p++) {
    if (load<i32>(live + (<usize>p << 2)) == 0) continue;
    const row = rowAt(rowIds, p);
    const end = load<i32>(rowStart + (<usize>(row + 1) << 2));
    for (let t = load<i32>(firsts + (<usize>p << 2)); t < end; t++) {
      const r = load<i32>(idx + (<usize>t << 2)) - i0;
      if (r >= rows) break;
      const cursor = cursors + (<usize>r << 2);
      const slot = <usize>load<i32>(cursor) << 2;
      store<i32>(listIdx + slot, p);
      store<f32>(listVal + slot, load<f32>(val + (<usize>t << 2)));
      store<i32>(cursor, load<i32>(cursor) + 1);
    }
  }
  listRows(starts, listIdx, listVal, rows, b, bRowBytes, j0, j1, c + <usize>i0 * cRowBytes, cRowBytes, add);
}

/**
 * Like {@link gemmCsr} transposed (C = Aᵀ·B, A's stored rows from the index),
 * for a C small enough to stay in cache: instead of bucketing A's terms by C's
 * row first, each stored row p scatters its terms (i, v) into C, C[i, j] +=
 * v·B(p, j), in p order, so every C[i, j] sums its terms in the reference's
 * order, starting from +0. B(p, ·) stays in registers across the row's terms.
 * Columns go 48, then 16, then 4 at a time, then the last 1 to 3; C's rows are
 * [i0, i1) (each stored row's terms found from i0 by bisection). A mostly-zero
 * B (at most 64 columns) takes {@link scatterColumns} instead, which sums in
 * `scratch`, this thread's own, (i1 − i0)·(j1 − j0) floats. Never accumulates.
 */
export function gemmCsrScatter(
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  b: usize,
  bRow: i32,
  c: usize,
  ldc: i32,
  scratch: usize,
): void {
  const bRowBytes = <usize>bRow << 2;
  const cRowBytes = <usize>ldc << 2;
  if (j1 - j0 <= 64 && mostlyZeroColumns(k, b, bRowBytes, j0, j1)) {
    scatterColumns(i0, i1, j0, j1, k, rowStart, idx, val, rowIds, b, bRowBytes, c, cRowBytes, scratch);
    return;
  }
  for (let i = i0; i < i1; i++) {
    memory.fill(c + <usize>i * cRowBytes + (<usize>j0 << 2), 0, <usize>(j1 - j0) << 2);
  }
  let j = j0;
  for (; j + 48 <= j1; j += 48) {
    const left = j1 - j - 48;
    if (left > 0 && left <= 4) {
      // The last 49 to 52 columns in one pass over the terms, as in rowFromList.
      scatter52(i0, i1, j, left, k, rowStart, idx, val, rowIds, b, bRowBytes, c, cRowBytes);
      return;
    }
    scatter48(i0, i1, j, k, rowStart, idx, val, rowIds, b, bRowBytes, c, cRowBytes);
  }
  for (; j + 16 <= j1; j += 16) scatter16(i0, i1, j, k, rowStart, idx, val, rowIds, b, bRowBytes, c, cRowBytes);
  for (; j < j1; j += 4) scatter4(i0, i1, j, min(4, j1 - j), k, rowStart, idx, val, rowIds, b, bRowBytes, c, cRowBytes);
}

/**
 * Which of B(p, ·)'s columns [0, width) at `src` (width at most 64) are not ±0,
 * one bit each. The last vector reads up to 12 bytes past them (the memory's
 * slack); those lanes are masked off.
 */
// @ts-ignore: decorator
@inline
function nonZeroColumns(src: usize, width: i32): u64 {
  const magnitude = i32x4.splat(0x7fffffff);
  const zero = i32x4.splat(0);
  let bits: u64 = 0;
  for (let q = 0; q < width; q += 4) {
    const lanes = i32x4.ne(v128.and(v128.load(src + (<usize>q << 2)), magnitude), zero);
    bits |= <u64>i32x4.bitmask(lanes) << <u64>q;
  }
  return width == 64 ? bits : bits & ((<u64>1 << <u64>width) - 1);
}

/**
 * Whether B's rows (columns [j0, j1), at most 64) hold few non-zeros, on
 * average at most 4 a row that has any: a saturated sigmoid layer's gradient
 * (the textbook's, 98% zeros, about 2 of 50 in a row that has one).
 */
function mostlyZeroColumns(k: i32, b: usize, bRowBytes: usize, j0: i32, j1: i32): bool {
  let rows = 0, nonZeros = 0;
  for (let p = 0; p < k; p++) {
    const count = <i32>popcnt(nonZeroColumns(b + <usize>p * bRowBytes + (<usize>j0 << 2), j1 - j0));
    rows += i32(count != 0);
    nonZeros += count;
  }
  return nonZeros <= rows * 4;
}

/**
 * {@link gemmCsrScatter} for a B whose rows are mostly zeros (columns [j0, j1),
 * at most 64): each stored row p adds its terms only to the columns where
 * B(p, ·) is not ±0, one column at a time over its terms. The sums build up
 * column by column in `scratch` ((i1 − i0)·(j1 − j0) floats, C's block
 * transposed), where a column's cells for a row's terms (A's columns, in
 * order) lie a few to a cache line, where in C each takes a line of its own;
 * then the block is copied into C. Still in p order for every C[i, j], from
 * +0, and a skipped ±0 term changes no sum (see above), so the bits are the same.
 */
function scatterColumns(
  i0: i32,
  i1: i32,
  j0: i32,
  j1: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  b: usize,
  bRowBytes: usize,
  c: usize,
  cRowBytes: usize,
  scratch: usize,
): void {
  const width = j1 - j0;
  const column = <usize>j0 << 2;
  const lineBytes = <usize>(i1 - i0) << 2;
  memory.fill(scratch, 0, <usize>width * lineBytes);
  // Where C's row i lands in each line of the scratch: at i − i0.
  const origin = scratch - (<usize>i0 << 2);
  for (let p = 0; p < k; p++) {
    const src = b + <usize>p * bRowBytes + column;
    const columns = nonZeroColumns(src, width);
    if (columns == 0) continue;
    const span = termsFrom(rowStart, idx, rowIds, p, i0);
    const t0 = <i32>(span >> 32);
    // The first column finds where the block's terms end.
    let t1 = <i32>span;
    let left = columns;
    while (left != 0) {
      const j = <usize>ctz(left);
      left &= left - 1;
      const factor = load<f32>(src + (j << 2));
      const line = origin + j * lineBytes;
      let t = t0;
      for (; t < t1; t++) {
        const i = load<i32>(idx + (<usize>t << 2));
        if (i >= i1) break;
        const cell = line + (<usize>i << 2);
        store<f32>(cell, load<f32>(cell) + load<f32>(val + (<usize>t << 2)) * factor);
      }
      t1 = t;
    }
  }
  for (let i = i0; i < i1; i++) {
    const row = c + <usize>i * cRowBytes + column;
    const from = origin + (<usize>i << 2);
    for (let j = 0; j < width; j++) {
      store<f32>(row + (<usize>j << 2), load<f32>(from + <usize>j * lineBytes));
    }
  }
}

/** Where stored row p's terms at or past C's row i0 begin, and where they end. */
// @ts-ignore: decorator
@inline
function termsFrom(rowStart: usize, idx: usize, rowIds: usize, p: i32, i0: i32): u64 {
  const row = rowAt(rowIds, p);
  const end = load<i32>(rowStart + (<usize>(row + 1) << 2));
  const first = firstAtLeast(idx, load<i32>(rowStart + (<usize>row << 2)), end, i0);
  return (<u64>first << 32) | <u64><u32>end;
}

/** Columns [j, j + 48) of {@link gemmCsrScatter}: twelve vectors of B(p, ·) in registers. */
function scatter48(
  i0: i32,
  i1: i32,
  j: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  b: usize,
  bRowBytes: usize,
  c: usize,
  cRowBytes: usize,
): void {
  scatterWide(i0, i1, j, false, 0, k, rowStart, idx, val, rowIds, b, bRowBytes, c, cRowBytes);
}

/** Columns [j, j + 48 + left) of {@link gemmCsrScatter}, left 1 to 4: see {@link scatterWide}. */
function scatter52(
  i0: i32,
  i1: i32,
  j: i32,
  left: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  b: usize,
  bRowBytes: usize,
  c: usize,
  cRowBytes: usize,
): void {
  scatterWide(i0, i1, j, true, left, k, rowStart, idx, val, rowIds, b, bRowBytes, c, cRowBytes);
}

/**
 * Columns [j, j + 48) of {@link gemmCsrScatter}, twelve vectors of B(p, ·) in
 * registers; `wide`, columns [j, j + 48 + left) (left 1 to 4), with a
 * thirteenth whose lanes past `left` read past the columns (the memory's
 * slack), never counted as non-zero and never stored. Inlined, with `wide` a
 * constant, so neither copy tests it at run time.
 */
// @ts-ignore: decorator
@inline
function scatterWide(
  i0: i32,
  i1: i32,
  j: i32,
  wide: bool,
  left: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  b: usize,
  bRowBytes: usize,
  c: usize,
  cRowBytes: usize,
): void {
  const column = <usize>j << 2;
  const magnitude = i32x4.splat(0x7fffffff);
  const tail = v128.and(magnitude, i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(left)));
  for (let p = 0; p < k; p++) {
    const src = b + <usize>p * bRowBytes + column;
    const b0 = v128.load(src), b1 = v128.load(src, 16), b2 = v128.load(src, 32);
    const b3 = v128.load(src, 48), b4 = v128.load(src, 64), b5 = v128.load(src, 80);
    const b6 = v128.load(src, 96), b7 = v128.load(src, 112), b8 = v128.load(src, 128);
    const b9 = v128.load(src, 144), b10 = v128.load(src, 160), b11 = v128.load(src, 176);
    const b12 = wide ? v128.load(src, 192) : i32x4.splat(0);
    const any = v128.or(
      v128.or(v128.or(v128.or(b0, b1), v128.or(b2, b3)), v128.or(v128.or(b4, b5), v128.or(b6, b7))),
      v128.or(v128.or(b8, b9), v128.or(b10, b11)),
    );
    const live = wide
      ? v128.or(v128.and(any, magnitude), v128.and(b12, tail))
      : v128.and(any, magnitude);
    if (!v128.any_true(live)) continue;
    const span = termsFrom(rowStart, idx, rowIds, p, i0);
    const end = <i32>span;
    for (let t = <i32>(span >> 32); t < end; t++) {
      const i = load<i32>(idx + (<usize>t << 2));
      if (i >= i1) break;
      const s = v128.load32_splat(val + (<usize>t << 2));
      const dst = c + <usize>i * cRowBytes + column;
      v128.store(dst, f32x4.add(v128.load(dst), f32x4.mul(s, b0)));
      v128.store(dst, f32x4.add(v128.load(dst, 16), f32x4.mul(s, b1)), 16);
      v128.store(dst, f32x4.add(v128.load(dst, 32), f32x4.mul(s, b2)), 32);
      v128.store(dst, f32x4.add(v128.load(dst, 48), f32x4.mul(s, b3)), 48);
      v128.store(dst, f32x4.add(v128.load(dst, 64), f32x4.mul(s, b4)), 64);
      v128.store(dst, f32x4.add(v128.load(dst, 80), f32x4.mul(s, b5)), 80);
      v128.store(dst, f32x4.add(v128.load(dst, 96), f32x4.mul(s, b6)), 96);
      v128.store(dst, f32x4.add(v128.load(dst, 112), f32x4.mul(s, b7)), 112);
      v128.store(dst, f32x4.add(v128.load(dst, 128), f32x4.mul(s, b8)), 128);
      v128.store(dst, f32x4.add(v128.load(dst, 144), f32x4.mul(s, b9)), 144);
      v128.store(dst, f32x4.add(v128.load(dst, 160), f32x4.mul(s, b10)), 160);
      v128.store(dst, f32x4.add(v128.load(dst, 176), f32x4.mul(s, b11)), 176);
      if (wide) storeLanes(dst + 192, f32x4.add(v128.load(dst, 192), f32x4.mul(s, b12)), left);
    }
  }
}

/** Columns [j, j + 16) of {@link gemmCsrScatter}. */
function scatter16(
  i0: i32,
  i1: i32,
  j: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  b: usize,
  bRowBytes: usize,
  c: usize,
  cRowBytes: usize,
): void {
  const column = <usize>j << 2;
  const magnitude = i32x4.splat(0x7fffffff);
  for (let p = 0; p < k; p++) {
    const src = b + <usize>p * bRowBytes + column;
    const b0 = v128.load(src), b1 = v128.load(src, 16), b2 = v128.load(src, 32), b3 = v128.load(src, 48);
    if (!v128.any_true(v128.and(v128.or(v128.or(b0, b1), v128.or(b2, b3)), magnitude))) continue;
    const span = termsFrom(rowStart, idx, rowIds, p, i0);
    const end = <i32>span;
    for (let t = <i32>(span >> 32); t < end; t++) {
      const i = load<i32>(idx + (<usize>t << 2));
      if (i >= i1) break;
      const s = v128.load32_splat(val + (<usize>t << 2));
      const dst = c + <usize>i * cRowBytes + column;
      v128.store(dst, f32x4.add(v128.load(dst), f32x4.mul(s, b0)));
      v128.store(dst, f32x4.add(v128.load(dst, 16), f32x4.mul(s, b1)), 16);
      v128.store(dst, f32x4.add(v128.load(dst, 32), f32x4.mul(s, b2)), 32);
      v128.store(dst, f32x4.add(v128.load(dst, 48), f32x4.mul(s, b3)), 48);
    }
  }
}

/**
 * Columns [j, j + width) of {@link gemmCsrScatter}, width 1 to 4: one vector,
 * read whole (the memory has slack past every buffer) but stored lane by lane,
 * so the next row of C, which another thread may be writing, is never touched.
 */
function scatter4(
  i0: i32,
  i1: i32,
  j: i32,
  width: i32,
  k: i32,
  rowStart: usize,
  idx: usize,
  val: usize,
  rowIds: usize,
  b: usize,
  bRowBytes: usize,
  c: usize,
  cRowBytes: usize,
): void {
  const column = <usize>j << 2;
  const magnitude = i32x4.splat(0x7fffffff);
  // Lanes past the width are masked off B, so they add nothing to what they read.
  const keep = i32x4.gt_s(i32x4.splat(width), i32x4(0, 1, 2, 3));
  for (let p = 0; p < k; p++) {
    const b0 = v128.and(v128.load(b + <usize>p * bRowBytes + column), keep);
    if (!v128.any_true(v128.and(b0, magnitude))) continue;
    const span = termsFrom(rowStart, idx, rowIds, p, i0);
    const end = <i32>span;
    for (let t = <i32>(span >> 32); t < end; t++) {
      const i = load<i32>(idx + (<usize>t << 2));
      if (i >= i1) break;
      const s = v128.load32_splat(val + (<usize>t << 2));
      const dst = c + <usize>i * cRowBytes + column;
      const sum = f32x4.add(v128.load(dst), f32x4.mul(s, b0));
      if (width == 4) {
        v128.store(dst, sum);
      } else {
        store<f32>(dst, f32x4.extract_lane(sum, 0));
        if (width > 1) store<f32>(dst, f32x4.extract_lane(sum, 1), 4);
        if (width > 2) store<f32>(dst, f32x4.extract_lane(sum, 2), 8);
      }
    }
  }
}

/**
 * Rows [0, rows) of C from their lists (row r's terms are entries
 * [starts[r], starts[r + 1]) of idx/val), a panel of columns at a time.
 */
function listRows(
  starts: usize,
  idx: usize,
  val: usize,
  rows: i32,
  b: usize,
  bRowBytes: usize,
  j0: i32,
  j1: i32,
  c: usize,
  cRowBytes: usize,
  accumulate: bool,
): void {
  // Column panels outside, rows inside: the panel of B that every row reads stays in cache.
  for (let j = j0; j < j1; j += PANEL_COLS) {
    const jEnd = min(j1, j + PANEL_COLS);
    for (let r = 0; r < rows; r++) {
      const first = load<i32>(starts + (<usize>r << 2));
      const count = load<i32>(starts + (<usize>(r + 1) << 2)) - first;
      const at = <usize>first << 2;
      const ci = c + <usize>r * cRowBytes;
      rowFromList(idx + at, val + at, count, b, bRowBytes, j, jEnd, ci, accumulate ? ci : 0);
    }
  }
}

/**
 * C = op(A)·op(B) for C's rows [i0, i1), each element then stored as a
 * sigmoid layer's backward: v·s·(1 − s) in float64, s the layer's activation
 * at the same place of `gate`, 0 where a float32 could hold it only as a
 * denormal (model/activations.ts `activateBackward("sigmoid")`, bit for bit).
 * Sums run p = 0 … k − 1 in float32, as every product here, sixteen columns
 * at a time, then four, from B packed into `scratch` (k rows of n rounded up
 * to 4, the padding zeros). A saturated unit (s exactly 0 or 1) gets +0 from
 * any finite sum, so sixteen or four columns that are all saturated are stored
 * as zeros without their sums when the largest |A|·|B| shows every sum finite:
 * raw pixels saturate 98% of the textbook's hidden units, whose gradient is
 * then mostly such zeros.
 */
export function gemmSigmoidGated(
  i0: i32,
  i1: i32,
  m: i32,
  n: i32,
  k: i32,
  a: usize,
  aRow: i32,
  aCol: i32,
  b: usize,
  bRow: i32,
  bCol: i32,
  gate: usize,
  c: usize,
  scratch: usize,
): void {
  // Every |A(i, p)·B(p, j)| ≤ maxA·maxB, and a sum of k of them, each step rounded up by at
  // most 2^-24, stays within twice k·maxA·maxB (k < 2^23), short of float32's largest; NaN
  // and ±Infinity fail the test.
  const bound = <f64>largestMagnitude(a, m * k) * <f64>largestMagnitude(b, k * n) * <f64>k * 2;
  const skip = bound < 3e38 && k < 1 << 23;
  const width = (n + 3) & ~3;
  const widthBytes = <usize>width << 2;
  for (let p = 0; p < k; p++) {
    const row = scratch + <usize>p * widthBytes;
    for (let j = 0; j < n; j++) {
      store<f32>(row + (<usize>j << 2), load<f32>(b + ((<usize>p * <usize>bRow + <usize>j * <usize>bCol) << 2)));
    }
    for (let j = n; j < width; j++) store<f32>(row + (<usize>j << 2), 0);
  }
  const zeros = f32x4.splat(0), ones = f32x4.splat(1);
  for (let i = i0; i < i1; i++) {
    const at = c + ((<usize>i * <usize>n) << 2), gateAt = gate + ((<usize>i * <usize>n) << 2);
    const aAt = a + ((<usize>i * <usize>aRow) << 2), aStep = <usize>aCol << 2;
    let j = 0;
    // Sixteen columns at a time first, their gates tested at once: most often all saturated.
    for (; j + 16 <= n; j += 16) {
      const g = gateAt + (<usize>j << 2);
      const s0 = v128.load(g), s1 = v128.load(g, 16), s2 = v128.load(g, 32), s3 = v128.load(g, 48);
      const out = at + (<usize>j << 2);
      if (skip) {
        const d0 = v128.or(f32x4.eq(s0, zeros), f32x4.eq(s0, ones));
        const d1 = v128.or(f32x4.eq(s1, zeros), f32x4.eq(s1, ones));
        const d2 = v128.or(f32x4.eq(s2, zeros), f32x4.eq(s2, ones));
        const d3 = v128.or(f32x4.eq(s3, zeros), f32x4.eq(s3, ones));
        if (i32x4.all_true(v128.and(v128.and(d0, d1), v128.and(d2, d3)))) {
          v128.store(out, zeros);
          v128.store(out, zeros, 16);
          v128.store(out, zeros, 32);
          v128.store(out, zeros, 48);
          continue;
        }
      }
      let c0 = zeros, c1 = zeros, c2 = zeros, c3 = zeros;
      const packed = scratch + (<usize>j << 2);
      for (let p = 0; p < k; p++) {
        const x = v128.load32_splat(aAt + <usize>p * aStep);
        const row = packed + <usize>p * widthBytes;
        c0 = f32x4.add(c0, f32x4.mul(x, v128.load(row)));
        c1 = f32x4.add(c1, f32x4.mul(x, v128.load(row, 16)));
        c2 = f32x4.add(c2, f32x4.mul(x, v128.load(row, 32)));
        c3 = f32x4.add(c3, f32x4.mul(x, v128.load(row, 48)));
      }
      v128.store(out, sigmoidBackward4(c0, s0));
      v128.store(out, sigmoidBackward4(c1, s1), 16);
      v128.store(out, sigmoidBackward4(c2, s2), 32);
      v128.store(out, sigmoidBackward4(c3, s3), 48);
    }
    for (; j + 4 <= n; j += 4) {
      const s = v128.load(gateAt + (<usize>j << 2));
      if (skip && i32x4.all_true(v128.or(f32x4.eq(s, zeros), f32x4.eq(s, ones)))) {
        v128.store(at + (<usize>j << 2), zeros);
        continue;
      }
      v128.store(at + (<usize>j << 2), sigmoidGatedSums(aAt, aStep, k, scratch + (<usize>j << 2), widthBytes, s));
    }
    if (j < n) {
      // The last 1 to 3 columns: their gates one at a time (no read past the row), the padding
      // lanes' results never stored.
      const left = n - j, first = gateAt + (<usize>j << 2);
      const s0 = load<f32>(first), s1 = left > 1 ? load<f32>(first, 4) : 0;
      const s2 = left > 2 ? load<f32>(first, 8) : 0;
      const saturated = (s0 == 0 || s0 == 1) && (s1 == 0 || s1 == 1) && (s2 == 0 || s2 == 1);
      const s = f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(s0), 1, s1), 2, s2);
      const sums = skip && saturated ? zeros : sigmoidGatedSums(aAt, aStep, k, scratch + (<usize>j << 2), widthBytes, s);
      store<f32>(at + (<usize>j << 2), f32x4.extract_lane(sums, 0));
      if (n - j > 1) store<f32>(at + (<usize>j << 2), f32x4.extract_lane(sums, 1), 4);
      if (n - j > 2) store<f32>(at + (<usize>j << 2), f32x4.extract_lane(sums, 2), 8);
    }
  }
}

/**
 * Four columns of {@link gemmSigmoidGated}'s row: the sums of A's row (k values
 * `aStep` bytes apart) times the packed B's four columns at `packed`, each
 * then v·s·(1 − s) in float64 with denormals flushed.
 */
// @ts-ignore: decorator
@inline
function sigmoidGatedSums(aAt: usize, aStep: usize, k: i32, packed: usize, widthBytes: usize, s: v128): v128 {
  let sums = f32x4.splat(0);
  for (let p = 0; p < k; p++) {
    sums = f32x4.add(sums, f32x4.mul(v128.load32_splat(aAt + <usize>p * aStep), v128.load(packed + <usize>p * widthBytes)));
  }
  return sigmoidBackward4(sums, s);
}

/** Four sums v, each then {@link sigmoidBackward2} of v and s in float64. */
// @ts-ignore: decorator
@inline
function sigmoidBackward4(sums: v128, s: v128): v128 {
  const low = sigmoidBackward2(f64x2.promote_low_f32x4(sums), f64x2.promote_low_f32x4(s));
  const high = sigmoidBackward2(
    f64x2.promote_low_f32x4(i32x4.shuffle(sums, sums, 2, 3, 0, 1)),
    f64x2.promote_low_f32x4(i32x4.shuffle(s, s, 2, 3, 0, 1)),
  );
  return i32x4.shuffle(f32x4.demote_f64x2_zero(low), f32x4.demote_f64x2_zero(high), 0, 1, 4, 5);
}

/**
 * The largest |x| of `count` floats at `x`, NaN if any is NaN. Compared as the
 * integers of their bits, sign cleared, which order as the magnitudes do, NaN
 * above infinity (one instruction a vector, where f32x4.max takes several).
 */
function largestMagnitude(x: usize, count: i32): f32 {
  const magnitude = i32x4.splat(0x7fffffff);
  let most = i32x4.splat(0);
  let t = 0;
  for (; t + 4 <= count; t += 4) most = i32x4.max_s(most, v128.and(v128.load(x + (<usize>t << 2)), magnitude));
  let largest = max(
    max(i32x4.extract_lane(most, 0), i32x4.extract_lane(most, 1)),
    max(i32x4.extract_lane(most, 2), i32x4.extract_lane(most, 3)),
  );
  for (; t < count; t++) largest = max(largest, load<i32>(x + (<usize>t << 2)) & 0x7fffffff);
  return reinterpret<f32>(largest);
}

export {
  columnSums,
  logisticLossRange,
  penaltyRange,
  reluBackwardRange,
  reluRange,
  sigmoidBackwardRange,
  sigmoidRange,
} from "./elementwise";
export { adamRange, nesterovRange, sgdRange } from "./optimizers";

/**
 * Where the kernels' static data (the constant tables) ends: the TypeScript
 * side hands out memory only past it.
 */
export function staticEnd(): usize {
  return __heap_base;
}
