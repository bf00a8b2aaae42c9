/**
 * Shuffle/minibatch: splits off a seeded validation set and plans each epoch's
 * seeded shuffle and its minibatches. The plan holds indices, not pixels, so it
 * is cheap to cache; the train stage gathers each minibatch from the samples,
 * either by index from a set held in memory ({@linkcode epochOrder}: an exact
 * permutation) or from a stream through a {@linkcode ShuffleBuffer}.
 *
 * @module
 */
import { asUint32, packBlobs, unpackBlobs } from "../engine/binary.ts";
import type { DataMeta, DataSet, Pixels } from "../engine/chunk.ts";
import { ConfigError } from "../engine/errors.ts";
import type { Codec, ValueStage } from "../engine/stage.ts";
import { permutation, type Random, seededRandom } from "../model/rng.ts";

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

/**
 * A seeded shuffle buffer of `capacity` slots, with the semantics of
 * tf.data's `shuffle(buffer_size)`: the first `capacity` rows fill the slots;
 * after that each arriving row takes the place of a uniformly chosen slot,
 * whose row is emitted first; when the stream ends, the rows left are emitted
 * in a uniformly random order. Every row is emitted exactly once; a row can
 * move at most about `capacity` places earlier than it arrived, so the mix is
 * exact (a full permutation) only when `capacity` is at least the row count.
 * The buffer hands out slot numbers; the caller keeps the rows in its own
 * storage, so pixels stay in the type the stage stored them in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ShuffleBuffer } from "./minibatch.ts";
 * import { seededRandom } from "../model/rng.ts";
 * const buffer = new ShuffleBuffer(2, seededRandom(1, "example"));
 * const slots = [0, 1, 2].map(() => buffer.place());
 * assert.deepEqual(slots.slice(0, 2), [{ emit: -1, slot: 0 }, { emit: -1, slot: 1 }]);
 * assert.equal(slots[2].emit, slots[2].slot);
 * assert.equal(buffer.drain().length, 2);
 * ```
 */
export class ShuffleBuffer {
  #filled = 0;
  #capacity: number;
  #random: Random;

  /** Creates an empty buffer; `random` decides every choice. */
  constructor(capacity: number, random: Random) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) {
      throw new ConfigError(
        `Cannot shuffle through a buffer as its capacity must be an integer ≥ 1: current value is ${capacity}`,
      );
    }
    this.#capacity = capacity;
    this.#random = random;
  }

  /**
   * Where the next row goes: `slot` to write it to, and `emit`, a slot whose
   * row must be taken out first (−1 while the buffer is still filling).
   */
  place(): { emit: number; slot: number } {
    if (this.#filled < this.#capacity) return { emit: -1, slot: this.#filled++ };
    const slot = Math.floor(this.#random() * this.#capacity);
    return { emit: slot, slot };
  }

  /** The occupied slots in the random order to emit them once the stream has ended; empties the buffer. */
  drain(): Uint32Array {
    const order = permutation(this.#filled, this.#random);
    this.#filled = 0;
    return order;
  }
}

/** The seeded source of a streamed epoch's shuffle buffer. */
export function bufferRandom(plan: BatchPlan, epoch: number): Random {
  return seededRandom(plan.seed, "shuffle-buffer", epoch);
}

/**
 * The order in which a streamed epoch visits the plan's training rows when
 * they arrive in row order through a buffer of `capacity` (what the train
 * stage does with pixels, here with row numbers alone).
 */
export function bufferedOrder(plan: BatchPlan, epoch: number, capacity: number): Uint32Array {
  const rows = plan.trainIndices;
  const buffer = new ShuffleBuffer(capacity, bufferRandom(plan, epoch));
  const slots = new Uint32Array(Math.min(capacity, rows.length));
  const order = new Uint32Array(rows.length);
  let out = 0;
  for (const row of rows) {
    const { emit, slot } = buffer.place();
    if (emit >= 0) order[out++] = slots[emit];
    slots[slot] = row;
  }
  for (const slot of buffer.drain()) order[out++] = slots[slot];
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

/** The shuffle/minibatch stage: needs only its input's training row count. */
export function minibatchStage(
  options: MinibatchOptions,
): ValueStage<[DataSet<Pixels, DataMeta>], BatchPlan> {
  const { batching, validation, seed } = options;
  return {
    kind: "value",
    name: "minibatch",
    version: 1,
    params: { ...batching, validation, seed },
    run: ([input]) => Promise.resolve(planBatches(input.meta.counts.train, options)),
    codec: batchPlanCodec,
  };
}
