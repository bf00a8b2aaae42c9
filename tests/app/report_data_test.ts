import assert from "node:assert/strict";
import { DESKEW_SHOWN, reportDigits } from "../../app/report_data.ts";
import type { SavedModel } from "../../model/format.ts";
import { deskewImage } from "../../stages/deskew.ts";
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
