/**
 * The data that flows between stages: chunks of many images with their labels,
 * and whole train/test sets assembled from them.
 *
 * @module
 */
import { asFloat32, packBlobs, unpackBlobs } from "./binary.ts";
import type { Codec } from "./stage.ts";
import type { Normalization } from "../model/format.ts";

/** Pixel storage: raw bytes after decode, float32 after normalize. */
export type Pixels = Uint8Array | Float32Array;

/** A block of `labels.length` images, (n, rows·cols) row-major, and their labels. */
export interface Chunk<P extends Pixels = Pixels> {
  /** (n, rows·cols) pixels. */
  images: P;
  /** (n) class labels. */
  labels: Uint8Array;
  /** Image height, from the IDX header. */
  rows: number;
  /** Image width, from the IDX header. */
  cols: number;
}

/** A training and a test set that went through the same stages. */
export interface DataSplits<P extends Pixels = Pixels> {
  /** Training images. */
  train: Chunk<P>;
  /** Test images. */
  test: Chunk<P>;
  /** Number of classes: one more than the largest training label. */
  classes: number;
  /** How the pixels were normalized; absent on raw decoded data. */
  normalization?: Normalization;
}

/** Number of images in a chunk. */
export function countOf(chunk: Chunk): number {
  return chunk.labels.length;
}

/** Streams a chunk in blocks of at most `size` images (views, not copies). */
export function chunksOf<P extends Pixels>(data: Chunk<P>, size = 4096): ReadableStream<Chunk<P>> {
  const pixels = data.rows * data.cols;
  const total = countOf(data);
  let start = 0;
  return new ReadableStream<Chunk<P>>({
    pull(controller) {
      if (start >= total) return controller.close();
      const end = Math.min(total, start + size);
      controller.enqueue({
        images: data.images.subarray(start * pixels, end * pixels) as P,
        labels: data.labels.subarray(start, end),
        rows: data.rows,
        cols: data.cols,
      });
      start = end;
    },
  });
}

/** Concatenates a stream of float32 chunks into one chunk of `count` images. */
export async function collectFloat32(
  stream: ReadableStream<Chunk<Float32Array>>,
  count: number,
  rows: number,
  cols: number,
): Promise<Chunk<Float32Array>> {
  const pixels = rows * cols;
  const images = new Float32Array(count * pixels);
  const labels = new Uint8Array(count);
  let filled = 0;
  for await (const chunk of stream) {
    const n = countOf(chunk);
    images.set(chunk.images, filled * pixels);
    labels.set(chunk.labels, filled);
    filled += n;
  }
  if (filled !== count) {
    throw new RangeError(`expected ${count} images from the stream, got ${filled}`);
  }
  return { images, labels, rows, cols };
}

/** Streams a chunk through a chunk transform in blocks and collects the float32 result. */
export function streamThrough<P extends Pixels>(
  data: Chunk<P>,
  transform: TransformStream<Chunk<P>, Chunk<Float32Array>>,
): Promise<Chunk<Float32Array>> {
  return collectFloat32(chunksOf(data).pipeThrough(transform), countOf(data), data.rows, data.cols);
}

interface SplitsMeta {
  pixels: "uint8" | "float32";
  rows: number;
  cols: number;
  classes: number;
  normalization?: Normalization;
}

/** The cache codec of {@linkcode DataSplits}. */
export const dataSplitsCodec: Codec<DataSplits> = {
  encode(value) {
    const meta: SplitsMeta = {
      pixels: value.train.images instanceof Float32Array ? "float32" : "uint8",
      rows: value.train.rows,
      cols: value.train.cols,
      classes: value.classes,
      normalization: value.normalization,
    };
    const { train, test } = value;
    return packBlobs(meta, [train.images, train.labels, test.images, test.labels]);
  },
  decode(bytes) {
    const { meta, blobs } = unpackBlobs(bytes);
    const { pixels, rows, cols, classes, normalization } = meta as SplitsMeta;
    const images = (b: Uint8Array) => pixels === "float32" ? asFloat32(b) : b;
    return {
      train: { images: images(blobs[0]), labels: blobs[1], rows, cols },
      test: { images: images(blobs[2]), labels: blobs[3], rows, cols },
      classes,
      normalization,
    };
  },
};
