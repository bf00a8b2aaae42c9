// The native kernels' bodies, compiled once per instruction set by kernels.c,
// which defines ISA_TARGET (a GCC target), ISA_NAME(x) (x with the set's
// suffix) and VW (float32 lanes of one vector) before each #include.
//
// Each kernel is the twin of the AssemblyScript kernel of the same name in
// kernels/assembly/: the same arguments (byte offsets into the shared memory,
// whose address `base` comes first), the same float32 operations on every
// element in the same order, so the bits are the same. Vectors only ever span
// columns (or elements), never the terms of one sum; GCC's vector extensions
// compile to separate multiplies and adds (-ffp-contract=off: never fused).

typedef float ISA_NAME(vf) __attribute__((vector_size(VW * 4)));
typedef float ISA_NAME(vfu) __attribute__((vector_size(VW * 4), aligned(4), may_alias));
#define VF ISA_NAME(vf)
#define VFU ISA_NAME(vfu)
#define LOADV(p) ((VF)(*(const VFU*)(p)))
#define STOREV(p, v) (*(VFU*)(p) = (v))
// Vectors of C a row's pass keeps in registers: 8 of the 32 (AVX-512) or 16 registers.
#define ROW_VECTORS 8

/**
 * Columns [j, j + width) of one row of C, width at most nv vectors (the last
 * perhaps partial): C[j] = from[j] + Σ_t val[t]·B(idx[t], j) (from absent:
 * the sum alone), each sum from +0 in list order, nv vectors in registers. A
 * partial last vector reads past the columns (into the next row, or the 64
 * bytes of slack past the last buffer) and stores only its first lanes.
 * Inlined with nv a constant, so the accumulators stay in registers.
 */
__attribute__((target(ISA_TARGET), always_inline)) static inline void ISA_NAME(rowPass)(
    const int nv, const int32_t* idx, const float* val, int32_t count, const uint8_t* b,
    size_t bRowBytes, int32_t j, int32_t width, float* c, const float* from) {
  VF acc[ROW_VECTORS];
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++) acc[v] = (VF){0};
  const uint8_t* column = b + (size_t)j * 4;
  for (int32_t t = 0; t < count; t++) {
    const float s = val[t];
    const float* src = (const float*)(column + (size_t)idx[t] * bRowBytes);
#pragma GCC unroll 8
    for (int v = 0; v < nv; v++) acc[v] = acc[v] + s * LOADV(src + v * VW);
  }
  float* dst = c + j;
  const float* add = from ? from + j : 0;
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++) {
    const VF sums = add ? LOADV(add + v * VW) + acc[v] : acc[v];
    const int32_t left = width - v * VW;
    if (left >= VW) {
      STOREV(dst + v * VW, sums);
    } else {
      float lanes[VW];
      memcpy(lanes, &sums, sizeof lanes);
      for (int32_t q = 0; q < left; q++) dst[v * VW + q] = lanes[q];
    }
  }
}

/**
 * Columns [j0, j1) of one row of C from a list of A's non-zero terms (see
 * rowPass): ROW_VECTORS vectors at a time, then the rest in one pass.
 */
__attribute__((target(ISA_TARGET))) static void ISA_NAME(rowFromList)(
    const int32_t* idx, const float* val, int32_t count, const uint8_t* b, size_t bRowBytes,
    int32_t j0, int32_t j1, float* c, const float* from) {
  int32_t j = j0;
  for (; j + ROW_VECTORS * VW <= j1; j += ROW_VECTORS * VW) {
    ISA_NAME(rowPass)(ROW_VECTORS, idx, val, count, b, bRowBytes, j, ROW_VECTORS * VW, c, from);
  }
  const int32_t width = j1 - j;
  switch ((width + VW - 1) / VW) {
    case 0: break;
    case 1: ISA_NAME(rowPass)(1, idx, val, count, b, bRowBytes, j, width, c, from); break;
    case 2: ISA_NAME(rowPass)(2, idx, val, count, b, bRowBytes, j, width, c, from); break;
    case 3: ISA_NAME(rowPass)(3, idx, val, count, b, bRowBytes, j, width, c, from); break;
    case 4: ISA_NAME(rowPass)(4, idx, val, count, b, bRowBytes, j, width, c, from); break;
    case 5: ISA_NAME(rowPass)(5, idx, val, count, b, bRowBytes, j, width, c, from); break;
    case 6: ISA_NAME(rowPass)(6, idx, val, count, b, bRowBytes, j, width, c, from); break;
    case 7: ISA_NAME(rowPass)(7, idx, val, count, b, bRowBytes, j, width, c, from); break;
    default: ISA_NAME(rowPass)(8, idx, val, count, b, bRowBytes, j, width, c, from); break;
  }
}

/** The first t in [t0, t1) with idx[t] ≥ target, idx ascending there (t1 when none). */
static inline int32_t ISA_NAME(firstAtLeast)(const int32_t* idx, int32_t t0, int32_t t1, int32_t target) {
  if (target <= 0) return t0;
  int32_t lo = t0, hi = t1;
  while (lo < hi) {
    const int32_t mid = (int32_t)(((uint32_t)lo + (uint32_t)hi) >> 1);
    if (idx[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** gemmCsr of kernels/assembly/gemm.ts: C = op(A)·B, A's stored rows from a CSR index. */
__attribute__((target(ISA_TARGET))) static void ISA_NAME(gemmCsr)(
    uint8_t* base, int32_t i0, int32_t i1, int32_t j0, int32_t j1, int32_t k, int32_t rowStartAt,
    int32_t idxAt, int32_t valAt, int32_t rowIdsAt, int32_t transA, int32_t bAt, int32_t bRow,
    int32_t cAt, int32_t ldc, int32_t accumulate, int32_t scratchAt, int32_t biasAt) {
  const int32_t* rowStart = (const int32_t*)(base + (uint32_t)rowStartAt);
  const int32_t* idx = (const int32_t*)(base + (uint32_t)idxAt);
  const float* val = (const float*)(base + (uint32_t)valAt);
  const int32_t* rowIds = (const int32_t*)(base + (uint32_t)rowIdsAt);
  const uint8_t* b = base + (uint32_t)bAt;
  const size_t bRowBytes = (size_t)(uint32_t)bRow * 4;
  float* c = (float*)(base + (uint32_t)cAt);
  const size_t cRow = (size_t)(uint32_t)ldc;
  const float* bias = biasAt != 0 ? (const float*)(base + (uint32_t)biasAt) : 0;
  if (transA == 0) {
    for (int32_t j = j0; j < j1; j += FORWARD_PANEL_COLS) {
      const int32_t jEnd = j1 < j + FORWARD_PANEL_COLS ? j1 : j + FORWARD_PANEL_COLS;
      // B's rows not in whole cache lines (the textbook's 50 columns: 200 bytes) make most vector
      // loads straddle two lines: where a block has rows enough to repay it (the textbook's 1 200
      // on one thread: 466 -> 363 us), copy the panel into the scratch in rows of whole lines
      // first (the scratch then holds 8·257·(k + 1) bytes, more than the k·256 + 64 it takes).
      // The same values, so the same bits.
      const uint8_t* panel = b;
      size_t panelRowBytes = bRowBytes;
      if (bRowBytes % 64 != 0 && i1 - i0 >= 256) {
        const int32_t width = jEnd - j, stride = (width + 15) & ~15;
        float* packed = (float*)(((uintptr_t)(base + (uint32_t)scratchAt) + 63) & ~(uintptr_t)63);
        for (int32_t p = 0; p < k; p++) {
          const float* src = (const float*)(b + (size_t)p * bRowBytes) + j;
          float* dst = packed + (size_t)p * stride;
          memcpy(dst, src, (size_t)width * 4);
          memset(dst + width, 0, (size_t)(stride - width) * 4);
        }
        // rowFromList reads column j at panel + 4·j: the packed panel's column 0.
        panel = (const uint8_t*)((uintptr_t)packed - (uintptr_t)j * 4);
        panelRowBytes = (size_t)stride * 4;
      }
      for (int32_t i = i0; i < i1; i++) {
        if (i + 2 < i1) {
          // A minibatch's rows lie anywhere in the index: fetch the terms two rows ahead.
          const int32_t ahead = rowIds[i + 2];
          const int32_t first = rowStart[ahead], end = rowStart[ahead + 1];
          for (int32_t t = first; t < end; t += 16) {
            __builtin_prefetch(idx + t);
            __builtin_prefetch(val + t);
          }
        }
        const int32_t row = rowIds[i];
        const int32_t first = rowStart[row];
        float* ci = c + (size_t)i * cRow;
        ISA_NAME(rowFromList)(idx + first, val + first, rowStart[row + 1] - first, panel,
                              panelRowBytes, j, jEnd, ci, accumulate ? ci : bias);
      }
    }
    return;
  }
  // Transposed: C's row i is column i of the stored rows, summed over p = 0 … k − 1. A stored
  // row p whose row of B is all zeros adds only ±0 terms (A being finite): skipped, as the
  // AssemblyScript kernel does, so the same terms are summed (which matters only with NaN or ∞).
  int32_t* live = (int32_t*)(base + (uint32_t)scratchAt);
  for (int32_t p = 0; p < k; p++) {
    const float* bp = (const float*)(b + (size_t)p * bRowBytes);
    int any = 0;
    for (int32_t j = j0; j < j1 && !any; j++) any = bp[j] != 0;
    live[p] = any;
  }
  // Bucket the live stored rows' terms by C's row, in p order within each.
  const int32_t rows = i1 - i0;
  int32_t* starts = live + k;
  memset(starts, 0, (size_t)(rows + 1) * 4);
  int32_t* firsts = starts + rows + 1;
  for (int32_t p = 0; p < k; p++) {
    if (!live[p]) continue;
    const int32_t row = rowIds[p];
    const int32_t end = rowStart[row + 1];
    int32_t t = ISA_NAME(firstAtLeast)(idx, rowStart[row], end, i0);
    firsts[p] = t;
    for (; t < end; t++) {
      const int32_t r = idx[t] - i0;
      if (r >= rows) break;
      starts[r + 1]++;
    }
  }
  for (int32_t r = 0; r < rows; r++) starts[r + 1] += starts[r];
  const int32_t total = starts[rows];
  int32_t* cursors = firsts + k;
  int32_t* listIdx = cursors + rows;
  float* listVal = (float*)(listIdx + total);
  memcpy(cursors, starts, (size_t)rows * 4);
  for (int32_t p = 0; p < k; p++) {
    if (!live[p]) continue;
    const int32_t end = rowStart[rowIds[p] + 1];
    for (int32_t t = firsts[p]; t < end; t++) {
      const int32_t r = idx[t] - i0;
      if (r >= rows) break;
      const int32_t slot = cursors[r]++;
      listIdx[slot] = p;
      listVal[slot] = val[t];
    }
  }
  float* c0 = c + (size_t)i0 * cRow;
  for (int32_t j = j0; j < j1; j += PANEL_COLS) {
    const int32_t jEnd = j1 < j + PANEL_COLS ? j1 : j + PANEL_COLS;
    for (int32_t r = 0; r < rows; r++) {
      const int32_t first = starts[r];
      float* ci = c0 + (size_t)r * cRow;
      ISA_NAME(rowFromList)(listIdx + first, listVal + first, starts[r + 1] - first, b, bRowBytes,
                            j, jEnd, ci, accumulate ? ci : 0);
    }
  }
}

/**
 * Stores one row of a dense tile: the first `width` sums of `nv` vectors at
 * `c`, each added to `from` (C's own row, or the bias row) when it is not
 * null, then made +0 where `gate` (laid out as C) is ≤ 0 when it is not null
 * (a ReLU layer's backward; NaN keeps the sum). A partial last vector reads
 * past the columns and stores only its own lanes.
 */
__attribute__((target(ISA_TARGET), always_inline)) static inline void ISA_NAME(storeTileRow)(
    const int nv, const VF* acc, int32_t width, float* c, const float* from, const float* gate) {
#pragma GCC unroll 8
  for (int v = 0; v < nv; v++) {
    const VF sums = from ? LOADV(from + v * VW) + acc[v] : acc[v];
    const int32_t keep = width - v * VW < VW ? width - v * VW : VW;
    float lanes[VW];
    memcpy(lanes, &sums, sizeof lanes);
    for (int32_t q = 0; q < keep; q++) {
      c[v * VW + q] = gate && gate[v * VW + q] <= 0 ? 0 : lanes[q];
    }
  }
}

/**
 * Rows [i0, i1) of a dense product's columns [j, j + width) (width at most nv
 * vectors), B's columns read from `panel` (row p at p·panelRow floats):
 * DENSE_ROWS rows at a time with nv vectors of each in registers, then one.
 */
__attribute__((target(ISA_TARGET), always_inline)) static inline void ISA_NAME(denseColumns)(
    const int nv, int32_t i0, int32_t i1, int32_t j, int32_t width, int32_t k, const float* a,
    size_t aRow, size_t aCol, const float* panel, size_t panelRow, float* c, size_t cRow,
    int32_t accumulate, const float* bias, const float* gate) {
  int32_t i = i0;
  for (; i + DENSE_ROWS <= i1; i += DENSE_ROWS) {
    VF acc[DENSE_ROWS][4];
#pragma GCC unroll 8
    for (int r = 0; r < DENSE_ROWS; r++) {
#pragma GCC unroll 4
      for (int v = 0; v < nv; v++) acc[r][v] = (VF){0};
    }
    const float* ai = a + (size_t)i * aRow;
    for (int32_t p = 0; p < k; p++) {
      VF bp[4];
#pragma GCC unroll 4
      for (int v = 0; v < nv; v++) bp[v] = LOADV(panel + (size_t)p * panelRow + v * VW);
#pragma GCC unroll 8
      for (int r = 0; r < DENSE_ROWS; r++) {
        const float s = ai[(size_t)r * aRow + (size_t)p * aCol];
#pragma GCC unroll 4
        for (int v = 0; v < nv; v++) acc[r][v] = acc[r][v] + s * bp[v];
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < DENSE_ROWS; r++) {
      float* ci = c + (size_t)(i + r) * cRow + j;
      ISA_NAME(storeTileRow)(nv, acc[r], width, ci, accumulate ? ci : bias ? bias + j : 0,
                             gate ? gate + (size_t)(i + r) * cRow + j : 0);
    }
  }
  for (; i < i1; i++) {
    VF acc[4];
#pragma GCC unroll 4
    for (int v = 0; v < nv; v++) acc[v] = (VF){0};
    const float* ai = a + (size_t)i * aRow;
    for (int32_t p = 0; p < k; p++) {
      const float s = ai[(size_t)p * aCol];
#pragma GCC unroll 4
      for (int v = 0; v < nv; v++) {
        acc[v] = acc[v] + s * LOADV(panel + (size_t)p * panelRow + v * VW);
      }
    }
    float* ci = c + (size_t)i * cRow + j;
    ISA_NAME(storeTileRow)(nv, acc, width, ci, accumulate ? ci : bias ? bias + j : 0,
                           gate ? gate + (size_t)i * cRow + j : 0);
  }
}

/**
 * gemm of kernels/assembly/gemm.ts: C = op(A)·op(B) for C's rows [i0, i1) and
 * columns [j0, j1), each sum from +0 in p order, then added to C (accumulate)
 * or to the bias row, then gated. Columns go up to four vectors at a time;
 * B's are read in place when its rows are contiguous, else packed into
 * `scratch` first (k rows of four vectors, this thread's alone).
 */
__attribute__((target(ISA_TARGET))) static void ISA_NAME(gemm)(
    uint8_t* base, int32_t i0, int32_t i1, int32_t j0, int32_t j1, int32_t k, int32_t aAt,
    int32_t aRow, int32_t aCol, int32_t bAt, int32_t bRow, int32_t bCol, int32_t cAt, int32_t ldc,
    int32_t accumulate, int32_t scratchAt, int32_t biasAt, int32_t gateAt) {
  const float* a = (const float*)(base + (uint32_t)aAt);
  const float* b = (const float*)(base + (uint32_t)bAt);
  float* c = (float*)(base + (uint32_t)cAt);
  float* panel = (float*)(base + (uint32_t)scratchAt);
  const float* bias = biasAt != 0 ? (const float*)(base + (uint32_t)biasAt) : 0;
  const float* gate = gateAt != 0 ? (const float*)(base + (uint32_t)gateAt) : 0;
  const size_t ar = (size_t)(uint32_t)aRow, ac = (size_t)(uint32_t)aCol;
  const size_t br = (size_t)(uint32_t)bRow, bc = (size_t)(uint32_t)bCol;
  const size_t cRow = (size_t)(uint32_t)ldc;
  for (int32_t j = j0; j < j1; j += 4 * VW) {
    const int32_t width = j1 - j < 4 * VW ? j1 - j : 4 * VW;
    const float* from = b + (size_t)j * bc;
    size_t panelRow = br;
    if (bc != 1) {
      // B's columns are strided (B transposed): copy them into rows of four vectors, zeros past.
      for (int32_t p = 0; p < k; p++) {
        float* row = panel + (size_t)p * 4 * VW;
        for (int32_t jj = 0; jj < 4 * VW; jj++) row[jj] = jj < width ? from[(size_t)p * br + jj * bc] : 0;
      }
      from = panel;
      panelRow = 4 * VW;
    }
    switch ((width + VW - 1) / VW) {
      case 1:
        ISA_NAME(denseColumns)(1, i0, i1, j, width, k, a, ar, ac, from, panelRow, c, cRow, accumulate, bias, gate);
        break;
      case 2:
        ISA_NAME(denseColumns)(2, i0, i1, j, width, k, a, ar, ac, from, panelRow, c, cRow, accumulate, bias, gate);
        break;
      case 3:
        ISA_NAME(denseColumns)(3, i0, i1, j, width, k, a, ar, ac, from, panelRow, c, cRow, accumulate, bias, gate);
        break;
      default:
        ISA_NAME(denseColumns)(4, i0, i1, j, width, k, a, ar, ac, from, panelRow, c, cRow, accumulate, bias, gate);
        break;
    }
  }
}

/** adamRange of kernels/assembly/optimizers.ts: Adam for elements [i0, i1), in float32. */
__attribute__((target(ISA_TARGET))) static void ISA_NAME(adamRange)(
    uint8_t* base, int32_t i0, int32_t i1, int32_t paramsAt, int32_t gradAt, int32_t firstAt,
    int32_t secondAt, int32_t hyperAt) {
  float* params = (float*)(base + (uint32_t)paramsAt);
  const float* grad = (const float*)(base + (uint32_t)gradAt);
  float* first = (float*)(base + (uint32_t)firstAt);
  float* second = (float*)(base + (uint32_t)secondAt);
  const double* hyper = (const double*)(base + (uint32_t)hyperAt);
  const float beta1 = (float)hyper[3], oneMinus1 = (float)hyper[4];
  const float beta2 = (float)hyper[5], oneMinus2 = (float)hyper[6];
  const float stepSize = (float)hyper[7], rootScale = (float)hyper[8];
  const float epsilon = (float)hyper[9];
  int32_t i = i0;
  for (; i + VW <= i1; i += VW) {
    const VF g = LOADV(grad + i);
    const VF m = beta1 * LOADV(first + i) + oneMinus1 * g;
    const VF v = beta2 * LOADV(second + i) + (oneMinus2 * g) * g;
    STOREV(first + i, m);
    STOREV(second + i, v);
    const VF denominator = ISA_SQRT(v) * rootScale + epsilon;
    STOREV(params + i, LOADV(params + i) - stepSize * (m / denominator));
  }
  for (; i < i1; i++) {
    const float g = grad[i];
    const float m = beta1 * first[i] + oneMinus1 * g;
    const float v = beta2 * second[i] + oneMinus2 * g * g;
    first[i] = m;
    second[i] = v;
    const float denominator = __builtin_sqrtf(v) * rootScale + epsilon;
    params[i] = params[i] - stepSize * (m / denominator);
  }
}

#undef VF
#undef VFU
#undef LOADV
#undef STOREV
#undef ROW_VECTORS
