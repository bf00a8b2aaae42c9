/**
 * Train: fits the network on the plan's minibatches, one seeded shuffle per
 * epoch, recording the cost of every minibatch and per-epoch loss and accuracy
 * (and validation figures when a validation split is set).
 *
 * Two modes, each deterministic (same seed, same bits):
 * - **in memory** (`shuffleBuffer: null`): the training split is read into
 *   memory once and every epoch visits an exact seeded permutation of it;
 * - **streamed** (`shuffleBuffer: K`): every epoch streams the training split
 *   (from the cache) through a seeded {@linkcode ShuffleBuffer} of K rows, so
 *   memory stays at K rows however large the set is.
 *
 * @module
 */
import type { Activation, Floats } from "../model/activations.ts";
import { decodeModel, encodeModel, type Preprocessing, type SavedModel } from "../model/format.ts";
import { type Init, initialize } from "../model/init.ts";
import { type Kernels, kernelScope, referenceKernels } from "../model/kernels.ts";
import {
  argmax,
  createNetwork,
  createWorkspace,
  type Dropout,
  forwardLoss,
  layerViews,
  lossAndGradient,
  type Network,
  type OutputKind,
  type Reduction,
  type Regularization,
  type Workspace,
} from "../model/network.ts";
import {
  createOptimizer,
  type DecaySchedule,
  learningRate,
  type OptimizerKind,
} from "../model/optimizers.ts";
import { packBlobs, unpackBlobs } from "../engine/binary.ts";
import { type Chunk, collectSplit, type DataSet } from "../engine/chunk.ts";
import { ConfigError, DivergenceError } from "../engine/errors.ts";
import type { Codec, Json, Reporter, ValueStage } from "../engine/stage.ts";
import { seededRandom } from "../model/rng.ts";
import {
  augmentBatch,
  type Augmenter,
  type AugmentOptions,
  augments,
  type AugmentSetup,
  createAugmenter,
  createAugmentState,
  NO_AUGMENT,
} from "./augment.ts";
import { type BatchPlan, bufferRandom, epochOrder, ShuffleBuffer } from "./minibatch.ts";
import type { NormalizedMeta } from "./normalize.ts";
import { backgroundOf } from "./deskew.ts";
import { percent } from "../report/format.ts";
import type { EpochView } from "../report/views.ts";

/** Everything that shapes training; all of it goes into the cache key. */
export interface TrainOptions {
  /** Hidden layer sizes, e.g. `[100]`; empty for a linear softmax model. */
  hidden: number[];
  /** Hidden activation. */
  activation: Activation;
  /** Output units and loss. */
  output: OutputKind;
  /** Weight initialisation. */
  init: Init;
  /** Update rule. */
  optimizer: OptimizerKind;
  /** Learning rate η. */
  eta: number;
  /** Momentum (sgd, nesterov). */
  momentum: number;
  /** Learning-rate decay constant. */
  decay: number;
  /** How the decay applies per epoch. */
  decaySchedule: DecaySchedule;
  /** L1 and L2 strengths. */
  l1: number;
  /** L2 strength. */
  l2: number;
  /** Sum (textbook) or mean of the per-row loss in a minibatch. */
  reduction: Reduction;
  /** Epochs to run at most. */
  epochs: number;
  /** Stop after this many epochs without a better validation loss (0: never). */
  patience: number;
  /** Seed of the initialisation. */
  seed: number;
  /** Whether the samples were deskewed (recorded in the model for predict). */
  deskew: boolean;
  /** Distortions of the training images, new every epoch (stages/augment.ts). @default {NO_AUGMENT} */
  augment?: AugmentOptions;
  /** Probability of dropping a hidden unit while training (inverted dropout). @default {0} */
  dropout?: number;
  /**
   * Rows of the streamed mode's shuffle buffer; null holds the whole training
   * split in memory and shuffles it exactly.
   */
  shuffleBuffer: number | null;
}

/** The names of {@linkcode TrainOptions}' fields that a config sets (all but the buffer size). */
export const TRAIN_OPTION_KEYS = [
  "hidden",
  "activation",
  "output",
  "init",
  "optimizer",
  "eta",
  "momentum",
  "decay",
  "decaySchedule",
  "l1",
  "l2",
  "reduction",
  "epochs",
  "patience",
  "seed",
  "deskew",
  "augment",
  "dropout",
] as const satisfies readonly Exclude<keyof TrainOptions, "shuffleBuffer">[];

// Fails to compile when TrainOptions gains a field the list above misses.
const _everyKeyListed: Record<Exclude<keyof TrainOptions, "shuffleBuffer">, true> = Object
  .fromEntries(TRAIN_OPTION_KEYS.map((k) => [k, true])) as Record<
    typeof TRAIN_OPTION_KEYS[number],
    true
  >;

/** One epoch of training history: the shape the report draws (report/views.ts). */
export type EpochRecord = EpochView;

/** What the train stage produces. */
export interface TrainResult {
  /** The trained model (the best epoch's weights when early stopping ran). */
  model: SavedModel;
  /** One record per epoch run. */
  history: EpochRecord[];
  /** The cost of every minibatch, in order (data term plus penalties). */
  costs: number[];
  /** The epoch whose weights were kept (1-based). */
  bestEpoch: number;
}

/** Writes one-hot targets (B, C) for the chosen rows' labels into y. */
function fillOneHot(
  labels: Uint8Array,
  rows: Uint32Array | null,
  start: number,
  batch: number,
  classes: number,
  y: Float32Array,
) {
  y.fill(0, 0, batch * classes);
  for (let i = 0; i < batch; i++) {
    const row = rows ? rows[start + i] : start + i;
    y[i * classes + labels[row]] = 1;
  }
}

/**
 * Whether every parameter is finite. A plain loop: `every(Number.isFinite)`
 * calls back once a value, 8 ms an epoch for the 636 000 of a 784-800-10
 * network against 0.5 ms, and the check runs inside the epoch's timing.
 */
function allFinite(params: Floats): boolean {
  // x − x is 0 for every finite x, NaN for ±Infinity and NaN.
  for (let i = 0; i < params.length; i++) if (params[i] - params[i] !== 0) return false;
  return true;
}

/** Counts rows whose largest output matches the label. */
function countCorrect(
  probabilities: Float32Array | Float64Array,
  labels: Uint8Array,
  rows: Uint32Array | null,
  start: number,
  batch: number,
  classes: number,
): number {
  let correct = 0;
  for (let i = 0; i < batch; i++) {
    const label = labels[rows ? rows[start + i] : start + i];
    if (argmax(probabilities, i * classes, classes) === label) correct++;
  }
  return correct;
}

/** Mean per-row loss and accuracy of the network on chosen rows (all rows when `rows` is null). */
export function measure(
  net: Network,
  data: Chunk<Float32Array>,
  rows: Uint32Array | null,
  ws: Workspace,
  y: Float32Array,
): { loss: number; accuracy: number } {
  const width = data.rows * data.cols;
  const classes = net.spec.sizes[net.spec.sizes.length - 1];
  const total = rows ? rows.length : data.labels.length;
  let loss = 0, correct = 0;
  for (let start = 0; start < total; start += ws.capacity) {
    const batch = Math.min(ws.capacity, total - start);
    fillOneHot(data.labels, rows, start, batch, classes, y);
    if (rows) {
      loss += forwardLoss(net, data.images, y, batch, ws, rows.subarray(start, start + batch));
    } else {
      loss += forwardLoss(net, data.images.subarray(start * width), y, batch, ws);
    }
    correct += countCorrect(ws.a[ws.a.length - 1], data.labels, rows, start, batch, classes);
  }
  return { loss: loss / total, accuracy: correct / total };
}

/**
 * Holds the training split for the in-memory mode: as the kernels' sparse
 * index alone when they can build one from two streamed passes (no dense
 * copy), else dense, indexed when that pays off.
 */
async function holdTrainingSet(
  data: DataSet<Float32Array>,
  kernels: Kernels,
): Promise<Chunk<Float32Array>> {
  const { rows, cols, counts } = data.meta;
  const labels = new Uint8Array(counts.train);
  let labelled = false;
  const pass = async function* () {
    let at = 0;
    for await (const chunk of data.open("train")) {
      if (!labelled) labels.set(chunk.labels, at);
      at += chunk.labels.length;
      yield chunk.images;
    }
    labelled = true;
  };
  const handle = await kernels.indexRows?.(pass, counts.train, rows * cols);
  if (handle) return { images: handle, labels, rows, cols };
  const dense = await collectSplit(data, "train");
  kernels.prepareRows?.(dense.images, rows * cols);
  return dense;
}

/** What augmenting a data set needs besides the options: its shape, its blank value, the seed. */
export function augmentSetupOf(
  meta: NormalizedMeta,
  options: AugmentOptions,
  seed: number,
): AugmentSetup {
  return {
    options,
    rows: meta.rows,
    cols: meta.cols,
    background: backgroundOf(meta.normalization),
    seed,
  };
}

/** Batches the augment worker computes ahead of the one being trained on. */
const AUGMENT_AHEAD = 8;

/** Streams the rows of `split` whose indices are listed (ascending) in `wanted`, in batches. */
async function* rowBatches(
  data: DataSet<Float32Array>,
  wanted: Uint32Array,
  x: Float32Array,
  labels: Uint8Array,
  capacity: number,
): AsyncGenerator<number, void, undefined> {
  const width = data.meta.rows * data.meta.cols;
  let row = 0, next = 0, filled = 0;
  for await (const chunk of data.open("train")) {
    for (let i = 0; i < chunk.labels.length && next < wanted.length; i++, row++) {
      if (wanted[next] !== row) continue;
      next++;
      x.set(chunk.images.subarray(i * width, (i + 1) * width), filled * width);
      labels[filled++] = chunk.labels[i];
      if (filled === capacity) {
        yield filled;
        filled = 0;
      }
    }
  }
  if (filled > 0) yield filled;
}

/**
 * Trains a network on `data` following `plan`, with its products on `kernels`;
 * pure but for progress lines sent to `reporter`. Holds the training split in
 * memory, or streams it each epoch, as `options.shuffleBuffer` says. Every
 * buffer it takes from `kernels` goes back when it ends, however it ends, so
 * many trainings on the same kernels never grow their memory.
 */
export async function trainNetwork(
  data: DataSet<Float32Array, NormalizedMeta>,
  plan: BatchPlan,
  options: TrainOptions,
  reporter: Reporter,
  kernels: Kernels = referenceKernels,
): Promise<TrainResult> {
  const scope = kernelScope(kernels);
  try {
    return await trainOnKernels(data, plan, options, reporter, scope);
  } finally {
    scope.freeAll();
  }
}

/** {@linkcode trainNetwork}'s body, on kernels whose buffers the caller frees. */
async function trainOnKernels(
  data: DataSet<Float32Array, NormalizedMeta>,
  plan: BatchPlan,
  options: TrainOptions,
  reporter: Reporter,
  kernels: Kernels,
): Promise<TrainResult> {
  const { meta } = data;
  const classes = meta.classes;
  const width = meta.rows * meta.cols;
  const spec = {
    sizes: [width, ...options.hidden, classes],
    activation: options.activation,
    output: options.output,
  };
  if (options.patience > 0 && plan.validationIndices.length === 0) {
    throw new ConfigError(
      `Cannot stop early with --patience ${options.patience} as it needs a validation split: ` +
        `current value of --validation is 0. Hint: add --validation 0.1`,
    );
  }
  const net = createNetwork(spec, "float32", kernels);
  initialize(net, options.init, seededRandom(options.seed, "init"));
  const grad = kernels.alloc(net.params.length);
  const gradLayers = layerViews(spec.sizes, grad);
  const optimizer = createOptimizer(
    { kind: options.optimizer, momentum: options.momentum },
    net.params.length,
    kernels,
  );
  let capacity = 1;
  for (let b = 0; b + 1 < plan.starts.length; b++) {
    capacity = Math.max(capacity, plan.starts[b + 1] - plan.starts[b]);
  }
  const ws = createWorkspace(net, capacity, kernels);
  // In the kernels' memory, where their output loss reads it in place.
  const y = kernels.alloc(capacity * classes);
  const reg: Regularization = { l1: options.l1, l2: options.l2 };
  const validating = plan.validationIndices.length > 0;
  const batches = plan.starts.length - 1;
  const rowsPerEpoch = plan.trainIndices.length;

  const history: EpochRecord[] = [];
  const costs: number[] = [];
  let best = { loss: Infinity, epoch: 0, params: null as Float32Array | null };
  const every = options.epochs <= 100 ? 1 : 10;
  // The first minibatch's mean data loss per row: the yardstick of the divergence rule.
  let firstBatchLoss = Infinity;

  /**
   * One optimiser step on a minibatch; returns the rows it got right. With
   * `rows`, the minibatch is those rows of `x` and `labels`; with `dense`
   * too, its images are `dense` (augmented) and only the labels are picked.
   */
  const step = (
    x: Float32Array,
    labels: Uint8Array,
    rows: Uint32Array | null,
    start: number,
    batch: number,
    eta: number,
    epoch: number,
    b: number,
    dense: Float32Array | null = null,
  ): number => {
    fillOneHot(labels, rows, start, batch, classes, y);
    const dropout: Dropout | undefined = dropoutRate > 0
      ? { rate: dropoutRate, random: seededRandom(options.seed, "dropout", epoch, b) }
      : undefined;
    const picked = rows && !dense ? rows.subarray(start, start + batch) : undefined;
    const cost = lossAndGradient(
      net,
      dense ?? x,
      y,
      batch,
      ws,
      gradLayers,
      reg,
      options.reduction,
      picked,
      dropout,
    );
    const where = `epoch ${epoch + 1}, minibatch ${b + 1}`;
    if (!Number.isFinite(cost)) throw diverged(cost, where, eta);
    if (costs.length === 0) firstBatchLoss = ws.dataLoss / batch;
    costs.push(cost);
    optimizer.step(net.params, grad, eta);
    return countCorrect(ws.a[ws.a.length - 1], labels, rows, start, batch, classes);
  };

  const augmentOptions = options.augment ?? NO_AUGMENT;
  const dropoutRate = options.dropout ?? 0;
  const augmenting = augments(augmentOptions);
  const setup = augmentSetupOf(meta, augmentOptions, options.seed);
  // In memory: the whole split, indexed once so products skip zero pixels; augmented, the
  // rows are read by the augment worker instead, so they are held dense in a SharedArrayBuffer
  // that the worker reads in place while training reads labels and validation rows from it.
  const held = options.shuffleBuffer === null
    ? augmenting
      ? await collectSplit(data, "train", { shared: true })
      : await holdTrainingSet(data, kernels)
    : null;
  const augmenter: Augmenter | null = held && augmenting
    ? await createAugmenter(held.images, setup)
    : null;
  try {
    // Streamed: the buffer's rows and one minibatch, allocated once for every epoch.
    const slots = options.shuffleBuffer === null
      ? 0
      : Math.min(options.shuffleBuffer, rowsPerEpoch);
    const bufferImages = new Float32Array(slots * width);
    const bufferLabels = new Uint8Array(slots);
    const batchImages = held ? null : kernels.alloc(capacity * width);
    const batchLabels = new Uint8Array(capacity);
    // Streamed and augmented: each buffered row's index in the split, which seeds its distortion.
    const bufferIds = new Uint32Array(augmenting ? slots : 0);
    const batchIds = new Uint32Array(augmenting && !held ? capacity : 0);
    const batchPositions = Uint32Array.from(batchIds, (_, i) => i);
    const augmentedBatch = augmenting && !held ? kernels.alloc(capacity * width) : null;
    const augmentState = augmenting && !held ? createAugmentState(setup) : null;

    // In memory and augmented: the worker runs up to AUGMENT_AHEAD minibatches ahead, across
    // epoch ends, so the next epoch's first batches are ready when it starts.
    const queue: Promise<Float32Array>[] = [];
    let askedEpoch = 0, askedBatch = 0;
    let askedOrder = augmenter ? epochOrder(plan, 0) : null;
    const askAhead = () => {
      while (augmenter && queue.length < AUGMENT_AHEAD && askedEpoch < options.epochs) {
        const rows = askedOrder!.subarray(plan.starts[askedBatch], plan.starts[askedBatch + 1]);
        const next = augmenter.batch(askedEpoch, rows);
        // A failed worker rejects every queued batch; the one awaited reports it.
        next.catch(() => {});
        queue.push(next);
        if (++askedBatch === batches) {
          askedBatch = 0;
          if (++askedEpoch < options.epochs) askedOrder = epochOrder(plan, askedEpoch);
        }
      }
    };

    const validate = async () => {
      if (held) return measure(net, held, plan.validationIndices, ws, y);
      let loss = 0, correct = 0;
      for await (
        const n of rowBatches(data, plan.validationIndices, batchImages!, batchLabels, capacity)
      ) {
        fillOneHot(batchLabels, null, 0, n, classes, y);
        loss += forwardLoss(net, batchImages!, y, n, ws);
        correct += countCorrect(ws.a[ws.a.length - 1], batchLabels, null, 0, n, classes);
      }
      const total = plan.validationIndices.length;
      return { loss: loss / total, accuracy: correct / total };
    };

    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const started = performance.now();
      const eta = learningRate(options.eta, options.decay, epoch, options.decaySchedule);
      let lossSum = 0, correct = 0, b = 0;
      const progress = () => {
        const seen = plan.starts[b + 1] - plan.starts[0];
        reporter.progress?.({
          epoch: epoch + 1,
          epochs: options.epochs,
          batch: b + 1,
          batches,
          loss: lossSum / seen,
          accuracy: correct / seen,
        });
      };
      if (held) {
        const order = epochOrder(plan, epoch);
        for (; b < batches; b++) {
          const start = plan.starts[b], batch = plan.starts[b + 1] - start;
          askAhead();
          const augmented = augmenter ? await queue.shift()! : null;
          correct += step(held.images, held.labels, order, start, batch, eta, epoch, b, augmented);
          if (augmented) augmenter!.release(augmented);
          lossSum += ws.dataLoss;
          progress();
        }
      } else {
        const buffer = new ShuffleBuffer(slots, bufferRandom(plan, epoch));
        let filled = 0;
        const take = (slot: number) => {
          batchImages!.set(bufferImages.subarray(slot * width, (slot + 1) * width), filled * width);
          if (augmenting) batchIds[filled] = bufferIds[slot];
          batchLabels[filled++] = bufferLabels[slot];
          if (filled < plan.starts[b + 1] - plan.starts[b]) return;
          if (augmentedBatch) {
            const positions = batchPositions.subarray(0, filled);
            const ids = batchIds.subarray(0, filled);
            augmentBatch(batchImages!, positions, ids, augmentedBatch, epoch, setup, augmentState!);
          }
          correct += step(
            batchImages!,
            batchLabels,
            null,
            0,
            filled,
            eta,
            epoch,
            b,
            augmentedBatch,
          );
          lossSum += ws.dataLoss;
          progress();
          b++;
          filled = 0;
        };
        const validation = plan.validationIndices;
        let row = 0, skip = 0;
        for await (const chunk of data.open("train")) {
          for (let i = 0; i < chunk.labels.length; i++, row++) {
            if (skip < validation.length && validation[skip] === row) {
              skip++;
              continue;
            }
            const { emit, slot } = buffer.place();
            if (emit >= 0) take(emit);
            bufferImages.set(chunk.images.subarray(i * width, (i + 1) * width), slot * width);
            bufferLabels[slot] = chunk.labels[i];
            if (augmenting) bufferIds[slot] = row;
          }
        }
        for (const slot of buffer.drain()) take(slot);
        if (b !== batches || filled !== 0) {
          throw new RangeError(
            `Cannot finish epoch ${
              epoch + 1
            } as the streamed training split must fill the plan's ` +
              `${batches} minibatches: it filled ${b} and ${filled} rows of the next`,
          );
        }
      }
      if (lossSum / rowsPerEpoch > DIVERGENCE_FACTOR * Math.max(firstBatchLoss, 1)) {
        throw climbed(lossSum / rowsPerEpoch, firstBatchLoss, epoch + 1, eta);
      }
      // A step can overflow the weights before any loss shows it.
      if (!allFinite(net.params)) {
        throw diverged(NaN, `the end of epoch ${epoch + 1} (weights)`, eta);
      }
      const record: EpochRecord = {
        epoch: epoch + 1,
        trainLoss: lossSum / rowsPerEpoch,
        trainAccuracy: correct / rowsPerEpoch,
        eta,
        seconds: 0,
      };
      if (validating) {
        const v = await validate();
        if (!Number.isFinite(v.loss)) throw diverged(v.loss, `epoch ${epoch + 1}, validation`, eta);
        record.validationLoss = v.loss;
        record.validationAccuracy = v.accuracy;
      }
      record.seconds = (performance.now() - started) / 1000;
      history.push(record);
      if (epoch % every === 0 || epoch + 1 === options.epochs) {
        reporter.log(describeEpoch(record, options.epochs));
      }
      if (validating && options.patience > 0) {
        if (record.validationLoss! < best.loss) {
          best = {
            loss: record.validationLoss!,
            epoch: epoch + 1,
            params: net.params.slice() as Float32Array,
          };
        } else if (epoch + 1 - best.epoch >= options.patience) {
          reporter.log(
            `early stop: no better validation loss for ${options.patience} epochs; keeping epoch ${best.epoch}`,
          );
          break;
        }
      }
    }
    if (best.params) net.params.set(best.params);
    // The last update may have overflowed without any loss showing it yet.
    if (!allFinite(net.params)) {
      throw diverged(NaN, "the end of training (weights)", options.eta);
    }
    const preprocessing: Preprocessing = {
      rows: meta.rows,
      cols: meta.cols,
      normalization: meta.normalization ?? { mode: "none", mean: 0, std: 1 },
      deskew: options.deskew,
    };
    return {
      // A copy: the network's buffer lives in the kernels' memory, which outlives no one.
      model: { spec, preprocessing, params: net.params.slice() as Float32Array },
      history,
      costs,
      bestEpoch: best.params ? best.epoch : history.length,
    };
  } finally {
    augmenter?.close();
  }
}

/**
 * Training has diverged when an epoch's mean loss per row is more than this
 * many times the first minibatch's (or than this many units, when that was
 * below 1): a network that learns never ends an epoch far above its untrained
 * loss; one whose steps overshoot climbs without bound.
 */
export const DIVERGENCE_FACTOR = 10;

/** The error for a loss that grew past {@linkcode DIVERGENCE_FACTOR} times its start. */
function climbed(loss: number, first: number, epoch: number, eta: number): DivergenceError {
  return new DivergenceError(
    `Cannot keep training as the loss must not climb past ${DIVERGENCE_FACTOR}× the first ` +
      `minibatch's (${first.toPrecision(4)} per row): epoch ${epoch}'s mean is ` +
      `${loss.toPrecision(4)}. Hint: use a smaller learning rate, e.g. --eta ${eta / 10}`,
  );
}

/** The error for a loss (or weight) that stopped being finite. */
function diverged(loss: number, where: string, eta: number): DivergenceError {
  return new DivergenceError(
    `Cannot keep training as the loss must stay finite: it is ${loss} at ${where}. ` +
      `Hint: use a smaller learning rate, e.g. --eta ${eta / 10}`,
  );
}

/** One progress line for an epoch; `lr` is the learning rate it trained with (`--eta` after decay). */
export function describeEpoch(r: EpochRecord, epochs: number): string {
  const validation = r.validationLoss === undefined
    ? ""
    : `  val loss ${r.validationLoss.toFixed(4)} acc ${percent(r.validationAccuracy!)}`;
  return `epoch ${String(r.epoch).padStart(String(epochs).length)}/${epochs}  loss ${
    r.trainLoss.toFixed(4)
  } acc ${percent(r.trainAccuracy)}${validation}  lr ${r.eta.toPrecision(3)}  ${
    r.seconds.toFixed(2)
  }s`;
}

/** The cache codec of {@linkcode TrainResult}: the model file plus the history as JSON. */
export const trainResultCodec: Codec<TrainResult> = {
  encode: (r) =>
    packBlobs({ history: r.history, bestEpoch: r.bestEpoch }, [
      encodeModel(r.model),
      new Float64Array(r.costs),
    ]),
  decode(bytes) {
    const { meta, blobs } = unpackBlobs(bytes);
    const { history, bestEpoch } = meta as { history: EpochRecord[]; bestEpoch: number };
    return {
      model: decodeModel(blobs[0].slice(), "cache entry"),
      history,
      bestEpoch,
      costs: Array.from(new Float64Array(blobs[1].slice().buffer)),
    };
  },
};

/**
 * The train stage's params: its options, leaving augmentation and dropout out
 * while they are off, so the keys (and cached models) of runs that use
 * neither stay what they were before either existed.
 */
export function trainParams(options: TrainOptions): Json {
  const { augment = NO_AUGMENT, dropout = 0, ...rest } = options;
  return {
    ...rest,
    ...(augments(augment) ? { augment: { ...augment } } : {}),
    ...(dropout > 0 ? { dropout } : {}),
  };
}

/** The train stage: a plan and the samples in, a model and its history out. */
export function trainStage(
  options: TrainOptions,
  kernels: () => Promise<Kernels> = () => Promise.resolve(referenceKernels),
): ValueStage<[BatchPlan, DataSet<Float32Array, NormalizedMeta>], TrainResult> {
  return {
    kind: "value",
    name: "train",
    // 2: products run in float32 in a fixed order (model/kernels.ts), not in float64.
    // 3: sigmoid through exp64, values below float32's normal range flushed to 0.
    // 4: inputs are a streamed data set; a shuffle buffer when the set is streamed.
    // 5: Adam in float32, in PyTorch's form (model/optimizers.ts).
    // 6: the sigmoid output's loss through exp64 and log1p64 (model/exp.ts), as the kernels'.
    version: 6,
    params: trainParams(options),
    run: async ([plan, samples], context) =>
      trainNetwork(samples, plan, options, context.reporter, await kernels()),
    codec: trainResultCodec,
  };
}
