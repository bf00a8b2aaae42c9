import assert from "node:assert/strict";
import { checkGemm, type GemmArgs, referenceGemm, referenceKernels } from "../../model/kernels.ts";
import { seededRandom } from "../../model/rng.ts";

Deno.test("referenceGemm() multiplies with either operand transposed, and accumulates", () => {
  // A = [[1, 2], [3, 4]], B = [[5, 6], [7, 8]]
  const a = Float32Array.of(1, 2, 3, 4), b = Float32Array.of(5, 6, 7, 8);
  const product = (args: Partial<GemmArgs>) => {
    const c = Float32Array.of(1, 1, 1, 1);
    referenceGemm({ m: 2, n: 2, k: 2, a, b, c, ...args });
    return Array.from(c);
  };
  assert.deepEqual(product({}), [19, 22, 43, 50]);
  assert.deepEqual(product({ transA: true }), [26, 30, 38, 44]);
  assert.deepEqual(product({ transB: true }), [17, 23, 39, 53]);
  assert.deepEqual(product({ transA: true, transB: true }), [23, 31, 34, 46]);
  assert.deepEqual(product({ accumulate: true }), [20, 23, 44, 51]);
  assert.deepEqual(product({ k: 0 }), [0, 0, 0, 0]);
});

Deno.test("referenceGemm() rejects buffers too small for the shapes", () => {
  assert.throws(
    () =>
      referenceGemm({
        m: 2,
        n: 2,
        k: 3,
        a: new Float32Array(5),
        b: new Float32Array(6),
        c: new Float32Array(4),
      }),
    /Cannot multiply matrices as A must hold 6 values for m=2 n=2 k=3: current length is 5/,
  );
});

Deno.test("referenceGemm() reads aRows and rejects an index past the end of A", () => {
  const a = Float32Array.of(1, 2, 3, 4, 5, 6); // three rows of two
  const c = new Float32Array(2);
  referenceGemm({ m: 2, n: 1, k: 2, a, aRows: Uint32Array.of(2, 0), b: Float32Array.of(1, 10), c });
  assert.deepEqual(Array.from(c), [65, 21]);
  assert.throws(
    () => referenceGemm({ m: 1, n: 1, k: 2, a, aRows: Uint32Array.of(3), b: c, c }),
    /Cannot multiply matrices as A must hold 8 values for m=1 n=1 k=2: current length is 6/,
  );
});

/** C = op(A)·op(B) (+ C), one float64 sum per element: the textbook triple loop. */
function naiveGemm(args: GemmArgs, round: (x: number) => number): number[] {
  const { m, n, k, a, b, c, transA = false, transB = false, accumulate = false, aRows } = args;
  const row = (r: number) => (aRows ? aRows[r] : r);
  const A = (i: number, p: number) => transA ? a[row(p) * m + i] : a[row(i) * k + p];
  const B = (p: number, j: number) => transB ? b[j * k + p] : b[p * n + j];
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum = round(sum + round(A(i, p) * B(p, j)));
      out.push(accumulate ? round(c[i * n + j] + sum) : sum);
    }
  }
  return out;
}

Deno.test("referenceGemm() equals a naive triple loop for every transpose, accumulate and row pick", () => {
  const random = seededRandom(12, "gemm");
  const pick = (max: number) => 1 + Math.floor(random() * max);
  let cases = 0;
  for (let t = 0; t < 40; t++) {
    const m = pick(7), n = pick(7), k = pick(9);
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const accumulate of [false, true]) {
          for (const rows of [false, true]) {
            const stored = transA ? k : m, width = transA ? m : k;
            const spare = 3;
            const aRows = rows
              ? Uint32Array.from({ length: stored }, () => Math.floor(random() * (stored + spare)))
              : undefined;
            const aLength = (rows ? stored + spare : stored) * width;
            for (const single of [true, false]) {
              const fill = (length: number) => {
                const values = Array.from({ length }, () => random() * 4 - 2);
                return single ? Float32Array.from(values) : Float64Array.from(values);
              };
              const args: GemmArgs = {
                m,
                n,
                k,
                a: fill(aLength),
                b: fill(k * n),
                c: fill(m * n),
                transA,
                transB,
                accumulate,
                aRows,
              };
              const expected = naiveGemm(args, single ? Math.fround : (x) => x);
              referenceGemm(args);
              assert.deepEqual(
                Array.from(args.c),
                expected,
                JSON.stringify({ m, n, k, transA, transB, accumulate, rows }),
              );
              cases++;
            }
          }
        }
      }
    }
  }
  assert.equal(cases, 40 * 16 * 2);
});

Deno.test("referenceGemm() sums in float32 for a Float32Array C and in float64 otherwise", () => {
  // 1 + 2⁻²⁴ + 2⁻²⁴ is 1 in float32 (each addition rounds back), but not in float64.
  const tiny = 2 ** -24;
  const a = Float64Array.of(1, 1, 1), b = Float64Array.of(1, tiny, tiny);
  const c32 = new Float32Array(1), c64 = new Float64Array(1);
  referenceGemm({ m: 1, n: 1, k: 3, a, b, c: c32 });
  referenceGemm({ m: 1, n: 1, k: 3, a, b, c: c64 });
  assert.equal(c32[0], 1);
  assert.equal(c64[0], 1 + 2 * tiny);
});

Deno.test("referenceGemm() with k = 0 writes zeros, or leaves C as it was when accumulating", () => {
  const c = Float32Array.of(3, 4);
  referenceGemm({
    m: 1,
    n: 2,
    k: 0,
    a: new Float32Array(0),
    b: new Float32Array(0),
    c,
    accumulate: true,
  });
  assert.deepEqual(Array.from(c), [3, 4]);
  referenceGemm({ m: 1, n: 2, k: 0, a: new Float32Array(0), b: new Float32Array(0), c });
  assert.deepEqual(Array.from(c), [0, 0]);
});

Deno.test("checkGemm() refuses shapes that are not integers ≥ 0, naming all three", () => {
  const none = new Float32Array(0);
  for (const [m, n, k] of [[1.5, 1, 1], [1, -1, 1], [1, 1, NaN]]) {
    assert.throws(() => checkGemm({ m, n, k, a: none, b: none, c: none }), {
      name: "RangeError",
      message:
        `Cannot multiply matrices as m, n and k must be integers ≥ 0: current values are ${m}, ${n}, ${k}`,
    });
  }
});

Deno.test("checkGemm() refuses a B or C too small for the shapes, and too few aRows", () => {
  const buffer = (length: number) => new Float32Array(length);
  assert.throws(() => checkGemm({ m: 2, n: 3, k: 4, a: buffer(8), b: buffer(11), c: buffer(6) }), {
    name: "RangeError",
    message:
      "Cannot multiply matrices as B must hold 12 values for m=2 n=3 k=4: current length is 11",
  });
  assert.throws(() => checkGemm({ m: 2, n: 3, k: 4, a: buffer(8), b: buffer(12), c: buffer(5) }), {
    name: "RangeError",
    message:
      "Cannot multiply matrices as C must hold 6 values for m=2 n=3 k=4: current length is 5",
  });
  assert.throws(
    () =>
      checkGemm({
        m: 2,
        n: 3,
        k: 4,
        a: buffer(8),
        b: buffer(12),
        c: buffer(6),
        aRows: Uint32Array.of(0),
      }),
    {
      name: "RangeError",
      message: "Cannot multiply matrices as aRows must pick 2 rows: current length is 1",
    },
  );
  // Transposed, A is stored as k rows of m: aRows picks k of them.
  assert.throws(
    () =>
      checkGemm({
        m: 2,
        n: 3,
        k: 4,
        a: buffer(8),
        b: buffer(12),
        c: buffer(6),
        transA: true,
        aRows: Uint32Array.of(0, 1, 2),
      }),
    { message: "Cannot multiply matrices as aRows must pick 4 rows: current length is 3" },
  );
  checkGemm({ m: 2, n: 3, k: 4, a: buffer(8), b: buffer(12), c: buffer(6) });
});

Deno.test("referenceKernels allocates zeroed float32 buffers and multiplies with referenceGemm", () => {
  assert.equal(referenceKernels.name, "reference");
  const buffer = referenceKernels.alloc(5);
  assert.ok(buffer instanceof Float32Array);
  assert.deepEqual(Array.from(buffer), [0, 0, 0, 0, 0]);
  assert.equal(referenceKernels.gemm, referenceGemm);
  assert.equal(referenceKernels.sigmoid, undefined);
});
