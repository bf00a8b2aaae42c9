/**
 * Predict: loads a saved model (from a run folder or a model file), prepares
 * IDX images and PNG digits exactly as the pipeline prepared its training set
 * (normalize with the stored statistics, then deskew when the model was
 * trained on deskewed digits), and returns each image's class and probabilities.
 *
 * @module
 */
import { decodeModel, type Preprocessing, type SavedModel } from "../model/format.ts";
import { backgroundOf, deskewImages } from "../stages/deskew.ts";
import { normalizePixels } from "../stages/normalize.ts";
import { networkOf, predictAll } from "../stages/evaluate.ts";
import { decodeIdxFile } from "../stages/idx_decode.ts";
import { createWasmKernels } from "../kernels/wasm_kernels.ts";
import { InputError } from "../engine/errors.ts";
import { ModelError } from "../model/errors.ts";
import { statOrNull } from "../engine/files.ts";
import { MODEL_FILE } from "../engine/run_folder.ts";
import { currentModelPath, isRegistry } from "../registry/registry.ts";
import {
  type DecodedImage,
  isPng,
  luminanceOf,
  mnistDigit,
  PNG_MAGIC,
  readPng,
} from "./png_digit.ts";

/** Options of {@linkcode predictFiles}. */
export interface PredictOptions {
  /** An IDX labels file pairing with the images of all inputs, in order; enables accuracy. @default {undefined} */
  labels?: string;
}

/** The kinds of input file predict reads. */
export type InputFormat = "png" | "idx";

/** The prediction for one image. */
export interface Prediction {
  /** The input file the image came from. */
  input: string;
  /** The image's position in that file (0 for a PNG). */
  index: number;
  /** Whether the file was a PNG digit or an IDX images file. */
  format: InputFormat;
  /** The most probable class. */
  predicted: number;
  /** Class probabilities, summing to 1. */
  probabilities: number[];
  /** The true class, when labels were given. */
  label?: number;
}

/** Correct predictions against the labels. */
export interface Accuracy {
  /** Images whose predicted class equals the label. */
  correct: number;
  /** Images scored. */
  total: number;
  /** correct / total, 0..1 (0 when there are no images). */
  accuracy: number;
}

/** What {@linkcode predictFiles} returns. */
export interface PredictResult {
  /** Where the model was loaded from. */
  modelPath: string;
  /** One entry per image, inputs in order, images in file order. */
  predictions: Prediction[];
  /** Present when labels were given. */
  accuracy?: Accuracy;
}

/** Images ready for the network: n · rows · cols normalized (and deskewed) pixels. */
interface PreparedInput {
  /** The file they came from. */
  input: string;
  /** Its format. */
  format: InputFormat;
  /** (n, rows·cols). */
  images: Float32Array;
  /** Number of images. */
  count: number;
}

const MODEL_HINT = "run `deno task pipeline` first or pass the model file";

/**
 * Resolves `path` (a run folder holding `model.mnpm`, a model registry, whose
 * current version is used, or a model file) to the model file's path; throws
 * {@linkcode InputError} (or `RegistryError` for a registry) when there is none.
 */
export async function resolveModelPath(path: string): Promise<string> {
  const info = await statOrNull(path);
  if (!info) {
    throw new InputError(`Cannot load model "${path}" as it does not exist. Hint: ${MODEL_HINT}`);
  }
  if (!info.isDirectory) return path;
  if (await isRegistry(path)) return await currentModelPath(path.replace(/\/+$/, ""));
  const file = `${path.replace(/\/+$/, "")}/${MODEL_FILE}`;
  if (!(await statOrNull(file))?.isFile) {
    throw new InputError(
      `Cannot load model from run folder "${path}" as it must hold "${MODEL_FILE}": it does not. ` +
        `Hint: ${MODEL_HINT}`,
    );
  }
  return file;
}

/** Loads and validates a model from a run folder, a registry's current version, or a model file. */
export async function loadModel(path: string): Promise<{ model: SavedModel; path: string }> {
  const file = await resolveModelPath(path);
  return { model: decodeModel(await Deno.readFile(file), file), path: file };
}

/** Applies a model's preprocessing to n raw 0..255 images of its size: normalize, then deskew. */
export function preprocessImages(
  pixels: Uint8Array | Float32Array,
  preprocessing: Preprocessing,
): Float32Array {
  const { rows, cols, normalization, deskew } = preprocessing;
  const images = normalizePixels(pixels, normalization);
  return deskew ? deskewImages(images, rows, cols, backgroundOf(normalization)) : images;
}

/**
 * A decoded PNG as a raw 0..255 MNIST-style image of rows × cols: luminance,
 * then cropped, fitted and centred ({@linkcode mnistDigit}); preprocess it next.
 */
export function pngDigit(image: DecodedImage, rows: number, cols: number): Float32Array {
  return mnistDigit(luminanceOf(image), image.width, image.height, rows, cols);
}

/**
 * Whether an input is a PNG: by extension when it has a known one, else by its
 * first bytes. Throws {@linkcode InputError} when it is missing or a folder.
 */
async function isPngFile(path: string): Promise<boolean> {
  const info = await statOrNull(path);
  if (!info) throw new InputError(`Cannot read input "${path}" as it does not exist`);
  if (info.isDirectory) {
    throw new InputError(
      `Cannot read input "${path}" as it must be an IDX images file or a PNG: it is a folder`,
    );
  }
  const lower = path.toLowerCase();
  if (lower.endsWith(".png")) return true;
  if (/(\.gz|ubyte|\.idx\d?)$/.test(lower)) return false;
  const file = await Deno.open(path);
  try {
    const head = new Uint8Array(PNG_MAGIC.length);
    const read = await file.read(head);
    return read === head.length && isPng(head);
  } finally {
    file.close();
  }
}

/** Decodes one input file (PNG digit or IDX images) into prepared images for the model. */
async function prepareInput(path: string, preprocessing: Preprocessing): Promise<PreparedInput> {
  const { rows, cols } = preprocessing;
  if (await isPngFile(path)) {
    const digit = pngDigit(await readPng(path), rows, cols);
    return {
      input: path,
      format: "png",
      images: preprocessImages(digit, preprocessing),
      count: 1,
    };
  }
  const { dims, data } = await decodeIdxFile(path, 3);
  if (dims[1] !== rows || dims[2] !== cols) {
    throw new InputError(
      `Cannot predict IDX file "${path}" as its images must be ${rows}×${cols} like the model's: ` +
        `current value is ${dims[1]}×${dims[2]}`,
    );
  }
  return {
    input: path,
    format: "idx",
    images: preprocessImages(data, preprocessing),
    count: dims[0],
  };
}

/**
 * Copies a row of output units into probabilities that sum to 1 (sigmoid units
 * need it); `image` names the image in the {@linkcode ModelError} a non-finite
 * unit raises, as such an output is no prediction.
 */
export function toProbabilities(units: Float32Array, image: string, modelPath: string): number[] {
  let sum = 0;
  for (const u of units) sum += u;
  if (!Number.isFinite(sum)) {
    throw new ModelError(
      `Cannot predict ${image} with model "${modelPath}" as the network's outputs must be ` +
        `finite: current value is [${Array.from(units).join(", ")}]. Hint: the model's ` +
        `weights or normalization overflow float32 on this image; retrain the model`,
    );
  }
  // Every sigmoid unit can underflow to 0 on an extreme input; no class is then preferred.
  if (!(sum > 0)) return Array.from(units, () => 1 / units.length);
  return Array.from(units, (u) => u / sum);
}

/**
 * Predicts every image of every input with a saved model. `inputs` are IDX
 * images files (raw or gzip) or PNG digits; throws {@linkcode InputError} for
 * unreadable inputs, a size the model does not take, or labels that do not pair,
 * and {@linkcode ModelError} for a model that does not load or whose outputs
 * are not finite on an image.
 */
export async function predictFiles(
  modelPath: string,
  inputs: readonly string[],
  options: PredictOptions = {},
): Promise<PredictResult> {
  const { model, path } = await loadModel(modelPath);
  const { preprocessing } = model;
  const prepared: PreparedInput[] = [];
  for (const input of inputs) prepared.push(await prepareInput(input, preprocessing));
  const total = prepared.reduce((n, p) => n + p.count, 0);
  let labels: Uint8Array | undefined;
  if (options.labels !== undefined) {
    labels = (await decodeIdxFile(options.labels, 1)).data;
    if (labels.length !== total) {
      throw new InputError(
        `Cannot score predictions with labels "${options.labels}" as their count must match the ` +
          `images: ${total} images, ${labels.length} labels`,
      );
    }
  }
  // One thread: a predict run is short, and starts no workers (nor asks for their permissions).
  const kernels = await createWasmKernels({ threads: 1 });
  const predictions: Prediction[] = [];
  let correct = 0;
  try {
    const net = networkOf(model, kernels);
    const classes = model.spec.sizes[model.spec.sizes.length - 1];
    for (const { input, format, images, count } of prepared) {
      const { predicted: classOf, probabilities } = predictAll(
        net,
        {
          images,
          labels: new Uint8Array(count),
          rows: preprocessing.rows,
          cols: preprocessing.cols,
        },
        512,
        kernels,
      );
      for (let i = 0; i < count; i++) {
        const prediction: Prediction = {
          input,
          index: i,
          format,
          predicted: classOf[i],
          probabilities: toProbabilities(
            probabilities.subarray(i * classes, (i + 1) * classes),
            format === "png" ? `"${input}"` : `image ${i} of "${input}"`,
            path,
          ),
        };
        if (labels) {
          prediction.label = labels[predictions.length];
          if (prediction.label === prediction.predicted) correct++;
        }
        predictions.push(prediction);
      }
    }
  } finally {
    kernels.close();
  }
  const result: PredictResult = { modelPath: path, predictions };
  if (labels) {
    result.accuracy = { correct, total, accuracy: total === 0 ? 0 : correct / total };
  }
  return result;
}
