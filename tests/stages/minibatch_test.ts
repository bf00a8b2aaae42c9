import assert from "node:assert/strict";
import { ConfigError } from "../../engine/errors.ts";
import { batchPlanCodec, batchStarts, epochOrder, planBatches } from "../../stages/minibatch.ts";

Deno.test("batchStarts() keeps the last partial batch and handles sizes 1 and odd", () => {
  assert.deepEqual([...batchStarts(7, { batchSize: 3 })], [0, 3, 6, 7]);
  assert.deepEqual([...batchStarts(1, { batchSize: 3 })], [0, 1]);
  assert.deepEqual([...batchStarts(3, { batchSize: 1 })], [0, 1, 2, 3]);
});

Deno.test("batchStarts() splits into near-equal minibatches as numpy's array_split", () => {
  assert.deepEqual([...batchStarts(60000, { minibatches: 50 })].slice(0, 3), [0, 1200, 2400]);
  assert.deepEqual([...batchStarts(7, { minibatches: 3 })], [0, 3, 5, 7]);
  assert.deepEqual([...batchStarts(2, { minibatches: 5 })], [0, 1, 2]);
});

Deno.test("planBatches() partitions the rows into train and validation, seeded", () => {
  const plan = planBatches(100, { batching: { batchSize: 8 }, validation: 0.2, seed: 3 });
  assert.equal(plan.validationIndices.length, 20);
  assert.equal(plan.trainIndices.length, 80);
  const all = [...plan.trainIndices, ...plan.validationIndices].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 100 }, (_, i) => i));
  const again = planBatches(100, { batching: { batchSize: 8 }, validation: 0.2, seed: 3 });
  assert.deepEqual(again.validationIndices, plan.validationIndices);
  const other = planBatches(100, { batching: { batchSize: 8 }, validation: 0.2, seed: 4 });
  assert.notDeepEqual(other.validationIndices, plan.validationIndices);
});

Deno.test("epochOrder() is a seeded permutation of the training rows, new each epoch", () => {
  const plan = planBatches(50, { batching: { batchSize: 8 }, validation: 0.1, seed: 1 });
  const first = epochOrder(plan, 0);
  assert.deepEqual([...first].sort((a, b) => a - b), [...plan.trainIndices]);
  assert.deepEqual(epochOrder(plan, 0), first);
  assert.notDeepEqual(epochOrder(plan, 1), first);
});

Deno.test("planBatches() rejects a validation fraction outside [0, 1)", () => {
  assert.throws(
    () => planBatches(10, { batching: { batchSize: 2 }, validation: 1, seed: 1 }),
    (e: unknown) => e instanceof ConfigError && e.message.includes("must be in [0, 1)"),
  );
});

Deno.test("batchPlanCodec round-trips a plan", () => {
  const plan = planBatches(33, { batching: { minibatches: 4 }, validation: 0.25, seed: 9 });
  assert.deepEqual(batchPlanCodec.decode(batchPlanCodec.encode(plan)), plan);
});
