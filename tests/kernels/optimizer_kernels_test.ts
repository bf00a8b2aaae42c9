import assert from "node:assert/strict";
import { createOptimizer, OPTIMIZERS } from "../../model/optimizers.ts";
import { seededRandom } from "../../model/rng.ts";
import { planBatches } from "../../stages/minibatch.ts";
import { trainNetwork, type TrainOptions } from "../../stages/train.ts";
import { createWasmKernels, type WasmKernels } from "../../kernels/wasm_kernels.ts";
import { floatDataSet, syntheticSet } from "../fixtures.ts";

/** Whether two float arrays hold the same bits. */
function sameBits(x: Float32Array | Float64Array, y: Float32Array | Float64Array): boolean {
  const a = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const b = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

Deno.test("the optimiser kernels give the TypeScript reference's bits on 1 and 3 threads, every rule and odd size", async () => {
  const all: WasmKernels[] = [
    await createWasmKernels({ threads: 1 }),
    // minParallelWork 0 splits even one element's update among the threads.
    await createWasmKernels({ threads: 3, minParallelWork: 0 }),
  ];
  try {
    const random = seededRandom(11, "optimizers");
    for (const kind of OPTIMIZERS) {
      for (const size of [1, 3, 4, 5, 63, 64, 65, 130, 1001]) {
        const params = Float32Array.from({ length: size }, () => random() * 2 - 1);
        // Gradients across many magnitudes, with zeros, −0 and denormal-sized values.
        const grads = Array.from(
          { length: 4 },
          () =>
            Float32Array.from(
              { length: size },
              (_, i) =>
                i % 7 === 0 ? (i % 2 ? -0 : 0) : i % 11 === 0 ? 1e-40 : (random() * 2 - 1) *
                  10 ** Math.floor(random() * 8 - 4),
            ),
        );
        const expected = params.slice();
        const reference = createOptimizer({ kind, momentum: 0.9 }, size);
        for (const [step, grad] of grads.entries()) {
          reference.step(expected, grad, 0.01 / (step + 1));
        }
        for (const kernels of all) {
          const p = kernels.alloc(size), g = kernels.alloc(size);
          p.set(params);
          const optimizer = createOptimizer({ kind, momentum: 0.9 }, size, kernels);
          for (const [step, grad] of grads.entries()) {
            g.set(grad);
            optimizer.step(p, g, 0.01 / (step + 1));
          }
          assert.ok(sameBits(p, expected), `${kind}, ${size} values, ${kernels.name}`);
          optimizer.free();
          kernels.free(p);
          kernels.free(g);
        }
      }
    }
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("Adam's kernel gives the reference's bits where gradients are zero, for any learning rate", async () => {
  const all: WasmKernels[] = [
    await createWasmKernels({ threads: 1 }),
    await createWasmKernels({ threads: 3, minParallelWork: 0 }),
  ];
  try {
    const size = 112;
    // Weights of every sign, zeros of both signs, a NaN; the runs of zero gradients below are
    // where the kernel may skip 16 weights at a time, and only where the step leaves them be.
    const params = Float32Array.from(
      { length: size },
      (_, i) => [0, -0, 1e-30, -0.5, 0.25, NaN, -1e-45][i % 7],
    );
    const grads = Array.from(
      { length: 4 },
      (_, step) =>
        Float32Array.from({ length: size }, (_, i) => {
          if (i < 32) return i % 3 === 0 ? -0 : 0; // never a gradient: skippable at every step
          // A tiny gradient once, then none: m is non-zero while v underflowed to +0.
          if (i < 48) return step === 0 ? 1e-30 : 0;
          if (i < 64) return step === 1 ? -2 : 0; // a gradient once, then zeros: m and v decay
          if (i < 80) return i === 70 && step === 2 ? 1 : 0; // one lane of the 16 only
          return (i * 7 + step) % 5 === 0 ? 0 : Math.sin(i + step);
        }),
    );
    for (const eta of [0.01, 0, -0, -0.01, 1e30, Infinity, NaN]) {
      const expected = params.slice();
      const reference = createOptimizer({ kind: "adam", momentum: 0 }, size);
      for (const grad of grads) reference.step(expected, grad, eta);
      for (const kernels of all) {
        const p = kernels.alloc(size), g = kernels.alloc(size);
        p.set(params);
        const optimizer = createOptimizer({ kind: "adam", momentum: 0 }, size, kernels);
        for (const grad of grads) {
          g.set(grad);
          optimizer.step(p, g, eta);
        }
        assert.ok(sameBits(p, expected), `η ${Object.is(eta, -0) ? "−0" : eta}, ${kernels.name}`);
        optimizer.free();
        kernels.free(p);
        kernels.free(g);
      }
    }
  } finally {
    for (const kernels of all) kernels.close();
  }
});

Deno.test("the optimiser kernels decline buffers outside their memory, leaving them to the reference loop", async () => {
  const kernels = await createWasmKernels({ threads: 1 });
  try {
    const first = kernels.alloc(2), second = kernels.alloc(2);
    const args = {
      rule: "adam" as const,
      params: Float32Array.of(1, 2),
      grad: Float32Array.of(1, 1),
      first,
      second,
      size: 2,
      eta: 0.1,
      momentum: 0,
      adam: [0.9, 0.1, 0.999, 0.001, 1, 1, 1e-8] as const,
    };
    assert.equal(kernels.update(args), false);
    assert.deepEqual([...args.params], [1, 2]);
    assert.deepEqual([...first], [0, 0]);
  } finally {
    kernels.close();
  }
});

const OPTIONS: TrainOptions = {
  hidden: [13],
  activation: "relu",
  output: "softmax",
  init: "he",
  optimizer: "adam",
  eta: 0.01,
  momentum: 0,
  decay: 0,
  decaySchedule: "inverse",
  l1: 0,
  l2: 0.01,
  reduction: "mean",
  epochs: 2,
  patience: 0,
  seed: 3,
  deskew: false,
  shuffleBuffer: null,
};

Deno.test("repeated trainings and evaluations on the same kernels reuse their memory instead of growing it", async () => {
  const random = seededRandom(12, "memory");
  const data = floatDataSet(
    syntheticSet(60, 4, 10, 10, random),
    syntheticSet(8, 4, 10, 10, random),
    4,
  );
  const plan = planBatches(60, { batching: { batchSize: 16 }, validation: 0.1, seed: 1 });
  const kernels = await createWasmKernels({ threads: 2, minParallelWork: 0, sparseZeros: 0 });
  try {
    const before = kernels.memoryBytes().buffers;
    const first = await trainNetwork(data, plan, OPTIONS, { log() {} }, kernels);
    const after = kernels.memoryBytes();
    assert.equal(after.buffers, before, "a training hands back every buffer it took");
    // A hundred retrainings, arms of all shapes and modes: the memory never grows past the first.
    for (let run = 0; run < 100; run++) {
      const options = {
        ...OPTIONS,
        hidden: [5 + (run % 4) * 4],
        optimizer: (["adam", "sgd", "nesterov"] as const)[run % 3],
        shuffleBuffer: run % 2 ? 20 : null,
      };
      await trainNetwork(data, plan, options, { log() {} }, kernels);
      assert.equal(kernels.memoryBytes().buffers, before, `live bytes after run ${run}`);
    }
    assert.equal(kernels.memoryBytes().reserved, after.reserved);
    // The same training on reused memory gives the same bits.
    const again = await trainNetwork(data, plan, OPTIONS, { log() {} }, kernels);
    assert.deepEqual(again.costs, first.costs);
    assert.ok(sameBits(again.model.params, first.model.params));
  } finally {
    kernels.close();
  }
});

Deno.test("a training that fails half way still hands back its buffers", async () => {
  const random = seededRandom(13, "memory");
  const data = floatDataSet(
    syntheticSet(40, 4, 10, 10, random),
    syntheticSet(8, 4, 10, 10, random),
    4,
  );
  const plan = planBatches(40, { batching: { batchSize: 8 }, validation: 0, seed: 1 });
  const kernels = await createWasmKernels({ threads: 1 });
  try {
    const before = kernels.memoryBytes().buffers;
    await assert.rejects(
      () =>
        trainNetwork(
          data,
          plan,
          { ...OPTIONS, optimizer: "sgd", eta: 1e30 },
          { log() {} },
          kernels,
        ),
      /Cannot keep training as the loss must/,
    );
    assert.equal(kernels.memoryBytes().buffers, before);
  } finally {
    kernels.close();
  }
});

Deno.test("freed kernel memory comes back zeroed, and freeing twice is refused", async () => {
  const kernels = await createWasmKernels({ threads: 1 });
  try {
    const a = kernels.alloc(100);
    a.fill(7);
    kernels.free(a);
    const b = kernels.alloc(50);
    assert.equal(b.byteOffset, a.byteOffset);
    assert.ok(b.every((v) => v === 0));
    kernels.free(b);
    assert.throws(
      () => kernels.free(b),
      /Cannot free kernel memory at byte \d+ as it must be a live buffer from alloc: it is not \(freed twice, or a view into one\)/,
    );
  } finally {
    kernels.close();
  }
});
