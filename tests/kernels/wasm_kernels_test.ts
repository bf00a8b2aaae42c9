import assert from "node:assert/strict";
import { activateBackward, sigmoid } from "../../model/activations.ts";
import {
  type GemmArgs,
  type Kernels,
  referenceGemm,
  referenceKernels,
} from "../../model/kernels.ts";
import { outputLoss } from "../../model/network.ts";
import { seededRandom } from "../../model/rng.ts";
import { planBatches } from "../../stages/minibatch.ts";
import { trainNetwork, type TrainOptions } from "../../stages/train.ts";
import { createWasmKernels, type WasmKernels } from "../../kernels/wasm_kernels.ts";
import { firstDifference, floatDataSet, syntheticSet } from "../fixtures.ts";

/** A random matrix product, shapes drawn from `sizes`. */
function randomCase(random: () => number, sizes: number[]): GemmArgs {
  const pick = () => sizes[Math.floor(random() * sizes.length)];
  const m = pick(), n = pick(), k = pick();
  const fill = (length: number) => Float32Array.from({ length }, () => random() * 2 - 1);
  // Half the cases give A mostly zeros (and some −0), like image pixels.
  const zeros = random() < 0.5 ? 0.8 : 0;
  const a = fill(m * k).map((v) => random() < zeros ? (random() < 0.2 ? -0 : 0) : v);
  const accumulate = random() < 0.5;
  return {
    m,
    n,
    k,
    a,
    b: fill(k * n),
    c: fill(m * n),
    transA: random() < 0.5,
    transB: random() < 0.5,
    accumulate,
    // A bias row (never with accumulate) in a third of the other cases.
    bias: !accumulate && random() < 0.33 ? fill(n) : undefined,
  };
}

/** Runs `kernels` and the reference on copies of C and asserts identical bits. */
function assertMatchesReference(kernels: Kernels, args: GemmArgs, where: string) {
  const expected = (args.c as Float32Array).slice();
  referenceGemm({ ...args, c: expected });
  const actual = (args.c as Float32Array).slice();
  kernels.gemm({ ...args, c: actual });
  const at = firstDifference(actual, expected);
  assert.equal(at, -1, `${kernels.name} differs from the reference at ${at} for ${where}`);
}

Deno.test("wasm gemm, dense and sparse, equals the reference bit for bit on 1, 2 and 3 threads", async () => {
  const random = seededRandom(7, "gemm");
  // Sizes around the 4×8 tile and the 12-column narrow one: 1, below, at, just past, and odd.
  const sizes = [1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 12, 13, 16, 17, 31, 33];
  const all: WasmKernels[] = [];
  try {
    for (const threads of [1, 2, 3]) {
      // minParallelWork 0 splits even the smallest product among the threads;
      // sparseZeros 0 takes the sparse kernel wherever it applies, 2 never.
      for (const sparseZeros of [0, 2]) {
        all.push(await createWasmKernels({ threads, minParallelWork: 0, sparseZeros }));
      }
    }
    for (let t = 0; t < 150; t++) {
      const args = randomCase(random, sizes);
      for (const kernels of all) {
        assertMatchesReference(kernels, args, JSON.stringify({ ...args, a: 0, b: 0, c: 0 }));
      }
    }
    // k = 0 leaves C (accumulate) or zeroes it.
    for (const kernels of all) {
      for (const accumulate of [false, true]) {
        const c = Float32Array.of(1, 2, 3);
        kernels.gemm({
          m: 1,
          n: 3,
          k: 0,
          a: new Float32Array(0),
          b: new Float32Array(0),
          c,
          accumulate,
        });
        assert.deepEqual(Array.from(c), accumulate ? [1, 2, 3] : [0, 0, 0]);
      }
    }
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("gemm reads A's rows through aRows, indexed (CSR) or gathered, with the same bits", async () => {
  const random = seededRandom(9, "rows");
  const all: WasmKernels[] = [];
  try {
    for (const threads of [1, 2]) {
      for (const sparseZeros of [0, 0.5, 2]) {
        all.push(await createWasmKernels({ threads, minParallelWork: 0, sparseZeros }));
      }
    }
    for (const width of [1, 7, 20, 33]) {
      // 40 stored rows, mostly zero (and some −0), read through repeated, shuffled indices.
      const source = Float32Array.from(
        { length: 40 * width },
        () => random() < 0.7 ? (random() < 0.2 ? -0 : 0) : random() * 2 - 1,
      );
      for (const kernels of all) kernels.prepareRows(source, width);
      for (let t = 0; t < 16; t++) {
        const transA = t % 2 === 1;
        const picked = 1 + Math.floor(random() * 30);
        // Widths past 48 by 1 to 4 take a thirteenth vector, whose extra lanes are never stored.
        const other = [1, 5, 17, 70, 49, 50, 51, 52][t % 8];
        const aRows = Uint32Array.from({ length: picked }, () => Math.floor(random() * 40));
        const [m, k] = transA ? [width, picked] : [picked, width];
        const n = other;
        const args: GemmArgs = {
          m,
          n,
          k,
          a: source,
          aRows,
          transA,
          b: Float32Array.from({ length: k * n }, () => random() * 2 - 1),
          c: Float32Array.from({ length: m * n }, () => random() * 2 - 1),
          accumulate: t % 3 === 0,
          // A layer's biases, added as C is stored (fused into the index product).
          bias: t % 3 === 1 ? Float32Array.from({ length: n }, () => random() * 2 - 1) : undefined,
        };
        for (const kernels of all) {
          assertMatchesReference(kernels, args, `width ${width} case ${t}`);
        }
      }
    }
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("wasm gemm works in place on its own buffers, as on copies", async () => {
  const kernels = await createWasmKernels({ threads: 2, minParallelWork: 0 });
  try {
    const random = seededRandom(8, "in place");
    const m = 37, n = 45, k = 29;
    const a = kernels.alloc(m * k), b = kernels.alloc(k * n), c = kernels.alloc(m * n);
    for (const x of [a, b, c]) for (let i = 0; i < x.length; i++) x[i] = random() * 2 - 1;
    const expected = c.slice();
    referenceGemm({ m, n, k, a, b, c: expected, transB: true, accumulate: true });
    kernels.gemm({ m, n, k, a, b, c, transB: true, accumulate: true });
    assert.equal(firstDifference(c, expected), -1);
    // A large allocation grows the memory; earlier views stay valid.
    const big = kernels.alloc(5_000_000);
    big[big.length - 1] = 3;
    assert.equal(big[big.length - 1], 3);
    assert.equal(firstDifference(c, expected), -1);
  } finally {
    kernels.close();
  }
});

Deno.test("wasm sigmoid gives the bits of the TypeScript sigmoid, on 1 and 2 threads", async () => {
  const random = seededRandom(10, "sigmoid");
  const special = [
    0,
    -0,
    1e-30,
    -1e-30,
    87.3,
    -87.3,
    -87.5,
    88,
    -88,
    700,
    -700,
    1e6,
    -1e6,
    Infinity,
    // Four saturated in a row take the kernel's shortcut; the cut at 88 from both sides.
    88.00001,
    -88.00001,
    300,
    -Infinity,
    87.99999,
    -87.99999,
    88,
    -88,
  ];
  for (const threads of [1, 2]) {
    const kernels = await createWasmKernels({ threads, minParallelWork: 0 });
    try {
      const n = 5000;
      const z = kernels.alloc(n), a = kernels.alloc(n);
      for (let i = 0; i < n; i++) {
        z[i] = i < special.length ? special[i] : (random() * 2 - 1) * (i % 3 === 0 ? 200 : 8);
      }
      z[special.length] = -Infinity;
      z[special.length + 1] = NaN;
      kernels.sigmoid(z, a, n);
      const expected = Float32Array.from(z, sigmoid);
      assert.equal(firstDifference(a, expected), -1);
    } finally {
      kernels.close();
    }
  }
});

Deno.test("an index built for one row width is not used for another", async () => {
  const kernels = await createWasmKernels({ threads: 1, sparseZeros: 0 });
  try {
    const a = Float32Array.of(1, 0, 0, 0, 0, 2, 0, 3); // two rows of 4, or four rows of 2
    kernels.prepareRows(a, 4);
    const b = Float32Array.of(1, 2, 3, 4, 5, 6);
    const args = { m: 2, n: 3, k: 2, a, aRows: Uint32Array.of(0, 1), b, c: new Float32Array(6) };
    assertMatchesReference(kernels, args, "rows of 2 read from an index of rows of 4");
    assertMatchesReference(
      kernels,
      { ...args, aRows: Uint32Array.of(3, 2) },
      "rows past the index",
    );
  } finally {
    kernels.close();
  }
});

Deno.test("wasm sigmoid of nothing writes nothing, and of n values writes only those, on 2 threads", async () => {
  const kernels = await createWasmKernels({ threads: 2, minParallelWork: 0 });
  try {
    const SENTINEL = -12.5;
    const z = kernels.alloc(64), a = kernels.alloc(64);
    for (let i = 0; i < z.length; i++) z[i] = i / 8 - 4;
    const input = z.slice();
    a.fill(SENTINEL);
    kernels.sigmoid(z, a, 0);
    assert.ok(a.every((v) => v === SENTINEL), "sigmoid of n = 0 wrote into the output");
    assert.deepEqual(z, input);
    kernels.sigmoid(z, a, 5);
    assert.deepEqual(a.subarray(0, 5), Float32Array.from(z.subarray(0, 5), sigmoid));
    assert.ok(a.subarray(5).every((v) => v === SENTINEL), "sigmoid wrote past n");
    assert.deepEqual(z, input);
  } finally {
    kernels.close();
  }
});

Deno.test("wasm kernels refuse work once closed, and bad thread counts", async () => {
  const kernels = await createWasmKernels({ threads: 2 });
  const big = kernels.alloc(200_000);
  kernels.close();
  assert.throws(
    () => kernels.sigmoid(big, big, big.length),
    /Cannot compute sigmoids as the kernels must be open: they were closed/,
  );
  const one = Float32Array.of(1);
  assert.throws(
    () => kernels.gemm({ m: 1, n: 1, k: 1, a: one, b: one, c: one }),
    /Cannot multiply matrices as the kernels must be open: they were closed/,
  );
  await assert.rejects(
    () => createWasmKernels({ threads: 0 }),
    /Cannot start kernels as threads must be an integer from 1 to 256: current value is 0/,
  );
});

const TRAINING_CASES = [
  ["tanh", [19, 11], "softmax"],
  ["sigmoid", [19, 11], "softmax"],
  ["relu", [19, 11], "softmax"],
  // 300 columns: the threads split the first layer's forward product by columns.
  ["relu", [300], "softmax"],
  // The textbook's logistic units: on two threads the costs' second pass runs beside the weight
  // penalty (logisticLossLater), and ReLU's dz comes gated from dz·Wᵀ.
  ["sigmoid", [19], "sigmoid"],
  ["relu", [19, 11], "sigmoid"],
] as const;

for (const [activation, hidden, output] of TRAINING_CASES) {
  Deno.test(`training (${activation}, ${hidden.join("-")} hidden, ${output}) gives the same bits on the reference and on 1 or 2 wasm threads`, async () => {
    const random = seededRandom(4, "threads");
    const train = syntheticSet(90, 5, 12, 12, random);
    const data = floatDataSet(train, syntheticSet(10, 5, 12, 12, random), 5);
    const options: TrainOptions = {
      hidden: [...hidden],
      activation,
      output,
      init: "xavier",
      optimizer: "adam",
      eta: 0.01,
      momentum: 0,
      decay: 0,
      decaySchedule: "inverse",
      l1: 0.001,
      l2: 0.01,
      reduction: "mean",
      epochs: 3,
      patience: 0,
      seed: 5,
      deskew: false,
      shuffleBuffer: null,
    };
    const plan = planBatches(90, { batching: { batchSize: 16 }, validation: 0.1, seed: 2 });
    const quiet = { log() {} };
    for (const shuffleBuffer of [null, 30]) {
      const reference = await trainNetwork(data, plan, { ...options, shuffleBuffer }, quiet);
      // The default minParallelWork keeps these small products whole: gemmPair then runs a
      // layer's two gradient products on one thread each.
      for (
        const [threads, sparseZeros, minParallelWork] of [[1, 2, 0], [2, 2, 0], [2, 0, 0], [2, 0]]
      ) {
        const kernels = await createWasmKernels({ threads, minParallelWork, sparseZeros });
        try {
          const result = await trainNetwork(
            data,
            plan,
            { ...options, shuffleBuffer },
            quiet,
            kernels,
          );
          assert.equal(firstDifference(result.model.params, reference.model.params), -1);
          assert.deepEqual(result.costs, reference.costs);
        } finally {
          kernels.close();
        }
      }
    }
  });
}

Deno.test("xᵀ·dz through an index skips the rows of dz that are all zeros, with the reference's bits", async () => {
  const random = seededRandom(16, "zero rows");
  const all = [
    await createWasmKernels({ threads: 1, sparseZeros: 0 }),
    await createWasmKernels({ threads: 3, minParallelWork: 0, sparseZeros: 0 }),
  ];
  try {
    const width = 29, stored = 60;
    const source = Float32Array.from(
      { length: stored * width },
      () => random() < 0.7 ? 0 : random() * 255,
    );
    for (const kernels of all) kernels.prepareRows(source, width);
    for (const n of [1, 5, 7, 49, 50, 51, 52, 70]) {
      const k = 40;
      const aRows = Uint32Array.from({ length: k }, () => Math.floor(random() * stored));
      // Like a saturated sigmoid layer's gradient: whole rows of zeros (some −0), the rest sparse;
      // some rows non-zero only past column 48, which must not be skipped as zero rows.
      const b = Float32Array.from({ length: k * n }, (_, i) => {
        const row = Math.floor(i / n);
        if (row % 3 === 0) return row % 2 ? -0 : 0;
        if (row % 5 === 1 && i % n < 48) return 0;
        return random() < 0.5 ? 0 : random() * 2 - 1;
      });
      for (const accumulate of [false, true]) {
        const args: GemmArgs = {
          m: width,
          n,
          k,
          a: source,
          aRows,
          transA: true,
          b,
          c: Float32Array.from({ length: width * n }, () => random() * 2 - 1),
          accumulate,
        };
        for (const kernels of all) assertMatchesReference(kernels, args, `n ${n}, ${kernels.name}`);
      }
    }
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("wasm penalty gives the bits of the TypeScript loop, its sums running on from the last", async () => {
  const kernels = await createWasmKernels({ threads: 1 });
  try {
    const random = seededRandom(21, "penalty");
    const n = 1001;
    const w = kernels.alloc(n), g = kernels.alloc(n);
    for (let i = 0; i < n; i++) {
      w[i] = (random() * 2 - 1) * (i % 7 === 0 ? 1e30 : 3);
      g[i] = random() - 0.5;
    }
    // Signed zeros, denormals, the largest float and the infinities, at even and odd indices.
    w.set([0, -0, 1e-45, -1e-45, 3.4e38, -Infinity, Infinity, -0, 0], 0);
    w.set([-0, -1e-45, Infinity], n - 3);
    // With and without L1 (whose sign term must then add nothing, not even a −0 to a +0).
    for (
      const [l1, l2, abs0, squares0] of [
        [0.003, 0.1, 2.5, 7.25],
        [0, 0.1, 0, 0],
        [0, 0, 1, 1],
        // A negative L1 too: the library takes one (the command line refuses it).
        [-0.5, 0.1, 0, 0],
      ]
    ) {
      const expected = g.slice();
      let abs = abs0, squares = squares0;
      for (let i = 0; i < n; i++) {
        expected[i] += l2 * w[i] + (l1 / 2) * Math.sign(w[i]);
        abs += Math.abs(w[i]);
        squares += w[i] * w[i];
      }
      const sums = kernels.penalty(w, g, n, l1, l2, abs0, squares0);
      assert.equal(firstDifference(g, expected), -1, `l1 ${l1}, l2 ${l2}`);
      assert.deepEqual(sums, [abs, squares]);
    }
    // A NaN weight gives a NaN gradient and NaN sums, as the loop does.
    w[5] = NaN;
    const sums = kernels.penalty(w, g, n, 0.003, 0.1, 0, 0);
    assert.ok(Number.isNaN(g[5]) && Number.isNaN(sums![0]) && Number.isNaN(sums![1]));
    const [l1, l2] = [0.003, 0.1];
    // Buffers from elsewhere are left to the caller.
    assert.equal(kernels.penalty(new Float32Array(n), g, n, l1, l2, 0, 0), null);
  } finally {
    kernels.close();
  }
});

Deno.test("wasm gemmPair runs two small products at once with gemm's bits, and declines what it cannot", async () => {
  const kernels = await createWasmKernels({ threads: 2 });
  try {
    const random = seededRandom(22, "pair");
    const fill = (n: number) => {
      const x = kernels.alloc(n);
      for (let i = 0; i < n; i++) x[i] = random() * 2 - 1;
      return x;
    };
    // dW = aᵀ·dz and dx = dz·Wᵀ of a 37-unit layer over 10 classes, 21 rows.
    const a = fill(21 * 37), dz = fill(21 * 10), w = fill(37 * 10);
    const dW = fill(37 * 10), dx = fill(21 * 37);
    const first: GemmArgs = { m: 37, n: 10, k: 21, a, transA: true, b: dz, c: dW };
    const second: GemmArgs = { m: 21, n: 37, k: 10, a: dz, b: w, transB: true, c: dx };
    const expected = [dW.slice(), dx.slice()];
    referenceGemm({ ...first, c: expected[0] });
    referenceGemm({ ...second, c: expected[1] });
    assert.equal(kernels.gemmPair(first, second), true);
    assert.equal(firstDifference(dW, expected[0]), -1);
    assert.equal(firstDifference(dx, expected[1]), -1);
    // Outside the memory, or worth splitting among the threads: left to gemm, untouched.
    const before = dx.slice();
    assert.equal(kernels.gemmPair(first, { ...second, c: new Float32Array(21 * 37) }), false);
    const big = fill(512 * 512);
    const large: GemmArgs = { m: 512, n: 512, k: 512, a: big, b: big, c: fill(512 * 512) };
    assert.equal(kernels.gemmPair(large, second), false);
    assert.equal(firstDifference(dx, before), -1);
  } finally {
    kernels.close();
  }
  const single = await createWasmKernels({ threads: 1 });
  try {
    const x = single.alloc(4);
    assert.equal(
      single.gemmPair({ m: 2, n: 2, k: 1, a: x, b: x, c: x }, {
        m: 2,
        n: 2,
        k: 1,
        a: x,
        b: x,
        c: x,
      }),
      false,
    );
  } finally {
    single.close();
  }
});

Deno.test("wasm logisticLoss gives outputLoss's bits: sigmoids, gradients and the summed cost", async () => {
  const random = seededRandom(23, "logistic");
  // Every path of exp64 and log1p64: |z| near 0 (1 + x ≈ 2, where log1p's short forms
  // apply), up to 0.88 (the reduction of 1 + e), up to 20 (no reduction), past 20.1
  // (e < 2⁻²⁹), 37.4 (e < 5e-17) and 87.4 (e flushed to 0), and the infinities.
  const z = [0, -0, 1e-9, -1e-9, 3e-8, -7e-7, 2 ** -20, 0.8813735870195429, -0.8813735870195431];
  z.push(20.101268236238415, -20.1, 37.42994775023705, -37.5, 87.39, -87.41, 88, -1e4);
  z.push(Infinity, -Infinity);
  while (z.length < 24003) {
    const range = [1e-6, 1, 3, 25, 45, 100][z.length % 6];
    z.push((random() * 2 - 1) * range);
  }
  const n = z.length;
  for (const threads of [1, 2]) {
    const kernels = await createWasmKernels({ threads, minParallelWork: 0 });
    try {
      const zs = kernels.alloc(n),
        y = kernels.alloc(n),
        a = kernels.alloc(n),
        dz = kernels.alloc(n);
      zs.set(z);
      // One-hot targets and, as outputLoss allows any target, soft ones.
      for (const soft of [false, true]) {
        for (let i = 0; i < n; i++) y[i] = soft ? random() : i % 10 === 3 ? 1 : 0;
        for (const scale of [1, 1 / 1200]) {
          const [ea, edz] = [new Float32Array(n), new Float32Array(n)];
          const expected = outputLoss("sigmoid", zs, y, ea, edz, n, 1, scale);
          const loss = kernels.logisticLoss(zs, y, a, dz, n, scale);
          const where = `×${threads}, soft ${soft}, scale ${scale}`;
          assert.equal(firstDifference(a, ea), -1, where);
          assert.equal(firstDifference(dz, edz), -1, where);
          assert.equal(loss, expected, where);
        }
        // Four units at a time too, so a cost that is one ulp off cannot hide in a long sum.
        for (let i = 0; i + 4 <= n; i += 4) {
          const part = (x: Float32Array) => x.subarray(i, i + 4);
          const expected = outputLoss("sigmoid", part(zs), part(y), part(a), part(dz), 4, 1, 1);
          const loss = kernels.logisticLoss(part(zs), part(y), part(a), part(dz), 4, 1);
          if (!Object.is(loss, expected)) {
            assert.fail(`units ${i}..${i + 3}: ${loss} against ${expected}`);
          }
        }
      }
      // NaN in, NaN out; buffers from elsewhere are left to the caller.
      zs[5] = NaN;
      assert.ok(Number.isNaN(kernels.logisticLoss(zs, y, a, dz, n, 1)!));
      assert.ok(Number.isNaN(a[5]) && Number.isNaN(dz[5]));
      assert.equal(kernels.logisticLoss(new Float32Array(n), y, a, dz, n, 1), null);
    } finally {
      kernels.close();
    }
  }
});

Deno.test("xᵀ·dz through an index too large to scatter in cache is bucketed, with the reference's bits", async () => {
  const random = seededRandom(24, "bucketed");
  const all = [
    await createWasmKernels({ threads: 1, sparseZeros: 0 }),
    await createWasmKernels({ threads: 2, minParallelWork: 0, sparseZeros: 0 }),
  ];
  try {
    // C is 400 × 400 floats, 640 KB: past the 512 KB up to which terms scatter into C.
    const width = 400, stored = 30, k = 20, n = 400;
    const source = Float32Array.from(
      { length: stored * width },
      () => random() < 0.8 ? 0 : random() * 255,
    );
    for (const kernels of all) kernels.prepareRows(source, width);
    const aRows = Uint32Array.from({ length: k }, () => Math.floor(random() * stored));
    const b = Float32Array.from({ length: k * n }, () => random() * 2 - 1);
    const args: GemmArgs = {
      m: width,
      n,
      k,
      a: source,
      aRows,
      transA: true,
      b,
      c: new Float32Array(width * n),
    };
    for (const kernels of all) assertMatchesReference(kernels, args, kernels.name);
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("wasm logisticLossLater gives logisticLoss's bits, its cost summed beside the weight penalty or when asked for", async () => {
  const random = seededRandom(29, "logistic later");
  const n = 2400, weights = 3000, l1 = 0.02, l2 = 0.1;
  for (const threads of [1, 2]) {
    const kernels = await createWasmKernels({ threads, minParallelWork: 0 });
    try {
      const zs = [kernels.alloc(n), kernels.alloc(n)], y = kernels.alloc(n);
      const a = kernels.alloc(n), dz = kernels.alloc(n);
      for (const z of zs) z.forEach((_, i) => z[i] = (random() * 2 - 1) * [1, 5, 40][i % 3]);
      y.forEach((_, i) => y[i] = i % 10 === 4 ? 1 : 0);
      const expected = zs.map((z) => {
        const [ea, edz] = [new Float32Array(n), new Float32Array(n)];
        return { loss: outputLoss("sigmoid", z, y, ea, edz, n, 1, 1 / 240), a: ea, dz: edz };
      });
      // The weight penalty between the call and the cost, as lossAndGradient runs them: its
      // gradient and sums as lossAndGradient's own loop gives them (zeros, ±, a NaN among them).
      const w = kernels.alloc(weights), g = kernels.alloc(weights);
      w.forEach((_, i) => w[i] = i % 97 === 0 ? (i % 2 ? -0 : 0) : random() * 2 - 1);
      w[weights - 5] = NaN;
      g.forEach((_, i) => g[i] = random() - 0.5);
      const expectedG = g.slice();
      let abs = 0.5, squares = 0.25;
      for (let i = 0; i < weights; i++) {
        expectedG[i] += l2 * w[i] + (l1 / 2) * Math.sign(w[i]);
        abs += Math.abs(w[i]);
        squares += w[i] * w[i];
      }
      const later = kernels.logisticLossLater(zs[0], y, a, dz, n, 1 / 240)!;
      assert.equal(firstDifference(a, expected[0].a), -1, `×${threads}: sigmoids`);
      assert.equal(firstDifference(dz, expected[0].dz), -1, `×${threads}: gradients`);
      const sums = kernels.penalty(w, g, weights, l1, l2, 0.5, 0.25)!;
      assert.deepEqual(sums, [abs, squares], `×${threads}: penalty sums beside a pending cost`);
      assert.equal(firstDifference(g, expectedG), -1, `×${threads}: penalty beside a pending cost`);
      if (threads === 2) {
        // The cost ran beside the penalty, on the thread it left idle: changing z now (which a
        // caller must not do) cannot change it.
        const kept = zs[0].slice();
        zs[0].fill(0);
        assert.equal(later(), expected[0].loss);
        zs[0].set(kept);
      }
      assert.equal(later(), expected[0].loss, `×${threads}`);
      assert.equal(later(), expected[0].loss, `×${threads}, asked twice`);
      // Never asked for before the next loss: it is summed before its staging is reused.
      const first = kernels.logisticLossLater(zs[0], y, a, dz, n, 1 / 240)!;
      const second = kernels.logisticLossLater(zs[1], y, a, dz, n, 1 / 240)!;
      assert.equal(firstDifference(dz, expected[1].dz), -1, `×${threads}: second gradients`);
      assert.equal(second(), expected[1].loss, `×${threads}: second`);
      assert.equal(first(), expected[0].loss, `×${threads}: first, asked last`);
      assert.equal(kernels.logisticLoss(zs[1], y, a, dz, n, 1 / 240), expected[1].loss);
      assert.equal(kernels.logisticLossLater(zs[0], y, a, dz, 0, 1)!(), 0);
      assert.equal(kernels.logisticLossLater(new Float32Array(n), y, a, dz, n, 1), null);
    } finally {
      kernels.close();
    }
  }
});

Deno.test("xᵀ·dz through an index with a mostly-zero dz adds only its non-zero columns, with the reference's bits", async () => {
  const random = seededRandom(31, "few columns");
  const all = [
    await createWasmKernels({ threads: 1, sparseZeros: 0 }),
    await createWasmKernels({ threads: 2, minParallelWork: 0, sparseZeros: 0 }),
    await createWasmKernels({ threads: 3, minParallelWork: 0, sparseZeros: 0 }),
  ];
  try {
    const width = 37, stored = 50, k = 60;
    const source = Float32Array.from(
      { length: stored * width },
      () => random() < 0.7 ? 0 : random() * 255,
    );
    for (const kernels of all) kernels.prepareRows(source, width);
    for (const n of [1, 5, 10, 49, 50, 52, 63, 64, 65]) {
      const aRows = Uint32Array.from({ length: k }, () => Math.floor(random() * stored));
      // Like a saturated sigmoid layer's gradient: most rows all ±0, most others with one to
      // three non-zeros (some in the last columns), a few dense or with only the last column
      // non-zero.
      const b = new Float32Array(k * n);
      for (let p = 0; p < k; p++) {
        const kind = random();
        const row = b.subarray(p * n, (p + 1) * n);
        if (kind < 0.4) row.fill(p % 2 ? -0 : 0);
        else if (kind < 0.85) {
          for (let q = 0; q < 1 + Math.floor(random() * 3); q++) {
            row[random() < 0.3 ? n - 1 - Math.floor(random() * 3 % n) : Math.floor(random() * n)] =
              random() * 2 - 1;
          }
        } else if (kind < 0.97) {
          row.forEach((_, j) => row[j] = random() < 0.6 ? random() - 0.5 : -0);
        } else row[n - 1] = random() - 0.5;
      }
      const args: GemmArgs = {
        m: width,
        n,
        k,
        a: source,
        aRows,
        transA: true,
        b,
        c: Float32Array.from({ length: width * n }, () => random()),
      };
      for (const kernels of all) assertMatchesReference(kernels, args, `n ${n}, ${kernels.name}`);
    }
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("a ReLU gate zeroes C where it is ≤ 0, as activateBackward does, on every path of the product", async () => {
  const random = seededRandom(37, "relu gate");
  const all = [
    await createWasmKernels({ threads: 1 }),
    await createWasmKernels({ threads: 2, minParallelWork: 0 }),
  ];
  // Products this small pair up (one a thread) only below minParallelWork.
  const pairing = await createWasmKernels({ threads: 2 });
  try {
    for (const kernels of [...all, pairing]) {
      // Shapes around the 4×8 tile; dz·Wᵀ as a ReLU layer's backward (B transposed), and A
      // read plainly, mostly zeros (the sparse kernel) and through an index (both gated after).
      for (const [m, n, k] of [[1, 1, 1], [5, 9, 3], [12, 40, 10], [33, 17, 7]]) {
        const forms = ["transB", "transA", "plain", "sparse", "indexed", "outside"] as const;
        for (const form of forms) {
          const place = (length: number, fill: () => number) => {
            const x = form === "outside" ? new Float32Array(length) : kernels.alloc(length);
            x.forEach((_, i) => x[i] = fill());
            return x;
          };
          const a = place(m * k, () => form === "sparse" && random() < 0.8 ? 0 : random() - 0.5);
          const b = place(k * n, () => random() - 0.5);
          // The gate: positive, negative, ±0 and NaN.
          const gate = place(m * n, () => [1, -1, 0, -0, NaN, 2e-45][Math.floor(random() * 6)]);
          const args: GemmArgs = {
            m,
            n,
            k,
            a,
            b,
            c: place(m * n, () => 7),
            transA: form === "transA",
            transB: form === "transB",
            reluGate: gate,
          };
          if (form === "indexed") {
            kernels.prepareRows(a, k);
            args.aRows = Uint32Array.from({ length: m }, (_, i) => (i * 7) % m);
          }
          const expected = new Float32Array(m * n);
          referenceGemm({ ...args, c: expected, reluGate: undefined });
          activateBackward("relu", gate, gate, expected, m * n);
          kernels.gemm(args);
          const where = `${kernels.name}, ${m}×${n}×${k}, ${form}`;
          assert.equal(firstDifference(args.c as Float32Array, expected), -1, where);
          // The reference gates the same way.
          const reference = new Float32Array(m * n);
          referenceGemm({ ...args, c: reference });
          assert.equal(firstDifference(reference, expected), -1, `reference, ${where}`);
        }
      }
      // Paired with another product on two threads, each on its own.
      const dz = kernels.alloc(8 * 3).map((_, i) => i - 9);
      const w = kernels.alloc(20 * 3).map((_, i) => (i % 5) - 2);
      const [dzIn, wIn] = [kernels.alloc(dz.length), kernels.alloc(w.length)];
      dzIn.set(dz);
      wIn.set(w);
      const gate = kernels.alloc(8 * 20);
      gate.forEach((_, i) => gate[i] = i % 3 === 0 ? -1 : 1);
      const dx = kernels.alloc(8 * 20), dw = kernels.alloc(20 * 3);
      const inputGradient: GemmArgs = {
        m: 8,
        n: 20,
        k: 3,
        a: dzIn,
        b: wIn,
        transB: true,
        c: dx,
        reluGate: gate,
      };
      const weightGradient: GemmArgs = { m: 20, n: 3, k: 8, a: gate, b: dzIn, transA: true, c: dw };
      const paired = kernels.gemmPair(weightGradient, inputGradient);
      assert.equal(paired, kernels === pairing);
      if (!paired) kernels.gemm(inputGradient);
      const expected = new Float32Array(8 * 20);
      referenceGemm({ ...inputGradient, c: expected });
      assert.equal(firstDifference(dx, expected), -1, `${kernels.name}, paired`);
      assert.ok(
        dx.some((v, i) => i % 3 !== 0 && v !== 0) &&
          dx.every((v, i) => i % 3 !== 0 || Object.is(v, 0)),
      );
    }
    for (const kernel of [all[0], referenceKernels]) {
      const x = new Float32Array(4);
      assert.throws(
        () => kernel.gemm({ m: 2, n: 2, k: 1, a: x, b: x, c: x, reluGate: x, accumulate: true }),
        /a ReLU gate must not come with a bias row or accumulate/,
      );
      assert.throws(
        () => kernel.gemm({ m: 2, n: 2, k: 1, a: x, b: x, c: x, reluGate: x, bias: x }),
        /a ReLU gate must not come with a bias row or accumulate/,
      );
      assert.throws(
        () => kernel.gemm({ m: 2, n: 2, k: 1, a: x, b: x, c: x, reluGate: x.subarray(0, 3) }),
        /the ReLU gate must hold m·n=4 values: current length is 3/,
      );
    }
  } finally {
    for (const kernels of [...all, pairing]) kernels.close();
  }
});

Deno.test("a sigmoid gate stores C·a·(1 − a) as activateBackward does, skipping saturated units only where every sum is finite", async () => {
  const random = seededRandom(43, "sigmoid gate");
  const all = [
    await createWasmKernels({ threads: 1 }),
    await createWasmKernels({ threads: 3, minParallelWork: 0 }),
  ];
  // Products this small pair up (one a thread) only below minParallelWork.
  const pairing = await createWasmKernels({ threads: 2 });
  /** The same values, ±0 told apart, NaN as NaN (whose payload JavaScript and WebAssembly may pick apart). */
  const sameValues = (x: Float32Array, y: Float32Array) => x.every((v, i) => Object.is(v, y[i]));
  // Saturated units (exactly 0 or 1, −0 too) most of the time, as raw pixels make them; live
  // ones; one whose gradient flushes to 0 as a denormal; NaN.
  const gateValue = () =>
    random() < 0.75
      ? [0, 1, -0][Math.floor(random() * 3)]
      : [0.5, 0.25, 0.999, 1e-30, NaN][Math.floor(random() * 5)];
  // Finite sums (skipped where saturated); sums that overflow to ±Infinity; a NaN or an
  // infinity in A, where a saturated unit's gradient must be NaN as the reference's is.
  const regimes = {
    finite: () => random() - 0.5,
    overflowing: () => (random() - 0.5) * 1e30,
    "with NaN": () => random() < 0.05 ? NaN : random() - 0.5,
    "with Infinity": () => random() < 0.05 ? -Infinity : random() - 0.5,
  };
  try {
    for (const kernels of [...all, pairing]) {
      for (const [m, n, k] of [[1, 1, 1], [5, 9, 3], [12, 50, 10], [33, 17, 7], [4, 6, 0]]) {
        for (const [regime, value] of Object.entries(regimes)) {
          for (const form of ["transB", "plain", "transA", "indexed", "outside"] as const) {
            const place = (length: number, fill: () => number) => {
              const x = form === "outside" ? new Float32Array(length) : kernels.alloc(length);
              x.forEach((_, i) => x[i] = fill());
              return x;
            };
            const a = place(m * k, value);
            const b = place(k * n, () => random() - 0.5);
            const gate = place(m * n, gateValue);
            const args: GemmArgs = {
              m,
              n,
              k,
              a,
              b,
              c: place(m * n, () => 7),
              transA: form === "transA",
              transB: form === "transB",
              sigmoidGate: gate,
            };
            if (form === "indexed") {
              kernels.prepareRows(a, k);
              args.aRows = Uint32Array.from({ length: m }, (_, i) => (i * 7) % m);
            }
            const expected = new Float32Array(m * n);
            referenceGemm({ ...args, c: expected, sigmoidGate: undefined });
            activateBackward("sigmoid", gate, gate, expected, m * n);
            kernels.gemm(args);
            const where = `${kernels.name}, ${m}×${n}×${k}, ${regime}, ${form}`;
            assert.ok(sameValues(args.c as Float32Array, expected), where);
            // The reference gates the same way.
            const reference = new Float32Array(m * n);
            referenceGemm({ ...args, c: reference });
            assert.ok(sameValues(reference, expected), `reference, ${where}`);
          }
        }
      }
      // Paired with the layer's weight gradient on two threads, each product on its own.
      const filled = (length: number, value: (i: number) => number) => {
        const x = kernels.alloc(length);
        x.forEach((_, i) => x[i] = value(i));
        return x;
      };
      const dz = filled(40 * 3, (i) => (i % 7) - 3), w = filled(20 * 3, (i) => (i % 5) - 2);
      const below = filled(40 * 20, (i) => i % 4 === 0 ? 0.5 : i % 4 === 1 ? 0 : 1);
      const dx = filled(40 * 20, () => 7), dw = kernels.alloc(20 * 3);
      const inputGradient: GemmArgs = {
        m: 40,
        n: 20,
        k: 3,
        a: dz,
        b: w,
        transB: true,
        c: dx,
        sigmoidGate: below,
      };
      const weightGradient: GemmArgs = { m: 20, n: 3, k: 40, a: below, b: dz, transA: true, c: dw };
      const paired = kernels.gemmPair(weightGradient, inputGradient);
      assert.equal(paired, kernels === pairing);
      if (!paired) {
        kernels.gemm(weightGradient);
        kernels.gemm(inputGradient);
      }
      const expected = new Float32Array(40 * 20);
      referenceGemm({ ...inputGradient, c: expected });
      assert.ok(sameValues(dx, expected), `${kernels.name}, paired`);
      const expectedWeights = new Float32Array(20 * 3);
      referenceGemm({ ...weightGradient, c: expectedWeights });
      assert.equal(firstDifference(dw, expectedWeights), -1, `${kernels.name}, paired weights`);
      // Live units got their sums; saturated ones +0.
      assert.ok(
        dx.some((v, i) => i % 4 === 0 && v !== 0) &&
          dx.every((v, i) => i % 4 === 0 || Object.is(v, 0)),
      );
    }
    for (const kernel of [all[0], referenceKernels]) {
      const x = new Float32Array(4);
      for (const extra of [{ accumulate: true }, { bias: x }, { reluGate: x }]) {
        assert.throws(
          () => kernel.gemm({ m: 2, n: 2, k: 1, a: x, b: x, c: x, sigmoidGate: x, ...extra }),
          /a sigmoid gate must not come with a bias row, accumulate or a ReLU gate/,
        );
      }
      assert.throws(
        () => kernel.gemm({ m: 2, n: 2, k: 1, a: x, b: x, c: x, sigmoidGate: x.subarray(0, 3) }),
        /the sigmoid gate must hold m·n=4 values: current length is 3/,
      );
    }
  } finally {
    for (const kernels of [...all, pairing]) kernels.close();
  }
});

Deno.test("xᵀ·dz through an index is cut among the threads by terms, however they crowd into A's columns", async () => {
  const random = seededRandom(41, "terms");
  const all = [2, 3].map((threads) => createWasmKernels({ threads, minParallelWork: 0 }));
  const kernels = await Promise.all(all);
  try {
    const width = 30, stored = 40, k = 24;
    // All in the last columns, all in the first, in one column, spread, and none at all.
    const layouts: ((j: number) => boolean)[] = [
      (j) => j >= width - 3,
      (j) => j < 2,
      (j) => j === 17,
      () => random() < 0.3,
      () => false,
    ];
    for (const [l, live] of layouts.entries()) {
      const source = Float32Array.from(
        { length: stored * width },
        (_, i) => live(i % width) && random() < 0.8 ? random() + 0.1 : 0,
      );
      // Scattered (dense B, and a mostly-zero one whose columns go one at a time), and
      // bucketed (C past 512 KB).
      for (const [n, zeroRows] of [[70, 0], [40, 0.6], [4500, 0]]) {
        const b = Float32Array.from({ length: k * n }, () => random() - 0.5);
        for (let p = 0; p < k; p++) {
          if (random() < zeroRows) b.fill(0, p * n, (p + 1) * n);
          else if (zeroRows > 0) b.fill(0, p * n + 2, (p + 1) * n);
        }
        for (const kernel of kernels) {
          kernel.prepareRows(source, width);
          const args: GemmArgs = {
            m: width,
            n,
            k,
            a: source,
            aRows: Uint32Array.from({ length: k }, () => Math.floor(random() * stored)),
            transA: true,
            b,
            c: new Float32Array(width * n),
          };
          assertMatchesReference(kernel, args, `layout ${l}, n ${n}`);
        }
      }
    }
  } finally {
    for (const kernel of kernels) kernel.close();
  }
});

Deno.test("a bias row is added to every row of a product, and refused with accumulate or too short", async () => {
  const kernels = await createWasmKernels({ threads: 1, sparseZeros: 0 });
  try {
    const a = Float32Array.of(0, 2, 0, 0, 0, 3);
    kernels.prepareRows(a, 3);
    const b = Float32Array.of(1, 2, 3, 4, 5, 6);
    const bias = Float32Array.of(0.5, -1);
    for (const kernel of [kernels, referenceKernels]) {
      const c = new Float32Array(4).fill(9);
      kernel.gemm({ m: 2, n: 2, k: 3, a, aRows: Uint32Array.of(0, 1), b, c, bias });
      assert.deepEqual(Array.from(c), [6.5, 7, 15.5, 17]);
      assert.throws(
        () => kernel.gemm({ m: 2, n: 2, k: 3, a, b, c, bias, accumulate: true }),
        /a bias row and accumulate must not both be given/,
      );
      assert.throws(
        () => kernel.gemm({ m: 2, n: 2, k: 3, a, b, c, bias: bias.subarray(0, 1) }),
        /the bias row must hold n=2 values: current length is 1/,
      );
    }
  } finally {
    kernels.close();
  }
});
