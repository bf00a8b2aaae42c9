/**
 * Deskew: straightens each digit by the shear its image moments imply.
 * With ink as mass, α = cov(x, y) / var(y); the output pixel (x, y) samples the
 * input at (x + α·(y − ȳc) − xc + x̄, y − yc + ȳ) bilinearly, so a slanted
 * stroke becomes upright and the centre of mass lands on the image centre.
 *
 * @module
 */
import type { Chunk, DataSet } from "../engine/chunk.ts";
import { ChunkMapStream, chunkStage, type DataStage } from "../engine/stage.ts";
import type { Normalization } from "../model/format.ts";
import type { NormalizedMeta } from "./normalize.ts";

/** Image moments: centre of mass and the shear they imply. */
export interface Moments {
  /** Total ink (mass above the background). */
  mass: number;
  /** Column of the centre of mass. */
  x: number;
  /** Row of the centre of mass. */
  y: number;
  /** Shear α = cov(x, y) / var(y); 0 when the image has no vertical extent. */
  shear: number;
}

/** Computes the moments of one image, with ink = value − background. */
export function imageMoments(
  image: Float32Array,
  rows: number,
  cols: number,
  background = 0,
): Moments {
  let mass = 0, sx = 0, sy = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const m = image[r * cols + c] - background;
      mass += m;
      sx += m * c;
      sy += m * r;
    }
  }
  if (!(mass > 1e-12)) return { mass: 0, x: (cols - 1) / 2, y: (rows - 1) / 2, shear: 0 };
  const x = sx / mass, y = sy / mass;
  let varY = 0, covXY = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const m = image[r * cols + c] - background;
      varY += m * (r - y) * (r - y);
      covXY += m * (c - x) * (r - y);
    }
  }
  varY /= mass;
  covXY /= mass;
  return { mass, x, y, shear: varY > 1e-9 ? covXY / varY : 0 };
}

/**
 * Deskews one image (rows·cols values) into `out`; samples outside the input
 * read as `background`. An image without ink is copied unchanged.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deskewImage, imageMoments } from "./deskew.ts";
 * // A "\\" stroke on a 5×5 image comes out with no slant left.
 * const image = new Float32Array(25);
 * for (let i = 0; i < 5; i++) image[i * 5 + i] = 1;
 * const out = deskewImage(image, 5, 5);
 * assert.ok(Math.abs(imageMoments(out, 5, 5).shear) < 0.1);
 * ```
 */
export function deskewImage(
  image: Float32Array,
  rows: number,
  cols: number,
  background = 0,
  out: Float32Array = new Float32Array(rows * cols),
): Float32Array {
  const { mass, x, y, shear } = imageMoments(image, rows, cols, background);
  if (mass === 0) {
    out.set(image.subarray(0, rows * cols));
    return out;
  }
  const centreX = (cols - 1) / 2, centreY = (rows - 1) / 2;
  const at = (r: number, c: number) =>
    r >= 0 && r < rows && c >= 0 && c < cols ? image[r * cols + c] : background;
  for (let r = 0; r < rows; r++) {
    const dy = r - centreY;
    const sourceY = dy + y;
    const y0 = Math.floor(sourceY);
    const fy = sourceY - y0;
    for (let c = 0; c < cols; c++) {
      const sourceX = c - centreX + x + shear * dy;
      const x0 = Math.floor(sourceX);
      const fx = sourceX - x0;
      out[r * cols + c] = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) +
        fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
    }
  }
  return out;
}

/** The pixel value of "no ink" after a normalization (0 unless standardized). */
export function backgroundOf(normalization: Normalization | undefined): number {
  return normalization?.mode === "standardize" ? -normalization.mean / normalization.std : 0;
}

/** Deskews n images, (n, rows·cols), into a new buffer. */
export function deskewImages(
  images: Float32Array,
  rows: number,
  cols: number,
  background = 0,
): Float32Array {
  const size = rows * cols;
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length / size; i++) {
    deskewImage(
      images.subarray(i * size, (i + 1) * size),
      rows,
      cols,
      background,
      out.subarray(i * size, (i + 1) * size),
    );
  }
  return out;
}

/** Deskews every image of a chunk into a new chunk. */
export function deskewChunk(chunk: Chunk<Float32Array>, background = 0): Chunk<Float32Array> {
  const { labels, rows, cols } = chunk;
  return { images: deskewImages(chunk.images, rows, cols, background), labels, rows, cols };
}

/** Deskews every image of each float32 chunk. */
export class DeskewStream extends ChunkMapStream<Chunk<Float32Array>, Chunk<Float32Array>> {
  /** Creates a stream whose "no ink" pixel value is `background`. */
  constructor(background = 0) {
    super((chunk) => deskewChunk(chunk, background));
  }
}

/** The deskew stage (present in the chain only when deskew is on); learns nothing. */
export function deskewStage(): DataStage<
  [DataSet<Float32Array, NormalizedMeta>],
  Float32Array,
  NormalizedMeta
> {
  return chunkStage({
    name: "deskew",
    // 2: chunked, streamed output in cache format 2.
    version: 2,
    params: { method: "moments-shear-bilinear" },
    fit: (input) => Promise.resolve(input.meta),
    map: (meta) => {
      const background = backgroundOf(meta.normalization);
      return (chunk) => deskewChunk(chunk, background);
    },
  });
}
