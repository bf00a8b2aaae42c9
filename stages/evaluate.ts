/**
 * Evaluate: runs the trained model over the test set (and the training set)
 * and reports accuracy, the confusion matrix, per-class precision and recall,
 * and the misclassified test images.
 *
 * @module
 */
import { type Kernels, referenceKernels } from "../model/kernels.ts";
import { argmax, createNetwork, createWorkspace, forward, type Network } from "../model/network.ts";
import type { SavedModel } from "../model/format.ts";
import { packBlobs, unpackBlobs } from "../engine/binary.ts";
import type { Chunk, DataSplits } from "../engine/chunk.ts";
import type { Codec, Stage } from "../engine/stage.ts";
import type { TrainResult } from "./train.ts";

/** A misclassified test image. */
export interface Misclassified {
  /** Row in the test set. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class. */
  predicted: number;
}

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

/** Computes all metrics of a model on both sets, its products on `kernels`. */
export function evaluateModel(
  model: SavedModel,
  data: DataSplits<Float32Array>,
  kernels: Kernels = referenceKernels,
): Evaluation {
  const net = networkOf(model, kernels);
  const test = predictAll(net, data.test, 512, kernels).predicted;
  const train = predictAll(net, data.train, 512, kernels).predicted;
  const classes = data.classes;
  const matrix = confusionMatrix(data.test.labels, test, classes);
  const precision = matrix.map((_, c) => {
    const column = matrix.reduce((sum, row) => sum + row[c], 0);
    return column === 0 ? null : matrix[c][c] / column;
  });
  const recall = matrix.map((row, c) => {
    const total = row.reduce((a, b) => a + b, 0);
    return total === 0 ? null : row[c] / total;
  });
  const misclassified: Misclassified[] = [];
  for (let i = 0; i < test.length && misclassified.length < 100; i++) {
    if (test[i] !== data.test.labels[i]) {
      misclassified.push({ index: i, label: data.test.labels[i], predicted: test[i] });
    }
  }
  return {
    metrics: {
      testAccuracy: accuracyOf(data.test.labels, test),
      trainAccuracy: accuracyOf(data.train.labels, train),
      confusionMatrix: matrix,
      precision,
      recall,
      misclassified,
      testCount: test.length,
    },
    testPredictions: test,
  };
}

/** The cache codec of {@linkcode Evaluation}. */
export const evaluationCodec: Codec<Evaluation> = {
  encode: (e) => packBlobs(e.metrics, [e.testPredictions]),
  decode(bytes) {
    const { meta, blobs } = unpackBlobs(bytes);
    return { metrics: meta as Metrics, testPredictions: blobs[0].slice() };
  },
};

/** The evaluate stage; `samples` is the stage whose test set it scores. */
export function evaluateStage(
  samples: Stage<never, DataSplits<Float32Array>>,
): Stage<TrainResult, Evaluation> {
  return {
    name: "evaluate",
    // 2: products run in float32 in a fixed order (model/kernels.ts), not in float64.
    // 3: sigmoid through exp64, values below float32's normal range flushed to 0.
    version: 3,
    params: {},
    uses: [samples],
    run: async (trained, context) =>
      evaluateModel(trained.model, context.outputOf(samples), await context.kernels()),
    codec: evaluationCodec,
  };
}
