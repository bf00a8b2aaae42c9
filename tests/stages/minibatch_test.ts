import assert from "node:assert/strict";
import { ConfigError } from "../../engine/errors.ts";
import {
  batchPlanCodec,
  batchStarts,
  bufferedOrder,
  epochOrder,
  planBatches,
  ShuffleBuffer,
} from "../../stages/minibatch.ts";
import { seededRandom } from "../../model/rng.ts";

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

const golden = planBatches(10, { batching: { batchSize: 4 }, validation: 0.2, seed: 7 });

Deno.test("epochOrder() pins the exact in-memory order for seed 7", () => {
  assert.deepEqual([...golden.validationIndices], [2, 5]);
  assert.deepEqual([...epochOrder(golden, 0)], [1, 0, 8, 6, 4, 9, 3, 7]);
  assert.deepEqual([...epochOrder(golden, 1)], [7, 6, 1, 4, 0, 3, 8, 9]);
});

Deno.test("bufferedOrder() pins the streamed order through a buffer of 3 for seed 7", () => {
  assert.deepEqual([...bufferedOrder(golden, 0, 3)], [1, 3, 4, 7, 8, 9, 0, 6]);
  assert.deepEqual([...bufferedOrder(golden, 1, 3)], [3, 4, 0, 7, 6, 1, 9, 8]);
});

Deno.test("a shuffle buffer emits every row exactly once per epoch, whatever its size", () => {
  const plan = planBatches(1000, { batching: { batchSize: 32 }, validation: 0.1, seed: 3 });
  for (const capacity of [1, 2, 7, 100, 900, 5000]) {
    for (const epoch of [0, 1]) {
      const order = bufferedOrder(plan, epoch, capacity);
      assert.deepEqual([...order].sort((a, b) => a - b), [...plan.trainIndices]);
    }
  }
});

Deno.test("a shuffle buffer is seeded: the same epoch repeats, another epoch differs", () => {
  const plan = planBatches(200, { batching: { batchSize: 10 }, validation: 0, seed: 3 });
  assert.deepEqual(bufferedOrder(plan, 4, 16), bufferedOrder(plan, 4, 16));
  assert.notDeepEqual(bufferedOrder(plan, 4, 16), bufferedOrder(plan, 5, 16));
  const other = planBatches(200, { batching: { batchSize: 10 }, validation: 0, seed: 4 });
  assert.notDeepEqual(bufferedOrder(other, 4, 16), bufferedOrder(plan, 4, 16));
});

Deno.test("a buffer of one slot keeps the arrival order; a row moves at most the buffer's size earlier", () => {
  const plan = planBatches(300, { batching: { batchSize: 10 }, validation: 0, seed: 3 });
  assert.deepEqual([...bufferedOrder(plan, 0, 1)], [...plan.trainIndices]);
  const order = bufferedOrder(plan, 0, 20);
  order.forEach((row, position) => assert.ok(position >= row - 20, `row ${row} at ${position}`));
});

Deno.test("ShuffleBuffer refuses a capacity below 1 or not whole", () => {
  for (const capacity of [0, 1.5, -3]) {
    assert.throws(
      () => new ShuffleBuffer(capacity, seededRandom(1, "x")),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message ===
          `Cannot shuffle through a buffer as its capacity must be an integer ≥ 1: current value is ${capacity}`,
    );
  }
});
