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

/** Rows of C one tile computes. */
const TILE_ROWS: i32 = 4;
/** Columns of C one tile computes: two float32x4 vectors. */
const TILE_COLS: i32 = 8;

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
  const rowBytes = <usize> bRow << 2;
  if (bCol == 1 && width == TILE_COLS) {
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
  for (let jj = 0; jj < TILE_COLS; jj++) {
    let dst = panel + (<usize> jj << 2);
    if (jj < width) {
      let src = b + (<usize> ((j + jj) * bCol) << 2);
      for (let p = 0; p < k; p++) {
        store<f32>(dst, load<f32>(src));
        src += rowBytes;
        dst += 32;
      }
    } else {
      for (let p = 0; p < k; p++) {
        store<f32>(dst, 0);
        dst += 32;
      }
    }
  }
}

/** Writes (or adds) one tile row of 8 sums to C, only the first `width` on the right edge. */
// @ts-ignore: decorator

function storeRow(
  c: usize,
  lo: v128,
  hi: v128,
  width: i32,
  accumulate: bool,
  spill: usize,
): void {
  if (width == TILE_COLS) {
    if (accumulate) {
      lo = f32x4.add(v128.load(c), lo);
      hi = f32x4.add(v128.load(c, 16), hi);
    }
    v128.store(c, lo);
    v128.store(c, hi, 16);
    return;
  }
  v128.store(spill, lo);
  v128.store(spill, hi, 16);
  for (let jj = 0; jj < width; jj++) {
    const at = c + (<usize> jj << 2);
    const sum = load<f32>(spill + (<usize> jj << 2));
    store<f32>(at, accumulate ? load<f32>(at) + sum : sum);
  }
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
  spill: usize,
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
  storeRow(c, c00, c01, width, accumulate, spill);
  storeRow(c + cRowBytes, c10, c11, width, accumulate, spill);
  storeRow(c + (cRowBytes << 1), c20, c21, width, accumulate, spill);
  storeRow(c + cRowBytes * 3, c30, c31, width, accumulate, spill);
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
  spill: usize,
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
  storeRow(c, c0, c1, width, accumulate, spill);
}

/**
 * C[i, j] = Σ_p A(i, p)·B(p, j) for rows [i0, i1) and columns [j0, j1) of C
 * (C[i, j] += … when `accumulate` is 1). `scratch` holds k·32 + 32 bytes
 * that belong to the calling thread alone.
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
): void {
  const panel = scratch;
  const spill = scratch + (<usize> k << 5);
  const aRowBytes = <usize> aRow << 2;
  const aColBytes = <usize> aCol << 2;
  const cRowBytes = <usize> ldc << 2;
  const add = accumulate != 0;
  for (let j = j0; j < j1; j += TILE_COLS) {
    const width = min(TILE_COLS, j1 - j);
    packPanel(b, bRow, bCol, k, j, width, panel);
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
        spill,
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
        spill,
      );
    }
  }
}

// Sparse operands. Where A is mostly zeros (image pixels), the products below
// visit only its non-zero entries. Skipping a zero term changes no bit of the
// sum: every sum starts at +0 and a float sum is never −0 after that, so
// adding the ±0 that a zero term contributes returns the sum unchanged
// (for finite B). The order of the remaining terms is the dense kernel's.

/** acc[0..width) += x · src[0..width), four lanes at a time, then one by one. */
// @ts-ignore: decorator
@inline
function axpy(acc: usize, src: usize, x: f32, width: i32): void {
  const s = f32x4.splat(x);
  let j = 0;
  for (; j + 4 <= width; j += 4) {
    const at = acc + (<usize>j << 2);
    v128.store(at, f32x4.add(v128.load(at), f32x4.mul(s, v128.load(src + (<usize>j << 2)))));
  }
  for (; j < width; j++) {
    const at = acc + (<usize>j << 2);
    store<f32>(at, load<f32>(at) + x * load<f32>(src + (<usize>j << 2)));
  }
}

/** C's row block from an accumulator block: C = T, or C += T. */
function writeBack(
  t: usize,
  rows: i32,
  width: i32,
  c: usize,
  cRowBytes: usize,
  accumulate: bool,
): void {
  for (let r = 0; r < rows; r++) {
    const src = t + (<usize>(r * width) << 2);
    const dst = c + <usize>r * cRowBytes;
    for (let j = 0; j < width; j++) {
      const at = dst + (<usize>j << 2);
      const sum = load<f32>(src + (<usize>j << 2));
      store<f32>(at, accumulate ? load<f32>(at) + sum : sum);
    }
  }
}

/**
 * Like {@link gemm} for a mostly-zero A, with the same arguments; B must be
 * untransposed (bCol = 1). `scratch` holds (i1 − i0)·(j1 − j0) floats for
 * this thread alone.
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
): void {
  assert(bCol == 1);
  const width = j1 - j0;
  const rows = i1 - i0;
  memory.fill(scratch, 0, <usize>(rows * width) << 2);
  const bRowBytes = <usize>bRow << 2;
  const bFirst = b + (<usize>j0 << 2);
  if (aCol == 1) {
    // A's rows are contiguous: walk each row of A, adding B's rows where it is non-zero.
    for (let i = i0; i < i1; i++) {
      const row = a + (<usize>(i * aRow) << 2);
      const t = scratch + (<usize>((i - i0) * width) << 2);
      for (let p = 0; p < k; p++) {
        const x = load<f32>(row + (<usize>p << 2));
        if (x != 0) axpy(t, bFirst + <usize>p * bRowBytes, x, width);
      }
    }
  } else {
    // A is stored transposed (its columns are contiguous): outer products, p by p.
    const aColBytes = <usize>aCol << 2;
    for (let p = 0; p < k; p++) {
      const column = a + <usize>p * aColBytes;
      const bp = bFirst + <usize>p * bRowBytes;
      for (let i = i0; i < i1; i++) {
        const x = load<f32>(column + (<usize>(i * aRow) << 2));
        if (x != 0) axpy(scratch + (<usize>((i - i0) * width) << 2), bp, x, width);
      }
    }
  }
  const cRowBytes = <usize>ldc << 2;
  const cFirst = c + <usize>i0 * cRowBytes + (<usize>j0 << 2);
  writeBack(scratch, rows, width, cFirst, cRowBytes, accumulate != 0);
}
