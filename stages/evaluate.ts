/**
 * Evaluate: streams the test set (and the training set) through the trained
 * model chunk by chunk and reports accuracy, the confusion matrix, per-class
 * precision and recall, and the misclassified test images. It holds one byte
 * per test image (the predictions), never the images.
 *
 * @module
 */
import { type Kernels, kernelScope, referenceKernels } from "../model/kernels.ts";
import { argmax, createNetwork, createWorkspace, forward, type Network } from "../model/network.ts";
import type { SavedModel } from "../model/format.ts";
import { packBlobs, unpackBlobs } from "../engine/binary.ts";
import type { Chunk, DataMeta, DataSet } from "../engine/chunk.ts";
import type { Codec, ValueStage } from "../engine/stage.ts";
import type { MisclassifiedView } from "../report/views.ts";
import type { TrainResult } from "./train.ts";

/** A misclassified test image: the shape the report draws (report/views.ts). */
export type Misclassified = MisclassifiedView;

/** What the evaluate stage reports. */
export interface Metrics {
  /** Fraction of test images classified correctly, 0..1. */
  testAccuracy: number;
  /** Fraction of all training images classified correctly, 0..1. */
  trainAccuracy: number;
  /** counts[true][predicted] over the test set. */
  confusionMatrix: number[][];
  /** Per class: correct / predicted as that class (null when nothing was). */
  precision: (number | null)[];
  /** Per class: correct / images of that class (null when there are none). */
  recall: (number | null)[];
  /** The first misclassified test images, in test-set order (at most 100). */
  misclassified: Misclassified[];
  /** Number of test images. */
  testCount: number;
}

/** The evaluate stage's output: metrics plus every test prediction. */
export interface Evaluation {
  /** Headline metrics. */
  metrics: Metrics;
  /** Predicted class of every test image, in order. */
  testPredictions: Uint8Array;
  /** True class of every test image, in order (to pair predictions of two models). */
  testLabels: Uint8Array;
}

/** Builds a float32 network from a saved model, its weights where `kernels` work. */
export function networkOf(model: SavedModel, kernels: Kernels = referenceKernels): Network {
  const net = createNetwork(model.spec, "float32", kernels);
  net.params.set(model.params);
  return net;
}

/** Predicts the class of every image, and returns the class probabilities too. */
export function predictAll(
  net: Network,
  data: Chunk<Float32Array>,
  batch = 512,
  kernels: Kernels = referenceKernels,
): { predicted: Uint8Array; probabilities: Float32Array } {
  const width = data.rows * data.cols;
  const classes = net.spec.sizes[net.spec.sizes.length - 1];
  const total = data.labels.length;
  const ws = createWorkspace(net, Math.max(1, Math.min(batch, total)), kernels);
  const predicted = new Uint8Array(total);
  const probabilities = new Float32Array(total * classes);
  for (let start = 0; start < total; start += ws.capacity) {
    const n = Math.min(ws.capacity, total - start);
    const p = forward(net, data.images.subarray(start * width, (start + n) * width), n, ws);
    probabilities.set(p, start * classes);
    for (let i = 0; i < n; i++) predicted[start + i] = argmax(p, i * classes, classes);
  }
  return { predicted, probabilities };
}

/** counts[true][predicted]. */
export function confusionMatrix(
  labels: Uint8Array,
  predicted: Uint8Array,
  classes: number,
): number[][] {
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < labels.length; i++) matrix[labels[i]][predicted[i]]++;
  return matrix;
}

/** Fraction of predictions equal to the labels. */
export function accuracyOf(labels: Uint8Array, predicted: Uint8Array): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] === predicted[i]) correct++;
  return labels.length === 0 ? 0 : correct / labels.length;
}

/** Predicts every image of a split as it streams past, batch by batch within each chunk. */
async function predictSplit(
  net: Network,
  stream: ReadableStream<Chunk<Float32Array>>,
  count: number,
  kernels: Kernels,
): Promise<{ predicted: Uint8Array; labels: Uint8Array }> {
  const classes = net.spec.sizes[net.spec.sizes.length - 1];
  const predicted = new Uint8Array(count);
  const labels = new Uint8Array(count);
  const ws = createWorkspace(net, Math.max(1, Math.min(512, count)), kernels);
  let at = 0;
  for await (const chunk of stream) {
    const width = chunk.rows * chunk.cols;
    const n = chunk.labels.length;
    if (at + n > count) throw new RangeError(`expected ${count} images from the stream, got more`);
    labels.set(chunk.labels, at);
    for (let start = 0; start < n; start += ws.capacity) {
      const batch = Math.min(ws.capacity, n - start);
      const p = forward(
        net,
        chunk.images.subarray(start * width, (start + batch) * width),
        batch,
        ws,
      );
      for (let i = 0; i < batch; i++) predicted[at + start + i] = argmax(p, i * classes, classes);
    }
    at += n;
  }
  if (at !== count) throw new RangeError(`expected ${count} images from the stream, got ${at}`);
  return { predicted, labels };
}

/**
 * Computes all metrics of a model on both splits, streamed, its products on
 * `kernels`; the buffers it takes from them go back when it ends.
 */
export async function evaluateModel(
  model: SavedModel,
  data: DataSet<Float32Array, DataMeta>,
  kernels: Kernels = referenceKernels,
): Promise<Evaluation> {
  const scope = kernelScope(kernels);
  try {
    return await evaluateOnKernels(model, data, scope);
  } finally {
    scope.freeAll();
  }
}

/** {@linkcode evaluateModel}'s body, on kernels whose buffers the caller frees. */
async function evaluateOnKernels(
  model: SavedModel,
  data: DataSet<Float32Array, DataMeta>,
  kernels: Kernels,
): Promise<Evaluation> {
  const net = networkOf(model, kernels);
  const { counts, classes } = data.meta;
  const test = await predictSplit(net, data.open("test"), counts.test, kernels);
  const train = await predictSplit(net, data.open("train"), counts.train, kernels);
  const matrix = confusionMatrix(test.labels, test.predicted, classes);
  const precision = matrix.map((_, c) => {
    const column = matrix.reduce((sum, row) => sum + row[c], 0);
    return column === 0 ? null : matrix[c][c] / column;
  });
  const recall = matrix.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? null : row[c] / total;
  });
  const misclassified: Misclassified[] = [];
  for (let i = 0; i < test.predicted.length && misclassified.length < 100; i++) {
    if (test.predicted[i] !== test.labels[i]) {
      misclassified.push({ index: i, label: test.labels[i], predicted: test.predicted[i] });
    }
  }
  return {
    metrics: {
      testAccuracy: accuracyOf(test.labels, test.predicted),
      trainAccuracy: accuracyOf(train.labels, train.predicted),
      confusionMatrix: matrix,
      precision,
      recall,
      misclassified,
      testCount: test.predicted.length,
    },
    testPredictions: test.predicted,
    testLabels: test.labels,
  };
}

/** The cache codec of {@linkcode Evaluation}. */
export const evaluationCodec: Codec<Evaluation> = {
  encode: (e) => packBlobs(e.metrics, [e.testPredictions, e.testLabels]),
  decode(bytes) {
    const { meta, blobs } = unpackBlobs(bytes);
    return {
      metrics: meta as Metrics,
      testPredictions: blobs[0].slice(),
      testLabels: blobs[1].slice(),
    };
  },
};

/** The evaluate stage: a trained model and the samples in, metrics out. */
export function evaluateStage(
  kernels: () => Promise<Kernels> = () => Promise.resolve(referenceKernels),
): ValueStage<[TrainResult, DataSet<Float32Array, DataMeta>], Evaluation> {
  return {
    kind: "value",
    name: "evaluate",
    // 2: products run in float32 in a fixed order (model/kernels.ts), not in float64.
    // 3: sigmoid through exp64, values below float32's normal range flushed to 0.
    // 4: streams both splits.
    version: 4,
    params: {},
    run: async ([trained, samples]) => evaluateModel(trained.model, samples, await kernels()),
    codec: evaluationCodec,
  };
}
