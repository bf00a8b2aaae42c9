/**
 * Normalize: uint8 pixels to float32, by ÷255 (`scale`), by the training
 * set's mean and deviation (`standardize`), or unchanged (`none`, the textbook's
 * raw 0..255). Statistics are fitted on the training set only.
 *
 * @module
 */
import { deviation, mean, sum } from "d3-array";
import type { Chunk, DataMeta, DataSet } from "../engine/chunk.ts";
import { ConfigError } from "../engine/errors.ts";
import { ChunkMapStream, chunkStage, type DataStage } from "../engine/stage.ts";
import type { Normalization } from "../model/format.ts";

/** The normalize modes. */
export const NORMALIZE_MODES = ["scale", "standardize", "none"] as const;

/** One of {@linkcode NORMALIZE_MODES}. */
export type NormalizeMode = typeof NORMALIZE_MODES[number];

/** Fits the statistics of `mode` on training pixels (d3-array's mean and deviation). */
export function fitNormalization(mode: NormalizeMode, trainPixels: Uint8Array): Normalization {
  if (mode !== "standardize") return { mode, mean: 0, std: 1 };
  const m = mean(trainPixels) ?? 0;
  const std = deviation(trainPixels) ?? 0;
  if (!(std > 0)) throw invalidDeviation(std);
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

/** The meta of normalized data: the fitted normalization travels with it (and into the model). */
export interface NormalizedMeta extends DataMeta {
  /** How the pixels were scaled. */
  normalization: Normalization;
}

function invalidDeviation(std: number): ConfigError {
  return new ConfigError(
    `Cannot standardize as the training pixels' deviation must be above 0: current value is ${std}. ` +
      `Hint: use --normalize scale`,
  );
}

/**
 * Fits `mode` on a stream of training chunks in one pass: a histogram of the
 * 256 pixel values, from which mean and deviation follow exactly whatever the
 * data set's size (d3-array sums them).
 */
export async function fitNormalizationStream(
  mode: NormalizeMode,
  train: ReadableStream<Chunk<Uint8Array>>,
): Promise<Normalization> {
  if (mode !== "standardize") {
    await train.cancel();
    return { mode, mean: 0, std: 1 };
  }
  const counts = new Float64Array(256);
  for await (const chunk of train) {
    const pixels = chunk.images;
    for (let i = 0; i < pixels.length; i++) counts[pixels[i]]++;
  }
  const n = sum(counts);
  const m = sum(counts, (c: number, v: number) => c * v) / n;
  const std = Math.sqrt(sum(counts, (c: number, v: number) => c * (v - m) * (v - m)) / (n - 1));
  if (!(std > 0)) throw invalidDeviation(std);
  return { mode, mean: m, std };
}

/** Normalizes one chunk into a new float32 chunk. */
export function normalizeChunk(chunk: Chunk<Uint8Array>, n: Normalization): Chunk<Float32Array> {
  const { labels, rows, cols } = chunk;
  return { images: normalizePixels(chunk.images, n), labels, rows, cols };
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
export class NormalizeStream extends ChunkMapStream<Chunk<Uint8Array>, Chunk<Float32Array>> {
  /** Creates a stream applying `normalization`. */
  constructor(normalization: Normalization) {
    super((chunk) => normalizeChunk(chunk, normalization));
  }
}

/** The normalize stage: fits on the training split only, then maps both splits. */
export function normalizeStage(
  mode: NormalizeMode,
): DataStage<[DataSet<Uint8Array, DataMeta>], Float32Array, NormalizedMeta> {
  return chunkStage({
    name: "normalize",
    // 2: chunked, streamed output; standardize fits from a pixel histogram.
    version: 2,
    params: { mode },
    fit: async (input) => ({
      ...input.meta,
      pixels: "float32",
      normalization: await fitNormalizationStream(mode, input.open("train")),
    }),
    map: (meta) => (chunk) => normalizeChunk(chunk, meta.normalization),
  });
}
