import assert from "node:assert/strict";
import { PNG } from "pngjs";
import { bundledDataDir } from "../app/bundled.ts";
import { predictFiles } from "../app/predict.ts";
import { decodeIdxFile } from "../stages/idx_decode.ts";
import {
  classifyPixels,
  classifyPng,
  InputError,
  loadModel,
  runPipeline,
  UsageError,
} from "../mod.ts";
import { makeDataSet, tempDir } from "./fixtures.ts";

Deno.test("runPipeline() trains a run whose model classifyPixels() reads as predict does", async () => {
  const data = await makeDataSet();
  const dir = await tempDir();
  const result = await runPipeline({
    data,
    deskew: false,
    epochs: 3,
    eta: 0.01,
    hidden: [8],
    batchSize: 16,
    cacheDir: `${dir}/cache`,
    out: `${dir}/run`,
    threads: 1,
  });
  assert.equal(result.runDir, `${dir}/run`);
  assert.ok(result.testAccuracy! > 0.5);
  assert.ok(result.stages.every((s) => s.ran));
  const model = await loadModel(`${dir}/run`);
  const { data: pixels, dims } = await decodeIdxFile(`${data}/t10k-images-idx3-ubyte`, 3);
  const ours = classifyPixels(model, pixels);
  const predicted = await predictFiles(`${dir}/run`, [`${data}/t10k-images-idx3-ubyte`]);
  assert.equal(ours.length, dims[0]);
  ours.forEach((c, i) => {
    assert.equal(c.predicted, predicted.predictions[i].predicted);
    c.probabilities.forEach((p, k) =>
      assert.ok(Math.abs(p - predicted.predictions[i].probabilities[k]) < 1e-5)
    );
  });
});

Deno.test("classifyPng() classifies a PNG digit as predict does", async () => {
  const { data: images } = await decodeIdxFile(`${bundledDataDir()}/t10k-images-idx3-ubyte`, 3);
  const digit = images.subarray(0, 784);
  const png = new PNG({ width: 28, height: 28 });
  for (let i = 0; i < 784; i++) {
    png.data.set([255 - digit[i], 255 - digit[i], 255 - digit[i], 255], 4 * i);
  }
  const dir = await tempDir();
  await Deno.writeFile(`${dir}/seven.png`, PNG.sync.write(png));
  const data = await makeDataSet();
  await runPipeline({
    data,
    deskew: false,
    epochs: 1,
    hidden: [4],
    cacheDir: `${dir}/cache`,
    out: `${dir}/run`,
    threads: 1,
  });
  // The fixture's images are 10×10: a 28×28 PNG is fitted to them as predict fits it.
  const model = await loadModel(`${dir}/run`);
  const ours = classifyPng(model, await Deno.readFile(`${dir}/seven.png`), "seven.png");
  const theirs = (await predictFiles(`${dir}/run`, [`${dir}/seven.png`])).predictions[0];
  assert.equal(ours.predicted, theirs.predicted);
  ours.probabilities.forEach((p, k) => assert.ok(Math.abs(p - theirs.probabilities[k]) < 1e-5));
});

Deno.test("classifyPixels() rejects a pixel count that is not whole images", () => {
  const model = {
    spec: { sizes: [4, 2], activation: "relu" as const, output: "softmax" as const },
    preprocessing: {
      rows: 2,
      cols: 2,
      normalization: { mode: "scale" as const, mean: 0, std: 1 },
      deskew: false,
    },
    params: new Float32Array(10),
  };
  assert.throws(
    () => classifyPixels(model, new Uint8Array(6)),
    new InputError(
      "Cannot classify pixels as their count must be a multiple of rows·cols = 2·2 = 4: " +
        "current value is 6",
    ),
  );
});

Deno.test("runPipeline() checks options with the pipeline command's rules", async () => {
  await assert.rejects(
    runPipeline({ activation: "gelu" }),
    new UsageError(
      `Cannot use --activation as it must be one of sigmoid, tanh, relu, swish: current value is "gelu"`,
    ),
  );
  await assert.rejects(
    runPipeline({ batchSize: 10, minibatches: 5 }),
    new UsageError(
      "Cannot use --batch-size with --minibatches as an epoch is cut one way: give one of them",
    ),
  );
  const data = await makeDataSet();
  const plan = await runPipeline({ data, dryRun: true, cacheDir: `${await tempDir()}/c` });
  assert.equal(plan.runDir, null);
  assert.ok(plan.stages.some((s) => s.name === "train" && s.ran));
});
