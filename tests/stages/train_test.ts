import assert from "node:assert/strict";
import { OPTIMIZERS } from "../../model/optimizers.ts";
import { DivergenceError } from "../../engine/errors.ts";
import { seededRandom } from "../../model/rng.ts";
import { collectSplit, type DataSet } from "../../engine/chunk.ts";
import type { NormalizedMeta } from "../../stages/normalize.ts";
import { evaluateModel } from "../../stages/evaluate.ts";
import { planBatches } from "../../stages/minibatch.ts";
import { trainNetwork, type TrainOptions, trainParams } from "../../stages/train.ts";
import { AUGMENT_DEFAULTS, NO_AUGMENT } from "../../stages/augment.ts";
import { createWasmKernels } from "../../kernels/wasm_kernels.ts";
import { type Kernels, referenceKernels } from "../../model/kernels.ts";
import { floatDataSet, shapeSet, syntheticSet } from "../fixtures.ts";

function separable(noisy = false): DataSet<Float32Array, NormalizedMeta> {
  const random = seededRandom(3, "separable");
  const train = syntheticSet(80, 4, 10, 10, random);
  // Noisy labels make the network overfit, so the validation loss turns upwards.
  if (noisy) { for (let i = 0; i < 80; i += 3) train.labels[i] = (train.labels[i] + 1) % 4; }
  return floatDataSet(train, syntheticSet(20, 4, 10, 10, random), 4);
}

const base: TrainOptions = {
  hidden: [8],
  activation: "relu",
  output: "softmax",
  init: "he",
  optimizer: "sgd",
  eta: 0.5,
  momentum: 0.5,
  decay: 0,
  decaySchedule: "inverse",
  l1: 0,
  l2: 0,
  reduction: "mean",
  epochs: 40,
  patience: 0,
  seed: 1,
  deskew: false,
  shuffleBuffer: null,
};
const quiet = { log() {} };
const learningRates = { sgd: 0.5, nesterov: 0.2, adam: 0.02 };

for (const optimizer of OPTIMIZERS) {
  Deno.test(`${optimizer} learns a tiny separable problem to 100%`, async () => {
    const data = separable();
    const plan = planBatches(80, { batching: { batchSize: 10 }, validation: 0, seed: 1 });
    const result = await trainNetwork(
      data,
      plan,
      { ...base, optimizer, eta: learningRates[optimizer] },
      quiet,
    );
    const { metrics } = await evaluateModel(result.model, data);
    assert.equal(metrics.trainAccuracy, 1);
    assert.equal(result.history.length, 40);
    assert.equal(result.costs.length, 40 * 8);
    assert.ok(result.history[39].trainLoss < result.history[0].trainLoss);
  });
}

for (const shuffleBuffer of [null, 24]) {
  const mode = shuffleBuffer === null ? "in memory" : "streamed through a buffer";
  Deno.test(`training ${mode} is bit-for-bit the same for the same seed and differs for another`, async () => {
    const data = separable();
    const plan = planBatches(80, { batching: { batchSize: 16 }, validation: 0, seed: 1 });
    const options = { ...base, epochs: 3, shuffleBuffer };
    const a = await trainNetwork(data, plan, options, quiet);
    const b = await trainNetwork(data, plan, options, quiet);
    assert.deepEqual(a.model.params, b.model.params);
    assert.deepEqual(a.costs, b.costs);
    const c = await trainNetwork(data, plan, { ...options, seed: 2 }, quiet);
    assert.notDeepEqual(c.model.params, a.model.params);
  });

  Deno.test(`training ${mode} learns the tiny synthetic set: loss falls, accuracy far above chance`, async () => {
    const data = separable();
    const plan = planBatches(80, { batching: { batchSize: 10 }, validation: 0.25, seed: 1 });
    const result = await trainNetwork(data, plan, { ...base, epochs: 30, shuffleBuffer }, quiet);
    assert.ok(result.history[29].trainLoss < result.history[0].trainLoss / 4);
    assert.ok(result.history[29].validationAccuracy! >= 0.9);
    const { metrics } = await evaluateModel(result.model, data);
    assert.ok(metrics.testAccuracy >= 0.9, `test accuracy ${metrics.testAccuracy}`);
  });
}

Deno.test("the streamed mode trains on other minibatches than the exact shuffle, from the same data", async () => {
  const data = separable();
  const plan = planBatches(80, { batching: { batchSize: 16 }, validation: 0, seed: 1 });
  const held = await trainNetwork(data, plan, { ...base, epochs: 2 }, quiet);
  const streamed = await trainNetwork(data, plan, { ...base, epochs: 2, shuffleBuffer: 8 }, quiet);
  assert.equal(streamed.costs.length, held.costs.length);
  assert.notDeepEqual(streamed.costs, held.costs);
  const train = await collectSplit(data, "train");
  assert.equal(train.labels.length, 80);
});

Deno.test("a divergent learning rate stops training with a hint to lower it", async () => {
  const data = separable();
  const plan = planBatches(80, { batching: { batchSize: 80 }, validation: 0, seed: 1 });
  await assert.rejects(
    () =>
      trainNetwork(data, plan, { ...base, activation: "relu", init: "uniform", eta: 1e30 }, quiet),
    (e: unknown) =>
      e instanceof DivergenceError && e.message.includes("loss must stay finite") &&
      e.message.includes("Hint: use a smaller learning rate"),
  );
});

Deno.test("weights an update overflows are caught at the epoch's end, before any loss shows them", async () => {
  const data = separable();
  // One minibatch an epoch, so the poisoned update is the epoch's last: no later loss sees it.
  const plan = planBatches(80, { batching: { batchSize: 80 }, validation: 0, seed: 1 });
  for (const poison of [Infinity, -Infinity, NaN]) {
    const kernels: Kernels = {
      ...referenceKernels,
      update(args) {
        args.params[args.size - 1] = poison;
        return true;
      },
    };
    await assert.rejects(
      () => trainNetwork(data, plan, { ...base, epochs: 2 }, quiet, kernels),
      (e: unknown) =>
        e instanceof DivergenceError &&
        e.message.includes("the loss must stay finite: it is NaN at the end of epoch 1 (weights)"),
      `poison ${poison}`,
    );
  }
});

Deno.test("validation is reported per epoch and early stopping keeps the best epoch", async () => {
  const data = separable(true);
  const plan = planBatches(80, { batching: { batchSize: 10 }, validation: 0.25, seed: 1 });
  const lines: string[] = [];
  const result = await trainNetwork(
    data,
    plan,
    { ...base, hidden: [32], optimizer: "adam", eta: 0.05, epochs: 200, patience: 3 },
    { log: (l) => lines.push(l) },
  );
  assert.ok(
    result.history.every((h) =>
      h.validationLoss !== undefined && h.validationAccuracy !== undefined
    ),
  );
  assert.ok(result.history.length < 200);
  const best = result.history[result.bestEpoch - 1];
  assert.equal(best.validationLoss, Math.min(...result.history.map((h) => h.validationLoss!)));
  assert.ok(lines.some((l) => l.startsWith("early stop")));
});

Deno.test("a loss that climbs without turning infinite stops training by the divergence rule", async () => {
  const data = separable();
  const plan = planBatches(80, { batching: { batchSize: 8 }, validation: 0, seed: 1 });
  await assert.rejects(
    () => trainNetwork(data, plan, { ...base, eta: 1e4, epochs: 3 }, quiet),
    (e: unknown) =>
      e instanceof DivergenceError &&
      /must not climb past 10× the first minibatch's \(1\.\d+ per row\): epoch 1's mean is/.test(
        e.message,
      ),
  );
});

const shapes = () => {
  const random = seededRandom(6, "augment shapes");
  return floatDataSet(shapeSet(160, 14, 14, random), shapeSet(40, 14, 14, random), 4);
};
const augment = { kind: "both", ...AUGMENT_DEFAULTS, elasticAlpha: 8, elasticSigma: 2 } as const;

for (const shuffleBuffer of [null, 40]) {
  const mode = shuffleBuffer === null ? "in memory (worker)" : "streamed (inline)";
  Deno.test(`augmented training ${mode} with dropout learns the shapes and repeats bit for bit`, async () => {
    const data = shapes();
    const plan = planBatches(160, { batching: { batchSize: 16 }, validation: 0, seed: 1 });
    const options: TrainOptions = {
      ...base,
      hidden: [24],
      optimizer: "adam",
      eta: 0.01,
      epochs: 25,
      augment,
      dropout: 0.2,
      shuffleBuffer,
    };
    const a = await trainNetwork(data, plan, options, quiet);
    const { metrics } = await evaluateModel(a.model, data);
    assert.ok(metrics.testAccuracy >= 0.9, `test accuracy ${metrics.testAccuracy}`);
    assert.ok(a.history[24].trainLoss < a.history[0].trainLoss / 2);
    const b = await trainNetwork(data, plan, { ...options, epochs: 3 }, quiet);
    const c = await trainNetwork(data, plan, { ...options, epochs: 3 }, quiet);
    assert.deepEqual(b.model.params, c.model.params);
    assert.deepEqual(b.costs, c.costs);
    // Augmentation changes what the network sees, so the same seed without it trains otherwise.
    const plain = await trainNetwork(
      data,
      plan,
      { ...options, epochs: 3, augment: NO_AUGMENT },
      quiet,
    );
    assert.notDeepEqual(plain.costs, b.costs);
    const undropped = await trainNetwork(data, plan, { ...options, epochs: 3, dropout: 0 }, quiet);
    assert.notDeepEqual(undropped.costs, b.costs);
  });
}

Deno.test("augmented training with dropout gives the same bits on 1 and 2 wasm threads", async () => {
  const data = shapes();
  const plan = planBatches(160, { batching: { batchSize: 32 }, validation: 0.1, seed: 1 });
  const options: TrainOptions = {
    ...base,
    hidden: [24],
    optimizer: "adam",
    eta: 0.01,
    epochs: 2,
    augment,
    dropout: 0.3,
  };
  const reference = await trainNetwork(data, plan, options, quiet);
  for (const threads of [1, 2]) {
    const kernels = await createWasmKernels({ threads, minParallelWork: 0 });
    try {
      const result = await trainNetwork(data, plan, options, quiet, kernels);
      assert.deepEqual(result.model.params, reference.model.params, `${threads} threads`);
      assert.deepEqual(result.costs, reference.costs);
    } finally {
      kernels.close();
    }
  }
});

Deno.test("augmentation and dropout join the train stage's params only when they are on", () => {
  const plain = trainParams(base) as Record<string, unknown>;
  assert.deepEqual(plain, { ...base });
  assert.deepEqual(trainParams({ ...base, augment: NO_AUGMENT, dropout: 0 }), plain);
  const on = trainParams({ ...base, augment, dropout: 0.25 }) as Record<string, unknown>;
  assert.deepEqual(on.augment, augment);
  assert.equal(on.dropout, 0.25);
});
