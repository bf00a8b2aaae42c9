/**
 * Normalize: uint8 pixels to float32, by ÷255 (`scale`), by the training
 * set's mean and deviation (`standardize`), or unchanged (`none`, the textbook's
 * raw 0..255). Statistics are fitted on the training set only.
 *
 * @module
 */
import { deviation, mean } from "d3-array";
import { ConfigError } from "../engine/errors.ts";
import { type Chunk, type DataSplits, dataSplitsCodec, streamThrough } from "../engine/chunk.ts";
import type { Normalization } from "../model/format.ts";
import type { Codec, Stage } from "../engine/stage.ts";

/** The normalize modes. */
export const NORMALIZE_MODES = ["scale", "standardize", "none"] as const;

/** One of {@linkcode NORMALIZE_MODES}. */
export type NormalizeMode = typeof NORMALIZE_MODES[number];

/** Fits the statistics of `mode` on training pixels (d3-array's mean and deviation). */
export function fitNormalization(mode: NormalizeMode, trainPixels: Uint8Array): Normalization {
  if (mode !== "standardize") return { mode, mean: 0, std: 1 };
  const m = mean(trainPixels) ?? 0;
  const std = deviation(trainPixels) ?? 0;
  if (!(std > 0)) {
    throw new ConfigError(
      `Cannot standardize as the training pixels' deviation must be above 0: current value is ${std}. ` +
        `Hint: use --normalize scale`,
    );
  }
  return { mode, mean: m, std };
}

/**
 * Applies a fitted normalization to raw 0..255 pixels, `(v − offset)·scale`,
 * into a new float32 buffer. Predict calls it too, so it sees the same inputs.
 */
export function normalizePixels(pixels: Uint8Array | Float32Array, n: Normalization): Float32Array {
  const scale = n.mode === "scale" ? 1 / 255 : n.mode === "standardize" ? 1 / n.std : 1;
  const offset = n.mode === "standardize" ? n.mean : 0;
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] - offset) * scale;
  return out;
}

/**
 * Converts uint8 chunks to normalized float32 chunks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NormalizeStream } from "./normalize.ts";
 * const chunk = { images: new Uint8Array([0, 255]), labels: new Uint8Array([1]), rows: 1, cols: 2 };
 * const [out] = await Array.fromAsync(
 *   ReadableStream.from([chunk]).pipeThrough(
 *     new NormalizeStream({ mode: "scale", mean: 0, std: 1 }),
 *   ),
 * );
 * assert.deepEqual([...out.images], [0, 1]);
 * ```
 */
export class NormalizeStream extends TransformStream<Chunk<Uint8Array>, Chunk<Float32Array>> {
  /** Creates a stream applying `normalization`. */
  constructor(normalization: Normalization) {
    super({
      transform(chunk, controller) {
        const images = normalizePixels(chunk.images, normalization);
        controller.enqueue({ images, labels: chunk.labels, rows: chunk.rows, cols: chunk.cols });
      },
    });
  }
}

/** The normalize stage. */
export function normalizeStage(
  mode: NormalizeMode,
): Stage<DataSplits<Uint8Array>, DataSplits<Float32Array>> {
  return {
    name: "normalize",
    version: 1,
    params: { mode },
    async run(input) {
      const normalization = fitNormalization(mode, input.train.images);
      return {
        train: await streamThrough(input.train, new NormalizeStream(normalization)),
        test: await streamThrough(input.test, new NormalizeStream(normalization)),
        classes: input.classes,
        normalization,
      };
    },
    codec: dataSplitsCodec as Codec<DataSplits<Float32Array>>,
  };
}
