/**
 * Gathers the test digits a run report draws. It streams the test IDX files
 * once and keeps only the few images it shows, put through the model's own
 * preprocessing (the same functions the stages apply, so the same pixels), so
 * it needs neither the stage outputs nor memory for the whole test set. It
 * runs the model on the misclassified digits it shows, for each one's
 * confidence and runner-up class (the evaluate stage keeps only the predicted
 * class), and takes the first layer's weights from the model to draw them.
 *
 * @module
 */
import type { SavedModel } from "../model/format.ts";
import { layerViews } from "../model/network.ts";
import type { DigitCard, ReportDigits, WeightImage } from "../report/html.ts";
import type { MisclassifiedView } from "../report/views.ts";
import { backgroundOf, deskewImage } from "../stages/deskew.ts";
import { type DataFiles, decodeDataSet } from "../stages/idx_decode.ts";
import { normalizePixels } from "../stages/normalize.ts";
import { networkOf, predictAll } from "../stages/evaluate.ts";
import { preprocessImages } from "./predict.ts";
import { augmentBatch, type AugmentOptions, augments } from "../stages/augment.ts";

/** How many misclassified digits the report shows, as the textbook's 5×5 grid. */
export const MISCLASSIFIED_SHOWN = 25;

/** How many digits the deskew before/after row shows. */
export const DESKEW_SHOWN = 8;

/** How many training digits the augmentation row shows. */
export const AUGMENTED_SHOWN = 10;

/** How many first-layer units the report draws as weight images. */
export const WEIGHT_UNITS_SHOWN = 32;

/**
 * For each image, the probability of the class the evaluation predicted and
 * the most probable other class with its probability, as predict reports
 * probabilities (sigmoid units divided by their sum). `images` are
 * (n, rows·cols) preprocessed pixels; `predicted` holds n classes.
 */
export function confidenceOf(
  model: SavedModel,
  images: Float32Array,
  predicted: readonly number[],
): { confidence: number; runnerUp: { label: number; probability: number } }[] {
  const { rows, cols } = model.preprocessing;
  const n = predicted.length;
  if (n === 0) return [];
  const classes = model.spec.sizes[model.spec.sizes.length - 1];
  const { probabilities } = predictAll(networkOf(model), {
    images,
    labels: new Uint8Array(n),
    rows,
    cols,
  });
  return predicted.map((chosen, i) => {
    const units = probabilities.subarray(i * classes, (i + 1) * classes);
    const sum = units.reduce((a, b) => a + b, 0);
    const p = (c: number) => (sum > 0 ? units[c] / sum : 1 / classes);
    let second = chosen === 0 ? 1 : 0;
    for (let c = 0; c < classes; c++) {
      if (c !== chosen && units[c] > units[second]) second = c;
    }
    return { confidence: p(chosen), runnerUp: { label: second, probability: p(second) } };
  });
}

/** The first layer's first units (at most {@linkcode WEIGHT_UNITS_SHOWN}), each unit's input weights in pixel order. */
export function firstLayerImages(model: SavedModel): WeightImage[] {
  const [layer] = layerViews(model.spec.sizes, model.params);
  const units = Math.min(WEIGHT_UNITS_SHOWN, layer.outputs);
  return Array.from({ length: units }, (_, unit) => {
    // Weights are (IN, OUT) row-major: unit j's inputs are column j.
    const weights = new Float32Array(layer.inputs);
    for (let i = 0; i < layer.inputs; i++) weights[i] = layer.weights[i * layer.outputs + unit];
    return { unit, weights };
  });
}

/**
 * Picks the report's digits: the first misclassified test images, the first
 * test image of each class, and (with deskew) the first few before and after.
 */
export async function reportDigits(
  model: SavedModel,
  files: DataFiles,
  misclassified: readonly MisclassifiedView[],
): Promise<ReportDigits> {
  const { preprocessing } = model;
  const { rows, cols, deskew, normalization } = preprocessing;
  const shownMistakes = misclassified.slice(0, MISCLASSIFIED_SHOWN);
  const wanted = new Set(shownMistakes.map((m) => m.index));
  for (let i = 0; i < DESKEW_SHOWN; i++) wanted.add(i);
  const firstOfClass = new Map<number, number>();
  const kept = new Map<number, { label: number; normalized: Float32Array }>();
  const data = await decodeDataSet(files);
  const width = data.meta.rows * data.meta.cols;
  let index = 0;
  for await (const chunk of data.open("test")) {
    for (let i = 0; i < chunk.labels.length; i++, index++) {
      const label = chunk.labels[i];
      const first = !firstOfClass.has(label);
      if (first) firstOfClass.set(label, index);
      if (!first && !wanted.has(index)) continue;
      const raw = chunk.images.subarray(i * width, (i + 1) * width);
      kept.set(index, { label, normalized: normalizePixels(raw, normalization) });
    }
  }
  const background = backgroundOf(normalization);
  const seen = (i: number) => {
    const { normalized } = kept.get(i)!;
    return deskew ? deskewImage(normalized, rows, cols, background) : normalized;
  };
  const card = (i: number, predicted?: number): DigitCard => ({
    index: i,
    pixels: seen(i),
    label: kept.get(i)!.label,
    ...(predicted === undefined ? {} : { predicted }),
  });
  const mistakes = shownMistakes.map((m) => card(m.index, m.predicted));
  const pixels = rows * cols;
  const batch = new Float32Array(mistakes.length * pixels);
  mistakes.forEach((c, i) => batch.set(c.pixels as Float32Array, i * pixels));
  confidenceOf(model, batch, shownMistakes.map((m) => m.predicted)).forEach((c, i) => {
    mistakes[i].confidence = c.confidence;
    mistakes[i].runnerUp = c.runnerUp;
  });
  const samples = [...firstOfClass.entries()].sort((a, b) => a[0] - b[0]).map(([, i]) => card(i));
  const shown = Math.min(DESKEW_SHOWN, index);
  return {
    rows,
    cols,
    misclassified: mistakes,
    samples,
    firstLayer: firstLayerImages(model),
    ...(deskew
      ? {
        deskew: Array.from({ length: shown }, (_, i) => ({
          before: { index: i, pixels: kept.get(i)!.normalized, label: kept.get(i)!.label },
          after: card(i),
        })),
      }
      : {}),
  };
}

/**
 * The first training digits as the network's preprocessing leaves them and
 * as augmentation distorted them in epoch 1 (the same function and seed as
 * training, so the same pixels); empty without augmentation. Streams the
 * training images only until it has them.
 */
export async function augmentedDigits(
  model: SavedModel,
  files: DataFiles,
  augment: AugmentOptions,
  seed: number,
): Promise<{ before: DigitCard; after: DigitCard }[]> {
  if (!augments(augment)) return [];
  const { rows, cols, normalization } = model.preprocessing;
  const width = rows * cols;
  const data = await decodeDataSet(files);
  const raw = new Uint8Array(AUGMENTED_SHOWN * width);
  const labels: number[] = [];
  for await (const chunk of data.open("train")) {
    for (let i = 0; i < chunk.labels.length && labels.length < AUGMENTED_SHOWN; i++) {
      raw.set(chunk.images.subarray(i * width, (i + 1) * width), labels.length * width);
      labels.push(chunk.labels[i]);
    }
    if (labels.length === AUGMENTED_SHOWN) break;
  }
  const images = preprocessImages(raw.subarray(0, labels.length * width), model.preprocessing);
  const background = backgroundOf(normalization);
  const rowsShown = Uint32Array.from(labels, (_, i) => i);
  const out = new Float32Array(labels.length * width);
  augmentBatch(images, rowsShown, rowsShown, out, 0, {
    options: augment,
    rows,
    cols,
    background,
    seed,
  });
  return labels.map((label, i) => ({
    before: { index: i, pixels: images.slice(i * width, (i + 1) * width), label },
    after: { index: i, pixels: out.slice(i * width, (i + 1) * width), label },
  }));
}
