import assert from "node:assert/strict";
import { activate, activateBackward } from "../../model/activations.ts";
import { seededRandom } from "../../model/rng.ts";
import { createWasmKernels, type WasmKernels } from "../../kernels/wasm_kernels.ts";

/** Whether two float32 arrays hold the same bits. */
function sameBits(x: Float32Array, y: Float32Array): boolean {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** Values around every edge: zeros of both signs, denormal-sized, huge, and ordinary. */
function edgy(length: number, random: () => number): Float32Array {
  const special = [0, -0, 1e-40, -1e-40, 1e-30, -1e-30, 1, -1, 1e30, -1e30, 0.5, 1 - 2 ** -24];
  return Float32Array.from(
    { length },
    (_, i) =>
      i < special.length ? special[i] : (random() * 2 - 1) * 10 ** Math.floor(random() * 6 - 3),
  );
}

Deno.test("the activation kernels and their gradients give model/activations.ts's bits, on 1 and 3 threads", async () => {
  const all: WasmKernels[] = [
    await createWasmKernels({ threads: 1 }),
    await createWasmKernels({ threads: 3, minParallelWork: 0 }),
  ];
  try {
    const random = seededRandom(14, "elementwise");
    for (const n of [0, 1, 3, 4, 5, 63, 64, 65, 1000]) {
      const z = edgy(n, random), da = edgy(n, random);
      for (const kind of ["relu", "sigmoid"] as const) {
        const a = new Float32Array(n);
        activate(kind, z, a, n);
        const dz = da.slice();
        activateBackward(kind, z, a, dz, n);
        for (const kernels of all) {
          const [kz, ka, kda, kdz] = [z, a, da, a].map((x) => {
            const copy = kernels.alloc(Math.max(1, n));
            copy.set(x);
            return copy.subarray(0, n);
          });
          kdz.fill(7);
          assert.ok(kernels.activate(kind, kz, ka, n));
          assert.ok(sameBits(ka, a), `${kind} forward, ${n} values, ${kernels.name}`);
          assert.ok(kernels.activateBackward(kind, kz, ka, kda, kdz, n));
          assert.ok(sameBits(kdz, dz), `${kind} backward, ${n} values, ${kernels.name}`);
        }
      }
    }
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("the column-sum kernel adds each column in row order, as the bias gradient's loop", async () => {
  const all: WasmKernels[] = [
    await createWasmKernels({ threads: 1 }),
    await createWasmKernels({ threads: 3, minParallelWork: 0 }),
  ];
  try {
    const random = seededRandom(15, "columns");
    for (const [rows, cols] of [[1, 1], [3, 5], [17, 16], [128, 800], [9, 33], [0, 4]]) {
      const x = edgy(rows * cols, random), start = edgy(cols, random);
      const expected = start.slice();
      for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) expected[j] += x[i * cols + j];
      for (const kernels of all) {
        const kx = kernels.alloc(Math.max(1, rows * cols)), sums = kernels.alloc(cols);
        kx.set(x);
        sums.set(start);
        assert.ok(kernels.columnSums(kx, rows, cols, sums));
        assert.ok(sameBits(sums, expected), `${rows}×${cols}, ${kernels.name}`);
      }
    }
    // Buffers outside the memory are left to the caller's loop.
    assert.equal(all[0].columnSums(new Float32Array(4), 2, 2, new Float32Array(2)), false);
    assert.equal(all[0].activate("tanh", all[0].alloc(2), all[0].alloc(2), 2), false);
  } finally {
    for (const kernels of all) kernels.close();
  }
});
