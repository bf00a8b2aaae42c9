/**
 * The ONNX export run in onnxruntime-web against predict. onnxruntime-web
 * (139 MB) is a dependency of these checks alone, so they live under checks/
 * with their own config and lockfile: \`deno task test:exports\`.
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import * as ort from "onnxruntime-web";
import { bundledDataDir } from "../app/bundled.ts";
import { buildConfig } from "../app/config.ts";
import { exportModel } from "../app/export.ts";
import { runJob } from "../app/job.ts";
import { predictFiles } from "../app/predict.ts";
import { PIPELINE_OPTIONS } from "../cli/pipeline.ts";
import { deskewImages } from "../stages/deskew.ts";
import { decodeIdxFile } from "../stages/idx_decode.ts";
import { idxBytes, seededModel, tempDir } from "../tests/fixtures.ts";

ort.env.wasm.numThreads = 1;

const TEST_IMAGES = 300;
const data = bundledDataDir();

/** The first `n` bundled MNIST test images (raw 0..255) and an IDX file holding them. */
async function testImages(n: number): Promise<{ pixels: Uint8Array; file: string }> {
  const { data: all } = await decodeIdxFile(`${data}/t10k-images-idx3-ubyte`, 3);
  const pixels = all.slice(0, n * 784);
  const file = `${await tempDir()}/images-idx3-ubyte`;
  await Deno.writeFile(file, idxBytes([n, 28, 28], pixels));
  return { pixels, file };
}

/** A model trained for two epochs on 3000 bundled MNIST rows (standardize, deskew, ReLU). */
async function trainedRun(): Promise<string> {
  const dir = await tempDir();
  const { data: trainImages } = await decodeIdxFile(`${data}/train-images-idx3-ubyte`, 3);
  const { data: trainLabels } = await decodeIdxFile(`${data}/train-labels-idx1-ubyte`, 1);
  const { data: testLabels } = await decodeIdxFile(`${data}/t10k-labels-idx1-ubyte`, 1);
  const { pixels } = await testImages(500);
  await Deno.writeFile(
    `${dir}/train-images-idx3-ubyte`,
    idxBytes([3000, 28, 28], trainImages.subarray(0, 3000 * 784)),
  );
  await Deno.writeFile(
    `${dir}/train-labels-idx1-ubyte`,
    idxBytes([3000], trainLabels.subarray(0, 3000)),
  );
  await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idxBytes([500, 28, 28], pixels));
  await Deno.writeFile(
    `${dir}/t10k-labels-idx1-ubyte`,
    idxBytes([500], testLabels.subarray(0, 500)),
  );
  const args = [
    "--data",
    dir,
    "--cache-dir",
    `${dir}/cache`,
    "--out",
    `${dir}/run`,
    "--normalize",
    "standardize",
    "--deskew",
    "--activation",
    "relu",
    "--init",
    "he",
    "--hidden",
    "32",
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--eta",
    "0.05",
    "--reduction",
    "mean",
    "--output",
    "softmax",
    "--threads",
    "1",
  ];
  const { values } = parseArgs({ args, options: PIPELINE_OPTIONS, strict: true });
  const result = await runJob(buildConfig(values), { log() {} });
  assert.equal(result.kind, "run");
  return `${dir}/run`;
}

/** Runs an ONNX file on raw pixels and returns its probabilities and labels. */
async function runOnnx(file: string, pixels: Float32Array, n: number) {
  const session = await ort.InferenceSession.create(await Deno.readFile(file), {
    executionProviders: ["wasm"],
  });
  try {
    const out = await session.run({ pixels: new ort.Tensor("float32", pixels, [n, 784]) });
    return {
      probabilities: out.probabilities.data as Float32Array,
      labels: out.label.data as BigInt64Array,
      dims: out.probabilities.dims,
    };
  } finally {
    await session.release();
  }
}

/** The largest difference between predict's probabilities and ONNX's; asserts equal labels. */
async function compareWithPredict(modelPath: string, deskew: boolean): Promise<number> {
  const { pixels, file } = await testImages(TEST_IMAGES);
  const expected = await predictFiles(modelPath, [file]);
  const out = `${await tempDir()}/model.onnx`;
  await exportModel({ model: modelPath, format: "onnx", out });
  const raw = Float32Array.from(pixels);
  const input = deskew ? deskewImages(raw, 28, 28, 0) : raw;
  const onnx = await runOnnx(out, input, TEST_IMAGES);
  assert.deepEqual(onnx.dims, [TEST_IMAGES, 10]);
  let worst = 0;
  expected.predictions.forEach((p, i) => {
    p.probabilities.forEach((v, c) => {
      worst = Math.max(worst, Math.abs(v - onnx.probabilities[i * 10 + c]));
    });
    assert.equal(Number(onnx.labels[i]), p.predicted, `image ${i}`);
  });
  return worst;
}

Deno.test("an ONNX export of a trained deskewing model gives predict's probabilities on deskewed MNIST", async () => {
  const run = await trainedRun();
  const worst = await compareWithPredict(run, true);
  console.log(`onnx vs predict (trained, standardize, deskew): ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-5, `largest difference ${worst}`);
});

for (
  const [hidden, activation, output, mode] of [
    [[32], "sigmoid", "sigmoid", "none"],
    [[24, 16], "tanh", "sigmoid", "scale"],
    [[20], "swish", "softmax", "scale"],
    [[16], "relu", "softmax", "standardize"],
  ] as const
) {
  Deno.test(`an ONNX export of a ${activation}/${output} model (${mode}) gives predict's probabilities`, async () => {
    const { path } = await seededModel([...hidden], activation, output, mode);
    const worst = await compareWithPredict(path, false);
    console.log(`onnx vs predict (${activation}/${output}/${mode}): ${worst.toExponential(2)}`);
    assert.ok(worst <= 1e-5, `largest difference ${worst}`);
  });
}
