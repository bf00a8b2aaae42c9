import assert from "node:assert/strict";
import { PNG } from "pngjs";
import { type Console, main } from "../../main.ts";
import { encodeModel, type SavedModel } from "../../model/format.ts";
import { createNetwork, type NetworkSpec } from "../../model/network.ts";
import { MODEL_FILE } from "../../engine/run_folder.ts";
import { predictFiles, preprocessImages } from "../../app/predict.ts";
import type { Normalization } from "../../model/format.ts";
import { backgroundOf, DeskewStream } from "../../stages/deskew.ts";
import { networkOf, predictAll } from "../../stages/evaluate.ts";
import { NormalizeStream } from "../../stages/normalize.ts";
import { tempDir } from "../fixtures.ts";

/** An IDX images file: 0,0,8,3, then big-endian n, rows, cols, then the pixels. */
function idxImages(rows: number, cols: number, pixels: number[]): Uint8Array {
  const n = pixels.length / (rows * cols);
  const bytes = new Uint8Array(16 + pixels.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x00000803);
  view.setUint32(4, n);
  view.setUint32(8, rows);
  view.setUint32(12, cols);
  bytes.set(pixels, 16);
  return bytes;
}

/** An IDX labels file: 0,0,8,1, then big-endian n, then the labels. */
function idxLabels(labels: number[]): Uint8Array {
  const bytes = new Uint8Array(8 + labels.length);
  new DataView(bytes.buffer).setUint32(0, 0x00000801);
  new DataView(bytes.buffer).setUint32(4, labels.length);
  bytes.set(labels, 8);
  return bytes;
}

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = ReadableStream.from([bytes]).pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A Console that keeps what was written. */
function capture(): Console & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [], stderr: string[] = [];
  return { stdout, stderr, out: (line) => stdout.push(line), err: (line) => stderr.push(line) };
}

const SCALE: Normalization = { mode: "scale", mean: 0, std: 1 };

/**
 * A linear model over 2×2 images: class 1 scores 10·x₀ (the first pixel,
 * scaled to 0..1), class 0 scores −10·x₀ + 1, so an image is class 1 exactly
 * when its first pixel is lit.
 */
function firstPixelModel(output: NetworkSpec["output"] = "softmax"): SavedModel {
  const net = createNetwork({ sizes: [4, 2], activation: "sigmoid", output });
  const [layer] = net.layers;
  layer.weights[0 * 2 + 0] = -10;
  layer.weights[0 * 2 + 1] = 10;
  layer.biases[0] = 1;
  return {
    spec: net.spec,
    preprocessing: { rows: 2, cols: 2, normalization: SCALE, deskew: false },
    params: net.params as Float32Array,
  };
}

const LIT = [255, 0, 0, 0], DARK = [0, 0, 0, 0];

/** A temp folder with a run folder holding `model`, 4 images (lit, dark, lit, dark) and labels. */
async function fixture(model: SavedModel = firstPixelModel()) {
  const dir = await tempDir();
  const run = `${dir}/run`;
  await Deno.mkdir(run);
  await Deno.writeFile(`${run}/${MODEL_FILE}`, encodeModel(model));
  const images = `${dir}/images-idx3-ubyte`;
  await Deno.writeFile(images, idxImages(2, 2, [...LIT, ...DARK, ...LIT, ...DARK]));
  const labels = `${dir}/labels-idx1-ubyte`;
  // The last label is wrong on purpose: 3 of 4 correct.
  await Deno.writeFile(labels, idxLabels([1, 0, 1, 1]));
  return { dir, run, images, labels };
}

const softmax2 = (a: number, b: number) => [
  Math.exp(a) / (Math.exp(a) + Math.exp(b)),
  Math.exp(b) / (Math.exp(a) + Math.exp(b)),
];

function assertClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) =>
    assert.ok(Math.abs(v - expected[i]) <= tolerance, `${actual} ≉ ${expected}`)
  );
}

Deno.test("predict --json prints every image's class and probabilities, and the accuracy", async () => {
  const { dir, run, images, labels } = await fixture();
  try {
    const io = capture();
    const code = await main(["predict", "--model", run, "--labels", labels, "--json", images], io);
    assert.equal(code, 0);
    assert.deepEqual(io.stderr, []);
    assert.equal(io.stdout.length, 1);
    const json = JSON.parse(io.stdout[0]);
    assert.deepEqual(Object.keys(json), ["predictions", "accuracy"]);
    assert.equal(json.accuracy, 0.75);
    assert.equal(json.predictions.length, 4);
    json.predictions.forEach((p: Record<string, unknown>, i: number) => {
      assert.deepEqual(Object.keys(p), ["input", "index", "predicted", "probabilities"]);
      assert.equal(p.input, images);
      assert.equal(p.index, i);
      assert.equal(p.predicted, i % 2 === 0 ? 1 : 0);
      const probabilities = p.probabilities as number[];
      assert.ok(Math.abs(probabilities[0] + probabilities[1] - 1) < 1e-12);
      assertClose(probabilities, i % 2 === 0 ? softmax2(-9, 10) : softmax2(1, 0));
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict reads a gzip-compressed IDX file and a model file path", async () => {
  const { dir, run, images, labels } = await fixture();
  try {
    const gz = `${dir}/images-idx3-ubyte.gz`;
    await Deno.writeFile(gz, await gzip(await Deno.readFile(images)));
    const raw = capture(), packed = capture();
    await main(["predict", "--model", run, "--labels", labels, "--json", images], raw);
    const model = `${run}/${MODEL_FILE}`;
    const code = await main(
      ["predict", "--model", model, "--labels", labels, "--json", gz],
      packed,
    );
    assert.equal(code, 0);
    const a = JSON.parse(raw.stdout[0]), b = JSON.parse(packed.stdout[0]);
    assert.equal(b.accuracy, 0.75);
    assert.deepEqual(
      b.predictions.map((p: { input: string }) => p.input),
      [gz, gz, gz, gz],
    );
    assert.deepEqual(
      b.predictions.map((p: { probabilities: number[] }) => p.probabilities),
      a.predictions.map((p: { probabilities: number[] }) => p.probabilities),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict prints one line per image and the accuracy", async () => {
  const { dir, run, images, labels } = await fixture();
  try {
    const io = capture();
    assert.equal(await main(["predict", "--model", run, "--labels", labels, images], io), 0);
    assert.deepEqual(io.stdout, [
      `${images}[0]  predicted 1  label 1  p=[0.00 1.00]`,
      `${images}[1]  predicted 0  label 0  p=[0.73 0.27]`,
      `${images}[2]  predicted 1  label 1  p=[0.00 1.00]`,
      `${images}[3]  predicted 0  label 1  p=[0.73 0.27]`,
      "accuracy 75.00% (3/4)",
    ]);
    const plain = capture();
    assert.equal(await main(["predict", "--model", run, images], plain), 0);
    assert.equal(plain.stdout.length, 4);
    assert.equal(plain.stdout[1], `${images}[1]  predicted 0  p=[0.73 0.27]`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict divides the textbook's sigmoid outputs by their sum", async () => {
  const { dir, run, images } = await fixture(firstPixelModel("sigmoid"));
  try {
    const result = await predictFiles(run, [images]);
    const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
    const lit = [sigmoid(-9), sigmoid(10)], dark = [sigmoid(1), sigmoid(0)];
    assertClose(result.predictions[0].probabilities, lit.map((v) => v / (lit[0] + lit[1])));
    assertClose(result.predictions[1].probabilities, dark.map((v) => v / (dark[0] + dark[1])));
    assert.deepEqual(result.predictions.map((p) => p.predicted), [1, 0, 1, 0]);
    assert.equal(result.accuracy, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict preprocesses exactly as the pipeline's normalize and deskew streams", async () => {
  const rows = 5, cols = 4, classes = 3, n = 6;
  const normalization: Normalization = { mode: "standardize", mean: 40, std: 70 };
  const net = createNetwork({
    sizes: [rows * cols, 3, classes],
    activation: "tanh",
    output: "softmax",
  });
  net.params.forEach((_, i) => net.params[i] = Math.sin(i * 1.7) * 0.5);
  const model: SavedModel = {
    spec: net.spec,
    preprocessing: { rows, cols, normalization, deskew: true },
    params: net.params as Float32Array,
  };
  // Slanted strokes of different slopes, so deskew has work to do.
  const pixels = new Uint8Array(n * rows * cols);
  for (let i = 0; i < n; i++) {
    for (let r = 0; r < rows; r++) {
      const c = Math.min(cols - 1, Math.floor((r * (i + 1)) / 4));
      pixels[i * rows * cols + r * cols + c] = 255 - 20 * i;
    }
  }
  const chunk = { images: pixels, labels: new Uint8Array(n), rows, cols };
  const [expected] = await Array.fromAsync(
    ReadableStream.from([chunk])
      .pipeThrough(new NormalizeStream(normalization))
      .pipeThrough(new DeskewStream(backgroundOf(normalization))),
  );
  assert.deepEqual(preprocessImages(pixels, model.preprocessing), expected.images);

  const dir = await tempDir();
  try {
    await Deno.writeFile(`${dir}/${MODEL_FILE}`, encodeModel(model));
    await Deno.writeFile(`${dir}/x.idx`, idxImages(rows, cols, [...pixels]));
    const result = await predictFiles(dir, [`${dir}/x.idx`]);
    const reference = predictAll(networkOf(model), expected);
    assert.deepEqual(result.predictions.map((p) => p.predicted), [...reference.predicted]);
    result.predictions.forEach((p, i) =>
      assertClose(p.probabilities, [...reference.probabilities.subarray(i * 3, i * 3 + 3)])
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A 28×28 model that says 1 when there is ink anywhere and 0 on a blank image. */
function anyInkModel(): SavedModel {
  const net = createNetwork({ sizes: [784, 2], activation: "relu", output: "softmax" });
  const [layer] = net.layers;
  for (let i = 0; i < 784; i++) layer.weights[i * 2 + 1] = 0.05;
  layer.biases[0] = 1;
  return {
    spec: net.spec,
    preprocessing: { rows: 28, cols: 28, normalization: SCALE, deskew: true },
    params: net.params as Float32Array,
  };
}

function pngOf(gray: (r: number, c: number) => number, width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = 4 * (r * width + c);
      png.data[i] = png.data[i + 1] = png.data[i + 2] = gray(r, c);
      png.data[i + 3] = 255;
    }
  }
  return new Uint8Array(PNG.sync.write(png));
}

Deno.test("predict reads PNG digits, named by file, and sniffs a PNG without the extension", async () => {
  const dir = await tempDir();
  try {
    await Deno.writeFile(`${dir}/${MODEL_FILE}`, encodeModel(anyInkModel()));
    // A dark "1" on white paper: ink must come out high for the model to see it.
    await Deno.writeFile(
      `${dir}/one.png`,
      pngOf((_, c) => (c >= 45 && c < 55 ? 0 : 255), 100, 120),
    );
    await Deno.writeFile(`${dir}/blank.png`, pngOf(() => 255, 30, 30));
    await Deno.writeFile(`${dir}/scan`, await Deno.readFile(`${dir}/one.png`));
    const io = capture();
    const code = await main(
      ["predict", "--model", dir, `${dir}/one.png`, `${dir}/blank.png`, `${dir}/scan`],
      io,
    );
    assert.equal(code, 0);
    assert.deepEqual(io.stdout.map((line) => line.replace(/ {2}p=.*/, "")), [
      `${dir}/one.png  predicted 1`,
      `${dir}/blank.png  predicted 0`,
      `${dir}/scan  predicted 1`,
    ]);
    assert.match(io.stdout[1], /p=\[0\.73 0\.27\]$/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict pairs --labels with the images of all inputs in order", async () => {
  const { dir, run, images } = await fixture();
  try {
    const labels = `${dir}/eight-labels`;
    await Deno.writeFile(labels, idxLabels([1, 0, 1, 0, 0, 0, 0, 0]));
    const result = await predictFiles(run, [images, images], { labels });
    assert.deepEqual(result.accuracy, { correct: 6, total: 8, accuracy: 0.75 });
    assert.deepEqual(result.predictions.map((p) => p.index), [0, 1, 2, 3, 0, 1, 2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs predict and returns its exit code and stderr. */
async function failure(args: string[]): Promise<[number, string[]]> {
  const io = capture();
  const code = await main(["predict", ...args], io);
  assert.deepEqual(io.stdout, []);
  return [code, io.stderr];
}

Deno.test("predict reports a missing model, and a run folder without one, with a hint", async () => {
  const { dir, images } = await fixture();
  try {
    assert.deepEqual(await failure(["--model", `${dir}/nope`, images]), [1, [
      `error: Cannot load model "${dir}/nope" as it does not exist. ` +
      "Hint: run `deno task pipeline` first or pass the model file",
    ]]);
    assert.deepEqual(await failure(["--model", dir, images]), [1, [
      `error: Cannot load model from run folder "${dir}" as it must hold "model.mnpm": it does not. ` +
      "Hint: run `deno task pipeline` first or pass the model file",
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict reports a truncated model file", async () => {
  const { dir, run, images } = await fixture();
  try {
    const file = `${run}/${MODEL_FILE}`;
    const bytes = await Deno.readFile(file);
    await Deno.writeFile(file, bytes.subarray(0, bytes.length - 4));
    assert.deepEqual(await failure(["--model", run, images]), [1, [
      `error: Cannot load model "${file}" as sizes [4, 2] need 10 parameters (${bytes.length} bytes ` +
      `in all): the file holds ${bytes.length - 4} bytes (truncated). ` +
      "Hint: retrain, or point --model at another run",
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict reports a .png file that is not a PNG", async () => {
  const { dir, run } = await fixture();
  try {
    await Deno.writeFile(`${dir}/digit.png`, new TextEncoder().encode("GIF89a..."));
    assert.deepEqual(await failure(["--model", run, `${dir}/digit.png`]), [1, [
      `error: Cannot decode PNG "${dir}/digit.png" as it must start with the PNG signature ` +
      "89 50 4e 47: current value is 47 49 46 38. " +
      "Hint: pass a PNG of one digit, or an IDX images file",
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict reports IDX images of another size than the model's, and unpaired labels", async () => {
  const { dir, run, images, labels } = await fixture();
  try {
    const wide = `${dir}/wide-idx3-ubyte`;
    await Deno.writeFile(wide, idxImages(2, 3, [0, 0, 0, 0, 0, 0]));
    assert.deepEqual(await failure(["--model", run, wide]), [1, [
      `error: Cannot predict IDX file "${wide}" as its images must be 2×2 like the model's: ` +
      "current value is 2×3",
    ]]);
    assert.deepEqual(await failure(["--model", run, "--labels", labels, images, images]), [1, [
      `error: Cannot score predictions with labels "${labels}" as their count must match the ` +
      "images: 8 images, 4 labels",
    ]]);
    assert.deepEqual(await failure(["--model", run, `${dir}/missing`]), [1, [
      `error: Cannot read input "${dir}/missing" as it does not exist`,
    ]]);
    assert.deepEqual(await failure(["--model", run, dir]), [1, [
      `error: Cannot read input "${dir}" as it must be an IDX images file or a PNG: it is a folder`,
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict asks for --model and an input, and rejects unknown flags", async () => {
  assert.deepEqual(await failure(["x.png"]), [2, [
    "error: predict needs --model RUN_DIR_OR_FILE. Run with --help",
  ]]);
  assert.deepEqual(await failure(["--model", "runs/x"]), [2, [
    "error: predict needs at least one INPUT (an IDX images file or a PNG). Run with --help",
  ]]);
  const [code, stderr] = await failure(["--model", "runs/x", "--bogus", "x.png"]);
  assert.equal(code, 2);
  assert.match(stderr[0], /^error: Unknown option '--bogus'/);
  const help = capture();
  assert.equal(await main(["predict", "--help"], help), 0);
  assert.match(help.stdout[0], /^Usage: deno task predict --model RUN_DIR_OR_FILE/);
});

Deno.test("predict refuses an image on which the network's outputs are not finite", async () => {
  // Two float32-sized weights on the lit pixel sum past float32's range: softmax gives NaN.
  const model = firstPixelModel();
  model.params[0 * 2 + 1] = 3e38;
  model.params[1 * 2 + 1] = 3e38;
  const { dir, run, images } = await fixture(model);
  try {
    const both = `${dir}/both-idx3-ubyte`;
    await Deno.writeFile(both, idxImages(2, 2, [...DARK, 255, 255, 0, 0]));
    const [code, stderr] = await failure(["--model", run, both]);
    assert.equal(code, 1);
    assert.match(
      stderr[0],
      new RegExp(
        `^error: Cannot predict image 1 of "${both}" with model "${run}/${MODEL_FILE}" as the ` +
          "network's outputs must be finite: current value is \\[NaN, NaN\\]\\. Hint: the " +
          "model's weights or normalization overflow float32 on this image; retrain the model$",
      ),
    );
    // Images that stay in range still predict.
    assert.equal((await predictFiles(run, [images])).predictions.length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict refuses a model with a zero std or more classes than a byte holds, instead of printing a class", async () => {
  const zeroStd = firstPixelModel();
  zeroStd.preprocessing = {
    ...zeroStd.preprocessing,
    normalization: { mode: "standardize", mean: 0, std: 0 },
  };
  const wide = createNetwork({ sizes: [4, 300], activation: "sigmoid", output: "softmax" });
  wide.layers[0].biases[260] = 5; // class 260 would wrap to 4 in a byte
  const manyClasses: SavedModel = {
    spec: wide.spec,
    preprocessing: firstPixelModel().preprocessing,
    params: wide.params as Float32Array,
  };
  for (
    const [model, rule] of [
      [
        zeroStd,
        "its preprocessing.normalization.std must be a finite number above 0: current value is 0",
      ],
      [
        manyClasses,
        "its class count (the last of sizes) must be 2 to 256, as labels are bytes: current value is 300",
      ],
    ] as const
  ) {
    const { dir, run, images } = await fixture(model);
    try {
      assert.deepEqual(await failure(["--model", run, images]), [1, [
        `error: Cannot load model "${run}/${MODEL_FILE}" as ${rule}. ` +
        "Hint: retrain, or point --model at another run",
      ]]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});
