import assert from "node:assert/strict";
import { createWasmKernels } from "../../kernels/wasm_kernels.ts";
import { referenceKernels } from "../../model/kernels.ts";
import { seededRandom } from "../../model/rng.ts";

/** 37 rows of 29 values, about 70% zeros, in blocks of 5 rows (the last one shorter). */
function sparseRows() {
  const random = seededRandom(11, "index-rows");
  const rows = 37, cols = 29;
  const dense = Float32Array.from(
    { length: rows * cols },
    () => (random() < 0.7 ? 0 : Math.fround(random() - 0.3)),
  );
  const pass = async function* () {
    for (let r = 0; r < rows; r += 5) yield dense.slice(r * cols, Math.min(rows, r + 5) * cols);
  };
  return { rows, cols, dense, pass };
}

Deno.test("indexRows() serves products through aRows with the reference's exact bits, no dense copy", async () => {
  const { rows, cols, dense, pass } = sparseRows();
  const kernels = await createWasmKernels({ threads: 2, minParallelWork: 0 });
  try {
    const handle = await kernels.indexRows(pass, rows, cols);
    assert.ok(handle);
    assert.equal(handle.length, 0);
    const aRows = Uint32Array.of(36, 0, 5, 5, 17, 2, 30);
    const random = seededRandom(2, "b");
    const b = Float32Array.from({ length: cols * 6 }, () => Math.fround(random() - 0.5));
    const forward = (kernel: typeof referenceKernels, a: Float32Array) => {
      const c = new Float32Array(aRows.length * 6);
      kernel.gemm({ m: aRows.length, n: 6, k: cols, a, aRows, b, c });
      return c;
    };
    assert.deepEqual(forward(kernels, handle), forward(referenceKernels, dense));
    const dz = Float32Array.from({ length: aRows.length * 6 }, () => Math.fround(random() - 0.5));
    const backward = (kernel: typeof referenceKernels, a: Float32Array) => {
      const c = new Float32Array(cols * 6);
      kernel.gemm({ m: cols, n: 6, k: aRows.length, a, aRows, transA: true, b: dz, c });
      return c;
    };
    assert.deepEqual(backward(kernels, handle), backward(referenceKernels, dense));
    assert.throws(
      () =>
        kernels.gemm({
          m: aRows.length,
          n: 6,
          k: cols,
          a: handle,
          aRows,
          b,
          c: new Float32Array(aRows.length * 6),
          transB: true,
        }),
      (e: unknown) =>
        e instanceof Error && e.message.includes("can only be read through their index"),
    );
  } finally {
    kernels.close();
  }
});

Deno.test("indexRows() declines dense rows and refuses a pass of the wrong size", async () => {
  const kernels = await createWasmKernels({ threads: 1 });
  try {
    const ones = async function* () {
      yield new Float32Array(12).fill(1);
    };
    assert.equal(await kernels.indexRows(ones, 3, 4), null);
    await assert.rejects(
      () => kernels.indexRows(ones, 5, 4),
      (e: unknown) =>
        e instanceof RangeError && e.message.includes("must hold 5×4 values: it held 12"),
    );
  } finally {
    kernels.close();
  }
});
