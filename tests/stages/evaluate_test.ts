import assert from "node:assert/strict";
import type { SavedModel } from "../../model/format.ts";
import {
  accuracyOf,
  confusionMatrix,
  evaluateModel,
  evaluationCodec,
} from "../../stages/evaluate.ts";
import { floatDataSet } from "../fixtures.ts";

/** A linear model over 1×2 images predicting class 1 exactly when pixel 0 outweighs pixel 1. */
function comparator(): SavedModel {
  return {
    spec: { sizes: [2, 2], activation: "relu", output: "softmax" },
    preprocessing: {
      rows: 1,
      cols: 2,
      normalization: { mode: "scale", mean: 0, std: 1 },
      deskew: false,
    },
    // Weights (IN, OUT) row-major, then biases.
    params: Float32Array.of(-1, 1, 1, -1, 0, 0),
  };
}

const set = (pairs: number[][], labels: number[]) => ({
  images: Uint8Array.from(pairs.flat()),
  labels: Uint8Array.from(labels),
  rows: 1,
  cols: 2,
});

Deno.test("evaluateModel() streams both splits and counts accuracy, confusion and misclassified rows", async () => {
  // Pairs with a larger first pixel are class 1; two test labels are wrong on purpose.
  const test = set([[200, 10], [10, 200], [90, 30], [5, 80], [250, 0]], [1, 0, 0, 0, 1]);
  const train = set([[200, 10], [10, 200], [50, 60]], [1, 0, 1]);
  const data = floatDataSet(train, test, 2, 2);
  const { metrics, testPredictions, testLabels } = await evaluateModel(comparator(), data);
  assert.deepEqual([...testPredictions], [1, 0, 1, 0, 1]);
  assert.deepEqual([...testLabels], [1, 0, 0, 0, 1]);
  assert.equal(metrics.testAccuracy, 4 / 5);
  assert.equal(metrics.trainAccuracy, 2 / 3);
  assert.deepEqual(metrics.confusionMatrix, [[2, 1], [0, 2]]);
  assert.deepEqual(metrics.precision, [1, 2 / 3]);
  assert.deepEqual(metrics.recall, [2 / 3, 1]);
  assert.deepEqual(metrics.misclassified, [{ index: 2, label: 0, predicted: 1 }]);
  assert.equal(metrics.testCount, 5);
});

Deno.test("evaluationCodec round-trips an evaluation", async () => {
  const data = floatDataSet(set([[1, 2]], [0]), set([[3, 1], [1, 3]], [1, 1]), 2, 1);
  const evaluation = await evaluateModel(comparator(), data);
  assert.deepEqual(evaluationCodec.decode(evaluationCodec.encode(evaluation)), evaluation);
});

Deno.test("confusionMatrix() and accuracyOf() count what they say, and nothing for no rows", () => {
  const labels = Uint8Array.of(0, 1, 2, 2), predicted = Uint8Array.of(0, 2, 2, 1);
  assert.deepEqual(confusionMatrix(labels, predicted, 3), [[1, 0, 0], [0, 0, 1], [0, 1, 1]]);
  assert.equal(accuracyOf(labels, predicted), 0.5);
  assert.equal(accuracyOf(new Uint8Array(0), new Uint8Array(0)), 0);
});
