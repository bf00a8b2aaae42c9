/**
 * Shuffle/minibatch: splits off a seeded validation set and plans each epoch's
 * seeded shuffle and its minibatches. The plan holds indices, not pixels, so it
 * is cheap to cache; the train stage gathers each minibatch from the samples.
 *
 * @module
 */
import { asUint32, packBlobs, unpackBlobs } from "../engine/binary.ts";
import { ConfigError } from "../engine/errors.ts";
import { permutation, seededRandom } from "../model/rng.ts";
import { countOf, type DataSplits } from "../engine/chunk.ts";
import type { Codec, Stage } from "../engine/stage.ts";

/** How an epoch is cut: a fixed batch size, or a fixed number of near-equal minibatches. */
export type Batching = { batchSize: number } | { minibatches: number };

/** Options of {@linkcode planBatches}. */
export interface MinibatchOptions {
  /** Batch size or minibatch count per epoch. */
  batching: Batching;
  /** Fraction of the training set held out for validation, in [0, 1). @default {0} */
  validation: number;
  /** Seed of the validation split and of every epoch's shuffle. */
  seed: number;
}

/** The plan: which training rows train and validate, and where minibatches start. */
export interface BatchPlan {
  /** Training-set rows used for training, ascending. */
  trainIndices: Uint32Array;
  /** Training-set rows held out for validation, ascending. */
  validationIndices: Uint32Array;
  /** Minibatch b covers positions [starts[b], starts[b+1]) of an epoch's order. */
  starts: Uint32Array;
  /** Seed of the per-epoch shuffles. */
  seed: number;
}

/**
 * Boundaries of minibatches over n rows: fixed size with the last partial batch
 * kept, or `count` near-equal batches (the first n mod count one larger, as
 * numpy's `array_split`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchStarts } from "./minibatch.ts";
 * assert.deepEqual([...batchStarts(5, { batchSize: 2 })], [0, 2, 4, 5]);
 * assert.deepEqual([...batchStarts(5, { minibatches: 2 })], [0, 3, 5]);
 * ```
 */
export function batchStarts(n: number, batching: Batching): Uint32Array {
  if ("batchSize" in batching) {
    const size = batching.batchSize;
    const count = Math.ceil(n / size);
    return Uint32Array.from({ length: count + 1 }, (_, b) => Math.min(n, b * size));
  }
  const count = Math.min(batching.minibatches, n);
  const base = Math.floor(n / count), extra = n % count;
  const starts = new Uint32Array(count + 1);
  for (let b = 0; b < count; b++) starts[b + 1] = starts[b] + base + (b < extra ? 1 : 0);
  return starts;
}

/** Plans the validation split and minibatches for `n` training rows. */
export function planBatches(n: number, options: MinibatchOptions): BatchPlan {
  const { batching, validation, seed } = options;
  if (!(validation >= 0 && validation < 1)) {
    throw new ConfigError(
      `Cannot split off validation as the fraction must be in [0, 1): current value is ${validation}`,
    );
  }
  const held = Math.round(n * validation);
  if (n - held < 1) {
    throw new ConfigError(
      `Cannot train as no training rows are left after validation: ${n} rows, ${held} held out`,
    );
  }
  const order = permutation(n, seededRandom(seed, "validation"));
  const validationIndices = order.slice(0, held).sort();
  const trainIndices = held === 0 ? order.sort() : order.slice(held).sort();
  return {
    trainIndices,
    validationIndices,
    starts: batchStarts(trainIndices.length, batching),
    seed,
  };
}

/** The order of training rows in epoch `epoch`: a seeded permutation of the plan's rows. */
export function epochOrder(plan: BatchPlan, epoch: number): Uint32Array {
  const order = permutation(plan.trainIndices.length, seededRandom(plan.seed, "shuffle", epoch));
  for (let i = 0; i < order.length; i++) order[i] = plan.trainIndices[order[i]];
  return order;
}

/** The cache codec of {@linkcode BatchPlan}. */
export const batchPlanCodec: Codec<BatchPlan> = {
  encode: (plan) =>
    packBlobs({ seed: plan.seed }, [plan.trainIndices, plan.validationIndices, plan.starts]),
  decode(bytes) {
    const { meta, blobs } = unpackBlobs(bytes);
    return {
      trainIndices: asUint32(blobs[0]),
      validationIndices: asUint32(blobs[1]),
      starts: asUint32(blobs[2]),
      seed: (meta as { seed: number }).seed,
    };
  },
};

/** The shuffle/minibatch stage. */
export function minibatchStage(options: MinibatchOptions): Stage<DataSplits, BatchPlan> {
  const { batching, validation, seed } = options;
  return {
    name: "minibatch",
    version: 1,
    params: { ...batching, validation, seed },
    run: (input) => Promise.resolve(planBatches(countOf(input.train), options)),
    codec: batchPlanCodec,
  };
}
