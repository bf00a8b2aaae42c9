/**
 * The data that flows between stages: chunks of many images with their labels,
 * and data sets that stream a training and a test split chunk by chunk, as
 * often as a consumer asks, without holding either split in memory.
 *
 * @module
 */

/** Pixel storage: raw bytes after decode, float32 after normalize. */
export type Pixels = Uint8Array | Float32Array;

/** The name of a pixel storage type, as cache entries record it. */
export type PixelType = "uint8" | "float32";

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

/** The two splits every data set has; statistics are fitted on `train` only. */
export const SPLITS = ["train", "test"] as const;

/** One of {@linkcode SPLITS}. */
export type Split = typeof SPLITS[number];

/** What is known about a data set before any pixel streams. */
export interface DataMeta {
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** Number of classes: one more than the largest training label. */
  classes: number;
  /** Images per split. */
  counts: Record<Split, number>;
  /** How the pixels are stored. */
  pixels: PixelType;
}

/**
 * A data set: its meta now, its chunks when a split is opened. Every `open`
 * starts a new pass, so a consumer may stream a split as often as it needs
 * (training streams the training split once per epoch).
 */
export interface DataSet<P extends Pixels = Pixels, M extends DataMeta = DataMeta> {
  /** Sizes, class count, pixel type and whatever the producing stage records. */
  readonly meta: M;
  /** Streams one split in order, in chunks of at most a few thousand images. */
  open(split: Split): ReadableStream<Chunk<P>>;
}

/** Images per chunk that sources emit: about 3 MB of float32 MNIST, small enough to stay bounded. */
export const CHUNK_IMAGES = 1024;

/** Number of images in a chunk. */
export function countOf(chunk: Chunk): number {
  return chunk.labels.length;
}

/** The pixel type name of an array. */
export function pixelTypeOf(pixels: Pixels): PixelType {
  return pixels instanceof Float32Array ? "float32" : "uint8";
}

/** Bytes one pixel of a type takes. */
export function bytesPerPixel(type: PixelType): number {
  return type === "float32" ? 4 : 1;
}

/**
 * Streams an in-memory chunk in blocks of at most `size` images (views, not copies).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chunksOf } from "./chunk.ts";
 * const data = { images: new Uint8Array(6), labels: new Uint8Array(3), rows: 1, cols: 2 };
 * const blocks = await Array.fromAsync(chunksOf(data, 2));
 * assert.deepEqual(blocks.map((b) => b.labels.length), [2, 1]);
 * ```
 */
export function chunksOf<P extends Pixels>(
  data: Chunk<P>,
  size = CHUNK_IMAGES,
): ReadableStream<Chunk<P>> {
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

/** A data set over two in-memory chunks (tests, and predict's single files). */
export function memoryDataSet<P extends Pixels, M extends DataMeta>(
  meta: M,
  splits: Record<Split, Chunk<P>>,
  size = CHUNK_IMAGES,
): DataSet<P, M> {
  return { meta, open: (split) => chunksOf(splits[split], size) };
}

/** Options of {@linkcode collect}. */
export interface CollectOptions {
  /** Hold the images in a `SharedArrayBuffer`, for workers to read in place. @default {false} */
  shared?: boolean;
}

/**
 * Concatenates a stream of chunks into one chunk of `count` images, allocating
 * once; throws when the stream holds another number of images.
 */
export async function collect<P extends Pixels>(
  stream: ReadableStream<Chunk<P>>,
  count: number,
  meta: Pick<DataMeta, "rows" | "cols" | "pixels">,
  options: CollectOptions = {},
): Promise<Chunk<P>> {
  const width = meta.rows * meta.cols;
  const bytes = count * width * bytesPerPixel(meta.pixels);
  const buffer = options.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
  const images =
    (meta.pixels === "float32" ? new Float32Array(buffer) : new Uint8Array(buffer)) as P;
  const labels = new Uint8Array(count);
  let filled = 0;
  for await (const chunk of stream) {
    const n = countOf(chunk);
    if (filled + n > count) {
      throw new RangeError(`expected ${count} images from the stream, got more`);
    }
    images.set(chunk.images, filled * width);
    labels.set(chunk.labels, filled);
    filled += n;
  }
  if (filled !== count) {
    throw new RangeError(`expected ${count} images from the stream, got ${filled}`);
  }
  return { images, labels, rows: meta.rows, cols: meta.cols };
}

/** Reads one whole split of a data set into memory. */
export function collectSplit<P extends Pixels>(
  data: DataSet<P>,
  split: Split,
  options: CollectOptions = {},
): Promise<Chunk<P>> {
  return collect(data.open(split), data.meta.counts[split], data.meta, options);
}

const CHUNK_HEADER = 16;
const align8 = (n: number) => (n + 7) & ~7;

/**
 * Serialises a chunk for a cache frame: `u32 n | u32 rows | u32 cols | u32 type`
 * (0 uint8, 1 float32), the labels padded to 8 bytes, then the pixels.
 */
export function encodeChunk(chunk: Chunk): Uint8Array {
  const n = countOf(chunk);
  const pixelsAt = CHUNK_HEADER + align8(n);
  const out = new Uint8Array(pixelsAt + chunk.images.byteLength);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true);
  view.setUint32(4, chunk.rows, true);
  view.setUint32(8, chunk.cols, true);
  view.setUint32(12, chunk.images instanceof Float32Array ? 1 : 0, true);
  out.set(chunk.labels, CHUNK_HEADER);
  out.set(
    new Uint8Array(chunk.images.buffer, chunk.images.byteOffset, chunk.images.byteLength),
    pixelsAt,
  );
  return out;
}

/**
 * Rebuilds a chunk from {@linkcode encodeChunk}'s bytes (views into them when
 * aligned); throws `RangeError` when the sizes disagree.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeChunk, encodeChunk } from "./chunk.ts";
 * const chunk = { images: Float32Array.of(0.5, 1), labels: Uint8Array.of(3), rows: 1, cols: 2 };
 * assert.deepEqual(decodeChunk(encodeChunk(chunk)), chunk);
 * ```
 */
export function decodeChunk(bytes: Uint8Array): Chunk {
  if (bytes.length < CHUNK_HEADER) {
    throw new RangeError(`a chunk needs a ${CHUNK_HEADER}-byte header: it has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, CHUNK_HEADER);
  const n = view.getUint32(0, true), rows = view.getUint32(4, true);
  const cols = view.getUint32(8, true), type = view.getUint32(12, true);
  if (type > 1) throw new RangeError(`a chunk's pixel type must be 0 or 1: it is ${type}`);
  const pixelsAt = CHUNK_HEADER + align8(n);
  const pixelBytes = n * rows * cols * (type === 1 ? 4 : 1);
  if (pixelsAt + pixelBytes !== bytes.length) {
    throw new RangeError(
      `a chunk of ${n} images of ${rows}×${cols} needs ${
        pixelsAt + pixelBytes
      } bytes: it has ${bytes.length}`,
    );
  }
  const labels = bytes.subarray(CHUNK_HEADER, CHUNK_HEADER + n);
  const raw = bytes.subarray(pixelsAt);
  let images: Pixels = raw;
  if (type === 1) {
    images = raw.byteOffset % 4 === 0
      ? new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4)
      : new Float32Array(raw.slice().buffer);
  }
  return { images, labels, rows, cols };
}
