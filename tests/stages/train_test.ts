import assert from "node:assert/strict";
import { OPTIMIZERS } from "../../model/optimizers.ts";
import { DivergenceError } from "../../engine/errors.ts";
import { seededRandom } from "../../model/rng.ts";
import type { DataSplits } from "../../engine/chunk.ts";
import { evaluateModel } from "../../stages/evaluate.ts";
import { planBatches } from "../../stages/minibatch.ts";
import { trainNetwork, type TrainOptions } from "../../stages/train.ts";
import { syntheticSet } from "../fixtures.ts";

function separable(): DataSplits<Float32Array> {
  const random = seededRandom(3, "separable");
  const toFloat = (s: ReturnType<typeof syntheticSet>) => ({
    ...s,
    images: Float32Array.from(s.images, (v) => v / 255),
  });
  return {
    train: toFloat(syntheticSet(80, 4, 10, 10, random)),
    test: toFloat(syntheticSet(20, 4, 10, 10, random)),
    classes: 4,
  };
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
};
const quiet = { log() {} };
const learningRates = { sgd: 0.5, nesterov: 0.2, adam: 0.02 };

for (const optimizer of OPTIMIZERS) {
  Deno.test(`${optimizer} learns a tiny separable problem to 100%`, () => {
    const data = separable();
    const plan = planBatches(80, { batching: { batchSize: 10 }, validation: 0, seed: 1 });
    const result = trainNetwork(
      data,
      plan,
      { ...base, optimizer, eta: learningRates[optimizer] },
      quiet,
    );
    const { metrics } = evaluateModel(result.model, data);
    assert.equal(metrics.trainAccuracy, 1);
    assert.equal(result.history.length, 40);
    assert.equal(result.costs.length, 40 * 8);
    assert.ok(result.history[39].trainLoss < result.history[0].trainLoss);
  });
}

Deno.test("training is bit-for-bit the same for the same seed and differs for another", () => {
  const data = separable();
  const plan = planBatches(80, { batching: { batchSize: 16 }, validation: 0, seed: 1 });
  const options = { ...base, epochs: 3 };
  const a = trainNetwork(data, plan, options, quiet);
  const b = trainNetwork(data, plan, options, quiet);
  assert.deepEqual(a.model.params, b.model.params);
  assert.deepEqual(a.costs, b.costs);
  const c = trainNetwork(data, plan, { ...options, seed: 2 }, quiet);
  assert.notDeepEqual(c.model.params, a.model.params);
});

Deno.test("a divergent learning rate stops training with a hint to lower it", () => {
  const data = separable();
  const plan = planBatches(80, { batching: { batchSize: 80 }, validation: 0, seed: 1 });
  assert.throws(
    () =>
      trainNetwork(data, plan, { ...base, activation: "relu", init: "uniform", eta: 1e30 }, quiet),
    (e: unknown) =>
      e instanceof DivergenceError && e.message.includes("loss must stay finite") &&
      e.message.includes("Hint: use a smaller learning rate"),
  );
});

Deno.test("validation is reported per epoch and early stopping keeps the best epoch", () => {
  const data = separable();
  // Noisy labels make the network overfit, so the validation loss turns upwards.
  for (let i = 0; i < 80; i += 3) data.train.labels[i] = (data.train.labels[i] + 1) % 4;
  const plan = planBatches(80, { batching: { batchSize: 10 }, validation: 0.25, seed: 1 });
  const lines: string[] = [];
  const result = trainNetwork(
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
