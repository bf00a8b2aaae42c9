/**
 * Fixtures the tests build for themselves: IDX bytes, a small synthetic data
 * set of learnable "digits", and a quiet console.
 *
 * @module
 */
import { type Random, seededRandom } from "../model/rng.ts";
import { type DataSet, memoryDataSet } from "../engine/chunk.ts";
import type { NormalizedMeta } from "../stages/normalize.ts";
import type { Activation } from "../model/activations.ts";
import { createNetwork, type OutputKind } from "../model/network.ts";
import { initialize } from "../model/init.ts";
import { encodeModel, type SavedModel } from "../model/format.ts";

/** IDX bytes for unsigned-byte data of the given dimensions. */
export function idxBytes(dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** Gzip-compresses bytes with the built-in CompressionStream. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = ReadableStream.from([bytes]).pipeThrough(
    new CompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A set of uint8 images and labels. */
export interface RawSet {
  /** (n, rows·cols). */
  images: Uint8Array;
  /** (n). */
  labels: Uint8Array;
  /** Height. */
  rows: number;
  /** Width. */
  cols: number;
}

/**
 * n images of `classes` learnable patterns: class c is a slanted bar through
 * column 1 + 2c, with seeded jitter and noise.
 */
export function syntheticSet(
  n: number,
  classes: number,
  rows: number,
  cols: number,
  random: Random,
): RawSet {
  const images = new Uint8Array(n * rows * cols);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    const slant = (random() - 0.5) * 0.6;
    for (let r = 1; r < rows - 1; r++) {
      const col = Math.round(1 + 2 * c + slant * (r - rows / 2));
      if (col >= 0 && col < cols) {
        images[i * rows * cols + r * cols + col] = 200 + Math.floor(random() * 55);
      }
    }
    for (let k = 0; k < 2; k++) {
      images[i * rows * cols + Math.floor(random() * rows * cols)] = Math.floor(random() * 60);
    }
  }
  return { images, labels, rows, cols };
}

/**
 * n images of four shapes that deskew cannot tell apart by position, only by
 * form: class 0 is a vertical bar, 1 two horizontal bars, 2 an X, 3 a box; each
 * at a seeded offset, with noise. The slanted bars of {@linkcode syntheticSet}
 * differ by column only, which deskew's centring erases.
 */
export function shapeSet(n: number, rows: number, cols: number, random: Random): RawSet {
  const images = new Uint8Array(n * rows * cols);
  const labels = new Uint8Array(n);
  const size = Math.min(rows, cols) - 4;
  const mid = size >> 1;
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    labels[i] = c;
    const image = images.subarray(i * rows * cols, (i + 1) * rows * cols);
    const top = 1 + Math.floor(random() * (rows - size - 1));
    const left = 1 + Math.floor(random() * (cols - size - 1));
    const ink = (r: number, k: number) => {
      image[(top + r) * cols + left + k] = 200 + Math.floor(random() * 55);
    };
    // Each shape as the (row, column) pairs it inks at step t along its side.
    const strokes = [
      (t: number) => [[t, mid]],
      (t: number) => [[0, t], [size - 1, t]],
      (t: number) => [[t, t], [t, size - 1 - t]],
      (t: number) => [[0, t], [size - 1, t], [t, 0], [t, size - 1]],
    ][c];
    for (let t = 0; t < size; t++) for (const [r, k] of strokes(t)) ink(r, k);
    for (let k = 0; k < 2; k++) {
      image[Math.floor(random() * rows * cols)] = Math.floor(random() * 60);
    }
  }
  return { images, labels, rows, cols };
}

/** Writes a four-file IDX data set into `dir`, raw or gzipped. */
export async function writeDataSet(
  dir: string,
  train: RawSet,
  test: RawSet,
  options: { gzip?: boolean } = {},
): Promise<void> {
  const write = async (name: string, bytes: Uint8Array) => {
    if (options.gzip) await Deno.writeFile(`${dir}/${name}.gz`, await gzip(bytes));
    else await Deno.writeFile(`${dir}/${name}`, bytes);
  };
  const n = (s: RawSet) => s.labels.length;
  await write(
    "train-images-idx3-ubyte",
    idxBytes([n(train), train.rows, train.cols], train.images),
  );
  await write("train-labels-idx1-ubyte", idxBytes([n(train)], train.labels));
  await write("t10k-images-idx3-ubyte", idxBytes([n(test), test.rows, test.cols], test.images));
  await write("t10k-labels-idx1-ubyte", idxBytes([n(test)], test.labels));
}

/** Pipeline flags that train a model on {@linkcode makeDataSet}'s data in a blink, and well. */
export const QUICK_TRAINING: readonly string[] = [
  "--no-deskew",
  "--epochs",
  "3",
  "--eta",
  "0.01",
  "--hidden",
  "8",
  "--batch-size",
  "16",
];

const temporaries: string[] = [];
addEventListener("unload", () => {
  for (const dir of temporaries) {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // Already gone (a test removed it): nothing to clean.
    }
  }
});

/** A fresh temp folder, removed when the test process ends. */
export async function tempDir(options?: Deno.MakeTempOptions): Promise<string> {
  const dir = await Deno.makeTempDir(options);
  temporaries.push(dir);
  return dir;
}

/**
 * A small synthetic data set (120 training and 40 test 10×10 images of 4
 * classes) in a fresh temp folder; returns the folder. `shapes` draws
 * {@linkcode shapeSet}'s shapes, which stay learnable through deskew, instead of
 * {@linkcode syntheticSet}'s bars, which do not.
 */
export async function makeDataSet(
  options: { gzip?: boolean; seed?: number; shapes?: boolean } = {},
): Promise<string> {
  const dir = await tempDir({ prefix: "mnp-data-" });
  const random = seededRandom(options.seed ?? 7, "fixture");
  const set = (n: number) =>
    options.shapes ? shapeSet(n, 10, 10, random) : syntheticSet(n, 4, 10, 10, random);
  await writeDataSet(dir, set(120), set(40), options);
  return dir;
}

/** What {@linkcode captureConsole} returns: the lines printed and the console to pass in. */
export interface CapturedConsole {
  /** Lines written to `out`. */
  out: string[];
  /** Lines written to `err`. */
  err: string[];
  /** The console to hand to `main`. */
  io: { out(line: string): void; err(line: string): void };
}

/** A console that records what a command prints. */
export function captureConsole(): CapturedConsole {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (line) => out.push(line), err: (line) => err.push(line) } };
}

/** Two synthetic sets as a float32 data set (÷255), streamed in chunks of `chunk` images. */
export function floatDataSet(
  train: RawSet,
  test: RawSet,
  classes: number,
  chunk = 7,
): DataSet<Float32Array, NormalizedMeta> {
  const toFloat = (s: RawSet) => ({ ...s, images: Float32Array.from(s.images, (v) => v / 255) });
  return memoryDataSet(
    {
      rows: train.rows,
      cols: train.cols,
      classes,
      counts: { train: train.labels.length, test: test.labels.length },
      pixels: "float32",
      normalization: { mode: "scale", mean: 0, std: 1 },
    },
    { train: toFloat(train), test: toFloat(test) },
    chunk,
  );
}

/** A seeded untrained MNIST model (28×28, 10 classes) written to a temp file. */
export async function seededModel(
  hidden: number[],
  activation: Activation,
  output: OutputKind,
  mode: "scale" | "standardize" | "none",
): Promise<{ model: SavedModel; path: string }> {
  const spec = { sizes: [784, ...hidden, 10], activation, output };
  const net = createNetwork(spec);
  initialize(net, "xavier", seededRandom(3, "export-test"));
  const model: SavedModel = {
    spec,
    params: net.params as Float32Array,
    preprocessing: {
      rows: 28,
      cols: 28,
      normalization: mode === "standardize"
        ? { mode, mean: 33.3, std: 78.6 }
        : { mode, mean: 0, std: 1 },
      deskew: false,
    },
  };
  const path = `${await tempDir()}/model.mnpm`;
  await Deno.writeFile(path, encodeModel(model));
  return { model, path };
}

/**
 * The first index where two arrays differ in any bit, or -1; with `anyNaN`, a
 * NaN matches any NaN (which NaN an operation on two NaNs gives, or the sign of
 * the one it makes, follows the order the compiler put its operands in).
 */
export function firstDifference(a: Float32Array, b: Float32Array, anyNaN = false): number {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i] && !(anyNaN && Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  }
  return x.length === y.length ? -1 : Math.min(x.length, y.length);
}
