import assert from "node:assert/strict";
import {
  AUGMENTED_SHOWN,
  augmentedDigits,
  confidenceOf,
  DESKEW_SHOWN,
  firstLayerImages,
  reportDigits,
  WEIGHT_UNITS_SHOWN,
} from "../../app/report_data.ts";
import type { SavedModel } from "../../model/format.ts";
import { deskewImage } from "../../stages/deskew.ts";
import { AUGMENT_DEFAULTS, augmentBatch, NO_AUGMENT } from "../../stages/augment.ts";
import { decodeImagesAndLabels, findDataFiles } from "../../stages/idx_decode.ts";
import { normalizePixels } from "../../stages/normalize.ts";
import { makeDataSet } from "../fixtures.ts";

function model(deskew: boolean): SavedModel {
  return {
    spec: { sizes: [100, 4], activation: "relu", output: "softmax" },
    preprocessing: {
      rows: 10,
      cols: 10,
      normalization: { mode: "scale", mean: 0, std: 1 },
      deskew,
    },
    params: new Float32Array(404),
  };
}

Deno.test("reportDigits() picks the misclassified, one digit per class and the deskew row, as the model saw them", async () => {
  const files = await findDataFiles(await makeDataSet());
  const test = await decodeImagesAndLabels(files.testImages, files.testLabels);
  const misclassified = [
    { index: 37, label: test.labels[37], predicted: 0 },
    { index: 5, label: test.labels[5], predicted: 3 },
  ];
  const digits = await reportDigits(model(true), files, misclassified);
  const seen = (i: number) =>
    deskewImage(
      normalizePixels(
        test.images.subarray(i * 100, (i + 1) * 100),
        model(true).preprocessing.normalization,
      ),
      10,
      10,
    );
  assert.deepEqual(digits.misclassified.map((d) => [d.index, d.label, d.predicted]), [
    [37, test.labels[37], 0],
    [5, test.labels[5], 3],
  ]);
  assert.deepEqual(digits.misclassified[0].pixels, seen(37));
  // An all-zero model gives every class 1/4: the runner-up is the first other class.
  assert.deepEqual(
    digits.misclassified.map((d) => [d.confidence, d.runnerUp]),
    [[0.25, { label: 1, probability: 0.25 }], [0.25, { label: 0, probability: 0.25 }]],
  );
  assert.deepEqual(digits.firstLayer?.map((u) => u.unit), [0, 1, 2, 3]);
  // The fixture's test labels cycle 0, 1, 2, 3: the first of each class are rows 0..3.
  assert.deepEqual(digits.samples.map((d) => [d.index, d.label]), [[0, 0], [1, 1], [2, 2], [3, 3]]);
  assert.equal(digits.deskew?.length, DESKEW_SHOWN);
  assert.deepEqual(digits.deskew![6].after.pixels, seen(6));
  assert.deepEqual(
    digits.deskew![6].before.pixels,
    normalizePixels(test.images.subarray(600, 700), model(true).preprocessing.normalization),
  );
});

Deno.test("reportDigits() without deskew shows the normalized digits and no deskew row", async () => {
  const files = await findDataFiles(await makeDataSet());
  const digits = await reportDigits(model(false), files, []);
  assert.equal(digits.deskew, undefined);
  assert.deepEqual(digits.misclassified, []);
  assert.equal(digits.samples.length, 4);
});

/** A 2×2-input, no-hidden-layer model whose output units are the given scores' weights. */
function tiny(output: "softmax" | "sigmoid", weights: number[], biases: number[]): SavedModel {
  return {
    spec: { sizes: [4, biases.length], activation: "relu", output },
    preprocessing: {
      rows: 2,
      cols: 2,
      normalization: { mode: "none", mean: 0, std: 1 },
      deskew: false,
    },
    params: new Float32Array([...weights, ...biases]),
  };
}

Deno.test("confidenceOf() gives the predicted class's probability and the most probable other class", () => {
  // Three classes scored by biases only: softmax of (0, ln 2, ln 7) is (0.1, 0.2, 0.7).
  const m = tiny("softmax", new Array(12).fill(0), [0, Math.log(2), Math.log(7)]);
  const [top, other] = confidenceOf(m, new Float32Array(8), [2, 0]);
  assert.ok(Math.abs(top.confidence - 0.7) < 1e-6);
  assert.equal(top.runnerUp.label, 1);
  assert.ok(Math.abs(top.runnerUp.probability - 0.2) < 1e-6);
  // When the evaluation predicted class 0, the runner-up is the best of the others.
  assert.ok(Math.abs(other.confidence - 0.1) < 1e-6);
  assert.equal(other.runnerUp.label, 2);
  assert.deepEqual(confidenceOf(m, new Float32Array(0), []), []);
});

Deno.test("confidenceOf() divides sigmoid units by their sum, as predict reports them", () => {
  // sigmoid(0) = 0.5 for both units: each is half of the sum.
  const [only] = confidenceOf(tiny("sigmoid", new Array(8).fill(0), [0, 0]), new Float32Array(4), [
    1,
  ]);
  assert.equal(only.confidence, 0.5);
  assert.deepEqual(only.runnerUp, { label: 0, probability: 0.5 });
});

Deno.test("firstLayerImages() takes each unit's column of the (IN, OUT) weights, at most 32 units", () => {
  // Weights (4, 2) row-major: unit 0's inputs are 1, 3, 5, 7.
  const images = firstLayerImages(tiny("softmax", [1, 2, 3, 4, 5, 6, 7, 8], [0, 0]));
  assert.deepEqual(images.map((u) => [u.unit, Array.from(u.weights)]), [
    [0, [1, 3, 5, 7]],
    [1, [2, 4, 6, 8]],
  ]);
  const wide = tiny("softmax", new Array(4 * 40).fill(0), new Array(40).fill(0));
  assert.equal(firstLayerImages(wide).length, WEIGHT_UNITS_SHOWN);
});

Deno.test("augmentedDigits() shows the first training digits preprocessed and as epoch 1 distorted them", async () => {
  const files = await findDataFiles(await makeDataSet());
  const train = await decodeImagesAndLabels(files.trainImages, files.trainLabels);
  const augment = { kind: "both", ...AUGMENT_DEFAULTS } as const;
  assert.deepEqual(await augmentedDigits(model(true), files, NO_AUGMENT, 1), []);
  const pairs = await augmentedDigits(model(true), files, augment, 3);
  assert.equal(pairs.length, AUGMENTED_SHOWN);
  const normalization = model(true).preprocessing.normalization;
  const images = new Float32Array(AUGMENTED_SHOWN * 100);
  for (const [i, pair] of pairs.entries()) {
    assert.equal(pair.before.label, train.labels[i]);
    assert.equal(pair.after.label, train.labels[i]);
    const seen = deskewImage(
      normalizePixels(train.images.subarray(i * 100, (i + 1) * 100), normalization),
      10,
      10,
    );
    assert.deepEqual(pair.before.pixels, seen);
    images.set(seen, i * 100);
  }
  // The same function and seed as training: row i of epoch 0.
  const rows = Uint32Array.from({ length: AUGMENTED_SHOWN }, (_, i) => i);
  const out = new Float32Array(images.length);
  augmentBatch(images, rows, rows, out, 0, {
    options: augment,
    rows: 10,
    cols: 10,
    background: 0,
    seed: 3,
  });
  pairs.forEach((pair, i) =>
    assert.deepEqual(pair.after.pixels, out.subarray(i * 100, (i + 1) * 100))
  );
  assert.ok(pairs.some((p) => Array.from(p.after.pixels).some((v, j) => v !== p.before.pixels[j])));
});
