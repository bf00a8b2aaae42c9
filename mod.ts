/**
 * mnist-pipeline as a library: load a trained model, classify raw pixels or a
 * PNG digit the way `deno task predict` does, export a model to ONNX or
 * TF.js, and run the whole pipeline (decode → normalize → deskew → train →
 * evaluate → run folder) from a typed options object.
 *
 * @example Classify the bundled MNIST test images with a trained run
 * ```ts ignore
 * import { classifyPixels, loadModel } from "@mnist-pipeline/core";
 * const model = await loadModel("runs/my-run");
 * const [first] = classifyPixels(model, myImage); // 784 raw pixels 0..255
 * console.log(first.predicted, first.probabilities);
 * ```
 *
 * @module
 */
import { buildConfig, type RawFlags } from "./app/config.ts";
import { runJob } from "./app/job.ts";
import { decodePng, luminanceOf, mnistDigit } from "./app/png_digit.ts";
import { loadModel as loadModelFile, preprocessImages } from "./app/predict.ts";
import { InputError } from "./engine/errors.ts";
import type { SavedModel } from "./model/format.ts";
import { networkOf, predictAll } from "./stages/evaluate.ts";

export {
  EXPORT_FORMATS,
  type ExportFormat,
  exportModel,
  type ExportOptions,
  type ExportResult,
} from "./app/export.ts";
export { type NetworkSpec, type OutputKind, OUTPUTS } from "./model/network.ts";
export { type Activation, ACTIVATIONS } from "./model/activations.ts";
export {
  decodeModel,
  encodeModel,
  type Normalization,
  NORMALIZATION_MODES,
  type Preprocessing,
  type SavedModel,
} from "./model/format.ts";
export { ConfigError, InputError, PipelineError, UsageError } from "./engine/errors.ts";
export { ModelError } from "./model/errors.ts";

/** One image's classification. */
export interface Classification {
  /** The most probable class. */
  predicted: number;
  /** Class probabilities summing to 1 (a sigmoid model's units divided by their sum, as predict). */
  probabilities: number[];
}

/**
 * Loads and validates a model from a run folder, a model registry (its current
 * version) or a `model.mnpm` file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeModel, loadModel } from "./mod.ts";
 * const file = await Deno.makeTempFile({ suffix: ".mnpm" });
 * await Deno.writeFile(file, encodeModel({
 *   spec: { sizes: [4, 2], activation: "relu", output: "softmax" },
 *   preprocessing: {
 *     rows: 2, cols: 2, normalization: { mode: "scale", mean: 0, std: 1 }, deskew: false,
 *   },
 *   params: new Float32Array(10),
 * }));
 * const model = await loadModel(file);
 * assert.deepEqual(model.spec.sizes, [4, 2]);
 * ```
 */
export async function loadModel(path: string): Promise<SavedModel> {
  return (await loadModelFile(path)).model;
}

/**
 * Classifies n images of raw pixels 0..255, `(n, rows·cols)` row-major with
 * ink high, after the model's own normalization and deskew (as predict).
 * Throws {@linkcode InputError} when the length is not a multiple of rows·cols.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classifyPixels, type SavedModel } from "./mod.ts";
 * // Two classes over 2×2 images: class 1 scores the top-left pixel, class 0 a constant bias.
 * const model: SavedModel = {
 *   spec: { sizes: [4, 2], activation: "relu", output: "softmax" },
 *   preprocessing: {
 *     rows: 2, cols: 2, normalization: { mode: "scale", mean: 0, std: 1 }, deskew: false,
 *   },
 *   params: new Float32Array([0, 8, 0, 0, 0, 0, 0, 0, 4, 0]),
 * };
 * const [dark, inked] = classifyPixels(model, new Uint8Array([0, 0, 0, 0, 255, 0, 0, 0]));
 * assert.equal(dark.predicted, 0);
 * assert.equal(inked.predicted, 1);
 * assert.ok(Math.abs(inked.probabilities[0] + inked.probabilities[1] - 1) < 1e-6);
 * ```
 */
export function classifyPixels(
  model: SavedModel,
  pixels: Uint8Array | Float32Array,
): Classification[] {
  const { rows, cols } = model.preprocessing;
  const width = rows * cols;
  if (pixels.length % width !== 0) {
    throw new InputError(
      `Cannot classify pixels as their count must be a multiple of rows·cols = ${rows}·${cols} = ` +
        `${width}: current value is ${pixels.length}`,
    );
  }
  const n = pixels.length / width;
  const images = preprocessImages(pixels, model.preprocessing);
  const { sizes } = model.spec;
  const classes = sizes[sizes.length - 1];
  const { predicted, probabilities } = predictAll(
    networkOf(model),
    { images, labels: new Uint8Array(n), rows, cols },
  );
  return Array.from({ length: n }, (_, i) => {
    const units = probabilities.subarray(i * classes, (i + 1) * classes);
    const sum = units.reduce((a, b) => a + b, 0);
    return {
      predicted: predicted[i],
      probabilities: Array.from(units, (u) => sum > 0 ? u / sum : 1 / classes),
    };
  });
}

/**
 * Classifies a PNG of one digit (any size, dark ink on light or light on
 * dark): cropped, fitted and centred the MNIST way, then as
 * {@linkcode classifyPixels}. `source` names the bytes in errors.
 *
 * @example
 * ```ts ignore
 * import { classifyPng, loadModel } from "./mod.ts";
 * const model = await loadModel("runs/my-run");
 * const { predicted } = classifyPng(model, await Deno.readFile("seven.png"), "seven.png");
 * ```
 */
export function classifyPng(model: SavedModel, png: Uint8Array, source = "PNG"): Classification {
  const image = decodePng(png, source);
  const { rows, cols } = model.preprocessing;
  const digit = mnistDigit(luminanceOf(image), image.width, image.height, rows, cols);
  return classifyPixels(model, digit)[0];
}

/** What {@linkcode runPipeline} takes: a preset, then any setting of the `pipeline` command on top. */
export interface PipelineOptions {
  /** The preset the other values start from: `default` or `textbook`. @default {"default"} */
  preset?: string;
  /** IDX data folder. @default {the bundled MNIST} */
  data?: string;
  /** Deskew the digits. @default {true (textbook: false)} */
  deskew?: boolean;
  /** `scale`, `standardize` or `none`. @default {"scale"} */
  normalize?: string;
  /** Hidden layer sizes. @default {[256]} */
  hidden?: number[];
  /** `sigmoid`, `tanh`, `relu` or `swish`. @default {"relu"} */
  activation?: string;
  /** `softmax` or `sigmoid`. @default {"softmax"} */
  output?: string;
  /** `uniform`, `xavier` or `he`. @default {"he"} */
  init?: string;
  /** `sgd`, `nesterov` or `adam`. @default {"adam"} */
  optimizer?: string;
  /** Epochs. @default {12} */
  epochs?: number;
  /** Rows per minibatch (give this or `minibatches`). @default {100} */
  batchSize?: number;
  /** Minibatches per epoch instead of a batch size. @default {undefined} */
  minibatches?: number;
  /** Learning rate. @default {0.001} */
  eta?: number;
  /** Momentum. @default {0.9} */
  momentum?: number;
  /** Learning-rate decay constant. @default {0.1} */
  decay?: number;
  /** `textbook` or `inverse`. @default {"inverse"} */
  decaySchedule?: string;
  /** L1 weight penalty. @default {0} */
  l1?: number;
  /** L2 weight penalty. @default {0} */
  l2?: number;
  /** Share of the training set held out for validation. @default {0} */
  validation?: number;
  /** Epochs without a better validation loss before stopping (0: never). @default {0} */
  patience?: number;
  /** `sum` or `mean` over a minibatch. @default {"mean"} */
  reduction?: string;
  /** Seed of every random choice. @default {1} */
  seed?: number;
  /** Stage cache folder. @default {".cache"} */
  cacheDir?: string;
  /** False ignores and overwrites the cache. @default {true} */
  useCache?: boolean;
  /** Plan only: say which stages would run, run nothing. @default {false} */
  dryRun?: boolean;
  /** Run folder. @default {"runs/<timestamp>-<short key>/"} */
  out?: string;
  /** Threads for the matrix products. @default {every core} */
  threads?: number;
  /** Megabytes training may hold for the training set. @default {512} */
  memory?: number;
}

/** What {@linkcode runPipeline} did. */
export interface PipelineRun {
  /** The run folder written; null for a dry run. */
  runDir: string | null;
  /** Test accuracy 0..1; null for a dry run. */
  testAccuracy: number | null;
  /** Each stage by name, and whether it ran (or, for a dry run, would run) or came from the cache. */
  stages: { name: string; ran: boolean }[];
}

/** The command-line flags equal to typed options, so that the CLI's checks and messages apply. */
function flagsOf(options: PipelineOptions): RawFlags {
  const flags: RawFlags = {};
  const names: [keyof PipelineOptions, string][] = [
    ["preset", "preset"],
    ["data", "data"],
    ["normalize", "normalize"],
    ["activation", "activation"],
    ["output", "output"],
    ["init", "init"],
    ["optimizer", "optimizer"],
    ["epochs", "epochs"],
    ["batchSize", "batch-size"],
    ["minibatches", "minibatches"],
    ["eta", "eta"],
    ["momentum", "momentum"],
    ["decay", "decay"],
    ["decaySchedule", "decay-schedule"],
    ["l1", "l1"],
    ["l2", "l2"],
    ["validation", "validation"],
    ["patience", "patience"],
    ["reduction", "reduction"],
    ["seed", "seed"],
    ["cacheDir", "cache-dir"],
    ["out", "out"],
    ["threads", "threads"],
    ["memory", "memory"],
  ];
  for (const [key, flag] of names) {
    if (options[key] !== undefined) flags[flag] = String(options[key]);
  }
  if (options.hidden) flags.hidden = options.hidden.join(",");
  if (options.deskew !== undefined) flags[options.deskew ? "deskew" : "no-deskew"] = true;
  if (options.useCache === false) flags["no-cache"] = true;
  if (options.dryRun) flags["dry-run"] = true;
  return flags;
}

/**
 * Runs the pipeline (or, with `dryRun`, plans it) and writes the run folder
 * (`config.json`, `metrics.json`, `model.mnpm`, `report.html`); progress
 * lines go to `log`. Options are checked as the `pipeline` command checks its
 * flags: a {@linkcode UsageError} names the flag, the rule and the value.
 *
 * @example Options break the pipeline command's rules
 * ```ts
 * import assert from "node:assert/strict";
 * import { runPipeline } from "./mod.ts";
 * await assert.rejects(runPipeline({ eta: -1 }), /--eta as it must be a number > 0/);
 * ```
 *
 * @example A quick run
 * ```ts ignore
 * import { runPipeline } from "./mod.ts";
 * const run = await runPipeline({ epochs: 2, hidden: [64], out: "runs/quick" });
 * console.log(run.testAccuracy, run.runDir);
 * ```
 */
export async function runPipeline(
  options: PipelineOptions = {},
  log: (line: string) => void = () => {},
): Promise<PipelineRun> {
  const result = await runJob(buildConfig(flagsOf(options)), { log });
  if (result.kind === "plan") {
    return {
      runDir: null,
      testAccuracy: null,
      stages: result.plan.map(({ name, willRun }) => ({ name, ran: willRun })),
    };
  }
  return {
    runDir: result.runDir,
    testAccuracy: result.metrics.testAccuracy,
    stages: result.metrics.stages.map(({ name, status }) => ({ name, ran: status === "ran" })),
  };
}
