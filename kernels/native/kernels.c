// Native twins of the hottest WebAssembly kernels (kernels/assembly/), loaded
// through Deno's FFI by kernels/native.ts when --allow-ffi grants this library.
// They work in place on the kernels' shared WebAssembly memory: every offset
// argument is a byte offset into it, and `base` is its address. Each gives the
// bits of its AssemblyScript twin (the same float32 operations on every element
// in the same order), so a training's results do not depend on which ran.
//
// Why native code at all: Deno runs V8 without its WebAssembly trap handler,
// so every load and store in the memory pays a compare and a branch (a third
// of the index products' instructions), and WebAssembly SIMD is 4 lanes wide.
// Here the loads are plain and the vectors as wide as the processor's.
//
// Built by `deno task build:native` (gcc; the flags are in deno.json) into
// kernels/native/libkernels-linux-x86_64.so. One body, kernels/native/isa_body.h,
// is compiled for AVX-512, AVX2 and the x86-64 baseline (SSE2); the first call
// picks the widest this processor has.
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/** Columns of C one pass over a block of rows covers: that slice of B stays in L2. */
#define PANEL_COLS 128
/**
 * The same for a layer's forward from the indexed images, whose rows of B (the
 * weights of the pixels an image inks) are the rows read: 64 columns there
 * took 0.80-0.92 the time of 128 on real MNIST (784 x 800, batches of 128,
 * alternated in one process), where the weight gradient's lists took 1.04.
 */
#define FORWARD_PANEL_COLS 64
/** Rows of C a dense tile computes at once: with four vectors each, 16 of the accumulators. */
#define DENSE_ROWS 4

#define ISA_TARGET "avx512f"
#define ISA_NAME(x) x##_avx512
#define VW 16
#define ISA_SQRT(v) ((VF)_mm512_sqrt_ps((__m512)(v)))
#include "isa_body.h"
#undef ISA_TARGET
#undef ISA_NAME
#undef VW
#undef ISA_SQRT

#define ISA_TARGET "avx2"
#define ISA_NAME(x) x##_avx2
#define VW 8
#define ISA_SQRT(v) ((VF)_mm256_sqrt_ps((__m256)(v)))
#include "isa_body.h"
#undef ISA_TARGET
#undef ISA_NAME
#undef VW
#undef ISA_SQRT

#define ISA_TARGET "sse2"
#define ISA_NAME(x) x##_sse2
#define VW 4
#define ISA_SQRT(v) ((VF)_mm_sqrt_ps((__m128)(v)))
#include "isa_body.h"
#undef ISA_TARGET
#undef ISA_NAME
#undef VW
#undef ISA_SQRT

#define EXPORT __attribute__((visibility("default")))

/** 3 for AVX-512, 2 for AVX2, 1 for SSE2: the widest instruction set this processor has. */
static int widest;
/** The instruction set the kernels run with: the widest, unless nativeUseIsa asked for less. */
static int isa;

__attribute__((constructor)) static void pickIsa(void) {
  __builtin_cpu_init();
  widest = __builtin_cpu_supports("avx512f") ? 3 : __builtin_cpu_supports("avx2") ? 2 : 1;
  isa = widest;
}

/** Which instruction set the kernels run with: 3 AVX-512, 2 AVX2, 1 SSE2. */
EXPORT int32_t nativeIsa(void) { return isa; }

/**
 * Runs the kernels with instruction set `wanted` (1 to 3), or the widest this
 * processor has if that is narrower; returns the one now in effect. Every set
 * gives the same bits, which is what the tests check with it. Call it only
 * while no kernel runs.
 */
EXPORT int32_t nativeUseIsa(int32_t wanted) {
  isa = wanted < 1 ? 1 : wanted > widest ? widest : wanted;
  return isa;
}

/** The library's interface version: kernels/native.ts refuses any other. */
EXPORT int32_t nativeVersion(void) { return 2; }

EXPORT void gemmCsr(uint8_t* base, int32_t i0, int32_t i1, int32_t j0, int32_t j1, int32_t k,
                    int32_t rowStart, int32_t idx, int32_t val, int32_t rowIds, int32_t transA,
                    int32_t b, int32_t bRow, int32_t c, int32_t ldc, int32_t accumulate,
                    int32_t scratch, int32_t bias) {
  if (isa == 3) {
    gemmCsr_avx512(base, i0, i1, j0, j1, k, rowStart, idx, val, rowIds, transA, b, bRow, c, ldc,
                   accumulate, scratch, bias);
  } else if (isa == 2) {
    gemmCsr_avx2(base, i0, i1, j0, j1, k, rowStart, idx, val, rowIds, transA, b, bRow, c, ldc,
                 accumulate, scratch, bias);
  } else {
    gemmCsr_sse2(base, i0, i1, j0, j1, k, rowStart, idx, val, rowIds, transA, b, bRow, c, ldc,
                 accumulate, scratch, bias);
  }
}

EXPORT void gemm(uint8_t* base, int32_t i0, int32_t i1, int32_t j0, int32_t j1, int32_t k,
                 int32_t a, int32_t aRow, int32_t aCol, int32_t b, int32_t bRow, int32_t bCol,
                 int32_t c, int32_t ldc, int32_t accumulate, int32_t scratch, int32_t bias,
                 int32_t gate) {
  if (isa == 3) {
    gemm_avx512(base, i0, i1, j0, j1, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate,
                scratch, bias, gate);
  } else if (isa == 2) {
    gemm_avx2(base, i0, i1, j0, j1, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate, scratch,
              bias, gate);
  } else {
    gemm_sse2(base, i0, i1, j0, j1, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate, scratch,
              bias, gate);
  }
}

EXPORT void adamRange(uint8_t* base, int32_t i0, int32_t i1, int32_t params, int32_t grad,
                      int32_t first, int32_t second, int32_t hyper) {
  if (isa == 3) adamRange_avx512(base, i0, i1, params, grad, first, second, hyper);
  else if (isa == 2) adamRange_avx2(base, i0, i1, params, grad, first, second, hyper);
  else adamRange_sse2(base, i0, i1, params, grad, first, second, hyper);
}
