/**
 * Augment: shows the network a freshly distorted copy of every training image
 * each epoch, the way the MLP records on MNIST were set (Simard et al. 2003;
 * Cireşan et al. 2010). Two distortions, alone or together:
 * - **affine**: a random rotation, per-axis scale, horizontal shear and shift;
 * - **elastic** (Simard's): a field of uniform random displacements in
 *   [−1, 1], smoothed by a Gaussian of width σ and scaled by α. Smoothing a
 *   field costs about 60 µs in TypeScript, as much as a training step spends on
 *   the image, so each run smooths a seeded bank of {@linkcode FIELD_BANK}
 *   fields once and every image draws its x and y fields from it, each under
 *   one of the square's 8 symmetries and a random sign: every field is an
 *   exact smoothed field (the noise is isotropic and symmetric), and an image
 *   has 65 536² field pairs to draw from.
 *
 * Each output pixel samples the source bilinearly at its position moved by
 * both; samples outside the image read as the background. The transform of
 * an image depends only on (seed, epoch, row), so the same seed gives the same
 * bits whichever thread computes it, and every epoch sees other distortions.
 * Labels are untouched; only the training split is augmented, never the
 * validation rows or the test set.
 *
 * Nothing here is cached (the output changes every epoch); the options are
 * part of the train stage's params, hence of its cache key. The train stage
 * runs {@linkcode augmentBatch} on a worker ahead of the minibatch it trains
 * on ({@linkcode createAugmenter}), so augmenting overlaps training.
 *
 * @module
 */
import { seededRandom } from "../model/rng.ts";

/** The distortions `--augment` can ask for. */
export const AUGMENT_KINDS = ["none", "affine", "elastic", "both"] as const;

/** One of {@linkcode AUGMENT_KINDS}. */
export type AugmentKind = typeof AUGMENT_KINDS[number];

/** What `--augment` and its range flags set; every field is part of the train stage's key. */
export interface AugmentOptions {
  /** Which distortions to apply. */
  kind: AugmentKind;
  /** Largest rotation in degrees, drawn uniformly from [−rotate, rotate]. */
  rotate: number;
  /** Largest relative change of size, per axis, drawn from [1 − scale, 1 + scale]. */
  scale: number;
  /** Largest horizontal shear in degrees, drawn from [−shear, shear]. */
  shear: number;
  /** Largest shift in pixels, per axis, drawn from [−shift, shift]. */
  shift: number;
  /** Elastic displacement scale α in pixels (Simard: 34 for 28×28 digits). */
  elasticAlpha: number;
  /** Width σ of the Gaussian that smooths the elastic field, in pixels (Simard: 4). */
  elasticSigma: number;
}

/** No augmentation: the default, and what every existing preset trains with. */
export const NO_AUGMENT: AugmentOptions = {
  kind: "none",
  rotate: 0,
  scale: 0,
  shear: 0,
  shift: 0,
  elasticAlpha: 0,
  elasticSigma: 0,
};

/** Default ranges when `--augment` is given without its range flags. */
export const AUGMENT_DEFAULTS: Omit<AugmentOptions, "kind"> = {
  rotate: 10,
  scale: 0.1,
  shear: 10,
  shift: 2,
  elasticAlpha: 34,
  elasticSigma: 4,
};

/** Everything one image's transform needs besides the random numbers. */
export interface AugmentSetup {
  /** The distortions and their ranges. */
  options: AugmentOptions;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** The value of a blank pixel after normalization (what samples outside the image read). */
  background: number;
  /** The seed of the run; each image draws from (seed, epoch, row). */
  seed: number;
}

/** Whether `options` changes any image. */
export function augments(options: AugmentOptions): boolean {
  return options.kind !== "none";
}

/** The normalized Gaussian taps `g[0..r]` (one side, centre first) of width σ, r = ⌈3σ⌉. */
export function gaussianTaps(sigma: number): Float64Array {
  const radius = Math.max(0, Math.ceil(3 * sigma));
  const taps = new Float64Array(radius + 1);
  if (!(sigma > 0)) {
    taps[0] = 1;
    return taps;
  }
  let sum = 0;
  for (let k = 0; k <= radius; k++) {
    taps[k] = Math.exp(-(k * k) / (2 * sigma * sigma));
    sum += k === 0 ? taps[k] : 2 * taps[k];
  }
  for (let k = 0; k <= radius; k++) taps[k] /= sum;
  return taps;
}

/** Smoothed fields each run draws its elastic displacements from. */
export const FIELD_BANK = 4096;

/** What augmenting keeps from image to image: the field bank and buffers, so an image allocates nothing. */
export interface AugmentState {
  /** {@linkcode FIELD_BANK} smoothed unit fields of rows×cols, one after another; empty without elastic. */
  bank: Float32Array;
  /** Pixel index maps of the symmetries a field may be drawn under (8 for a square, else 4). */
  symmetries: Uint32Array[];
  /** Horizontal displacement per pixel. */
  dx: Float64Array;
  /** Vertical displacement per pixel. */
  dy: Float64Array;
}

/** The index maps of the flips (and, for a square, transposes) of a rows×cols grid. */
function symmetryMaps(rows: number, cols: number): Uint32Array[] {
  const maps: Uint32Array[] = [];
  for (let kind = 0; kind < (rows === cols ? 8 : 4); kind++) {
    const map = new Uint32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        let rr = kind & 1 ? rows - 1 - r : r, cc = kind & 2 ? cols - 1 - c : c;
        if (kind & 4) [rr, cc] = [cc, rr];
        map[r * cols + c] = rr * cols + cc;
      }
    }
    maps.push(map);
  }
  return maps;
}

/** Builds the state for `setup`: the seeded field bank when elastic distortion is on. */
export function createAugmentState(setup: AugmentSetup): AugmentState {
  const { rows, cols, options, seed } = setup;
  const n = rows * cols;
  const elastic = (options.kind === "elastic" || options.kind === "both") &&
    options.elasticAlpha !== 0;
  const bank = new Float32Array(elastic ? FIELD_BANK * n : 0);
  if (elastic) {
    const taps = gaussianTaps(options.elasticSigma);
    const field = new Float64Array(n), pass = new Float64Array(n);
    const random = seededRandom(seed, "elastic fields");
    for (let f = 0; f < FIELD_BANK; f++) {
      for (let i = 0; i < n; i++) field[i] = 2 * random() - 1;
      smooth(field, rows, cols, taps, pass);
      bank.set(field, f * n);
    }
  }
  return {
    bank,
    symmetries: symmetryMaps(rows, cols),
    dx: new Float64Array(n),
    dy: new Float64Array(n),
  };
}

/** Smooths `field` (rows×cols) in place by the separable Gaussian `taps`; outside reads as 0. */
function smooth(
  field: Float64Array,
  rows: number,
  cols: number,
  taps: Float64Array,
  pass: Float64Array,
): void {
  const radius = taps.length - 1;
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let c = 0; c < cols; c++) {
      // Only in-image neighbours contribute, so the loop bounds do the clipping, not a branch.
      const lo = Math.max(0, c - radius), hi = Math.min(cols - 1, c + radius);
      let sum = 0;
      for (let j = lo; j <= hi; j++) sum += taps[Math.abs(j - c)] * field[row + j];
      pass[row + c] = sum;
    }
  }
  for (let r = 0; r < rows; r++) {
    const lo = Math.max(0, r - radius), hi = Math.min(rows - 1, r + radius);
    for (let c = 0; c < cols; c++) {
      let sum = 0;
      for (let i = lo; i <= hi; i++) sum += taps[Math.abs(i - r)] * pass[i * cols + c];
      field[r * cols + c] = sum;
    }
  }
}

/**
 * Transforms one image, `source[from .. from + rows·cols)`, into
 * `out[to .. to + rows·cols)`, drawing its distortion from `random`. Outputs
 * are bilinear blends of source values and the background, so they stay in
 * the source's range.
 */
export function augmentImage(
  source: Float32Array,
  from: number,
  out: Float32Array,
  to: number,
  setup: AugmentSetup,
  random: () => number,
  state: AugmentState,
): void {
  const { options, rows, cols, background } = setup;
  const n = rows * cols;
  const between = (limit: number) => (2 * random() - 1) * limit;
  // The sampling map: output pixel p reads the source at centre + A·(p − centre) + t + d(p).
  let a00 = 1, a01 = 0, a10 = 0, a11 = 1, tx = 0, ty = 0;
  if (options.kind === "affine" || options.kind === "both") {
    const angle = between(options.rotate) * Math.PI / 180;
    const shear = Math.tan(between(options.shear) * Math.PI / 180);
    const sx = 1 + between(options.scale), sy = 1 + between(options.scale);
    tx = between(options.shift);
    ty = between(options.shift);
    const cos = Math.cos(angle), sin = Math.sin(angle);
    // A = R(angle) · [[1, shear], [0, 1]] · diag(sx, sy)
    a00 = cos * sx;
    a01 = (cos * shear - sin) * sy;
    a10 = sin * sx;
    a11 = (sin * shear + cos) * sy;
  }
  const { dx, dy, bank, symmetries } = state;
  const elastic = bank.length > 0;
  if (elastic) {
    for (const d of [dx, dy]) {
      const base = Math.floor(random() * FIELD_BANK) * n;
      const map = symmetries[Math.floor(random() * symmetries.length)];
      const sign = random() < 0.5 ? -1 : 1;
      for (let i = 0; i < n; i++) d[i] = sign * bank[base + map[i]];
    }
  }
  const alpha = elastic ? options.elasticAlpha : 0;
  const cx = (cols - 1) / 2, cy = (rows - 1) / 2;
  for (let r = 0; r < rows; r++) {
    const v = r - cy;
    for (let c = 0; c < cols; c++) {
      const p = r * cols + c;
      const u = c - cx;
      let x = a00 * u + a01 * v + cx + tx;
      let y = a10 * u + a11 * v + cy + ty;
      if (elastic) {
        x += alpha * dx[p];
        y += alpha * dy[p];
      }
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      let v00, v01, v10, v11;
      if (x0 >= 0 && y0 >= 0 && x0 + 1 < cols && y0 + 1 < rows) {
        const at = from + y0 * cols + x0;
        v00 = source[at];
        v01 = source[at + 1];
        v10 = source[at + cols];
        v11 = source[at + cols + 1];
      } else {
        v00 = pixelAt(source, from, rows, cols, y0, x0, background);
        v01 = pixelAt(source, from, rows, cols, y0, x0 + 1, background);
        v10 = pixelAt(source, from, rows, cols, y0 + 1, x0, background);
        v11 = pixelAt(source, from, rows, cols, y0 + 1, x0 + 1, background);
      }
      // Weights of exactly 0 skip their sample, so the identity map copies bit for bit.
      let value = (1 - fx) * (1 - fy) * v00;
      if (fx !== 0) value += fx * (1 - fy) * v01;
      if (fy !== 0) {
        value += (1 - fx) * fy * v10;
        if (fx !== 0) value += fx * fy * v11;
      }
      out[to + p] = value;
    }
  }
}

/** The source pixel (r, c) of the image at `from`, or the background outside the image. */
function pixelAt(
  source: Float32Array,
  from: number,
  rows: number,
  cols: number,
  r: number,
  c: number,
  background: number,
): number {
  return r >= 0 && r < rows && c >= 0 && c < cols ? source[from + r * cols + c] : background;
}

/** The random source of one image: a stream of its own, keyed by (seed, epoch, row). */
export function imageRandom(seed: number, epoch: number, row: number): () => number {
  return seededRandom(seed, "augment", epoch, row);
}

/**
 * Augments a batch: output row i is source row `positions[i]` distorted as
 * training row `ids[i]` is in `epoch`. `positions` and `ids` differ when the
 * source holds only the batch (streamed training).
 */
export function augmentBatch(
  source: Float32Array,
  positions: ArrayLike<number>,
  ids: ArrayLike<number>,
  out: Float32Array,
  epoch: number,
  setup: AugmentSetup,
  state: AugmentState = createAugmentState(setup),
): void {
  const width = setup.rows * setup.cols;
  const count = Math.floor(source.length / width);
  for (let i = 0; i < positions.length; i++) {
    if (!(positions[i] < count) || out.length < (i + 1) * width) {
      throw new RangeError(
        `Cannot augment row ${ids[i]} as its position must be below the ${count} images held ` +
          `and the output must hold ${positions.length} images: position ${positions[i]}, ` +
          `room for ${Math.floor(out.length / width)}`,
      );
    }
    augmentImage(
      source,
      positions[i] * width,
      out,
      i * width,
      setup,
      imageRandom(setup.seed, epoch, ids[i]),
      state,
    );
  }
}

/** Hands out augmented minibatches of a held training set, computed ahead. */
export interface Augmenter {
  /** The augmented rows `rows` (training-set indices) as they are in `epoch`, in order. */
  batch(epoch: number, rows: Uint32Array): Promise<Float32Array>;
  /** Hands a batch's buffer back for reuse once it has been trained on. */
  release(images: Float32Array): void;
  /** Stops the worker, if any; later calls fail. */
  close(): void;
}

/** Messages to the augment worker. */
export type AugmentRequest =
  | { kind: "init"; images: Float32Array; setup: AugmentSetup }
  | { kind: "batch"; id: number; epoch: number; rows: Uint32Array; out: ArrayBuffer };

/** Messages from the augment worker. */
export type AugmentReply =
  | { kind: "ready" }
  | { kind: "batch"; id: number; out: ArrayBuffer }
  | { kind: "error"; message: string };

/** How long a batch may take before the worker counts as hung. */
export const AUGMENT_TIMEOUT_MS = 60_000;

/** Computes batches on the calling thread: the twin of the worker, for small sets and tests. */
export function inlineAugmenter(images: Float32Array, setup: AugmentSetup): Augmenter {
  const state = createAugmentState(setup);
  const width = setup.rows * setup.cols;
  let closed = false;
  return {
    batch(epoch, rows) {
      if (closed) return Promise.reject(new Error("Cannot augment as the augmenter was closed"));
      const out = new Float32Array(rows.length * width);
      augmentBatch(images, rows, rows, out, epoch, setup, state);
      return Promise.resolve(out);
    },
    release() {},
    close() {
      closed = true;
    },
  };
}

/**
 * Starts a worker that augments batches of `images` (rows of the training
 * set, in a `SharedArrayBuffer` so the worker reads them in place). Batches
 * come back in the order they were asked for; asking for several before
 * awaiting them lets the worker run ahead of training. A worker that fails or
 * stays silent for {@linkcode AUGMENT_TIMEOUT_MS} fails every pending batch
 * with an error that says so.
 */
export async function createAugmenter(
  images: Float32Array,
  setup: AugmentSetup,
  timeoutMs: number = AUGMENT_TIMEOUT_MS,
): Promise<Augmenter> {
  if (!(images.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError(
      "Cannot start the augment worker as the images must live in a SharedArrayBuffer: " +
        "they are in an ArrayBuffer. Hint: use inlineAugmenter() for unshared images",
    );
  }
  const worker = new Worker(new URL("./augment_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const width = setup.rows * setup.cols;
  const pending = new Map<
    number,
    { resolve: (out: Float32Array) => void; reject: (error: Error) => void }
  >();
  const spare: ArrayBuffer[] = [];
  let failure: Error | null = null;
  let next = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The start is waited on like a batch (id −1), so a worker that cannot load fails it too.
  const ready = new Promise<void>((resolve, reject) => {
    pending.set(-1, { resolve: () => resolve(), reject });
  });
  const fail = (error: Error) => {
    failure ??= error;
    clearTimeout(timer);
    for (const { reject } of pending.values()) reject(failure);
    pending.clear();
    worker.terminate();
  };
  const watch = () => {
    clearTimeout(timer);
    if (pending.size === 0) return;
    // Starting builds the field bank, so it gets the default allowance whatever a batch gets.
    const starting = pending.has(-1);
    const limit = starting ? Math.max(timeoutMs, AUGMENT_TIMEOUT_MS) : timeoutMs;
    timer = setTimeout(() =>
      fail(
        new Error(
          `Cannot augment as the augment worker must ${starting ? "start" : "answer"} within ` +
            `${limit / 1000} s: it has not, with ${pending.size} batches pending. Hint: run ` +
            "again; if it repeats, train with --augment none",
        ),
      ), limit);
  };
  worker.onmessage = (event: MessageEvent<AugmentReply>) => {
    const reply = event.data;
    if (reply.kind === "ready") {
      pending.get(-1)?.resolve(new Float32Array(0));
      pending.delete(-1);
    } else if (reply.kind === "error") {
      fail(new Error(`Cannot augment as the augment worker failed: ${reply.message}`));
      return;
    } else {
      const waiter = pending.get(reply.id);
      pending.delete(reply.id);
      waiter?.resolve(new Float32Array(reply.out));
    }
    watch();
  };
  worker.onerror = (event) => {
    event.preventDefault();
    fail(new Error(`Cannot augment as the augment worker failed: ${event.message}`));
  };
  const init: AugmentRequest = { kind: "init", images, setup };
  worker.postMessage(init);
  watch();
  await ready;
  return {
    batch(epoch, rows) {
      if (failure) return Promise.reject(failure);
      const id = next++;
      const bytes = rows.length * width * 4;
      let out = spare.pop();
      if (!out || out.byteLength !== bytes) out = new ArrayBuffer(bytes);
      const promise = new Promise<Float32Array>((resolve, reject) =>
        pending.set(id, { resolve, reject })
      );
      // A copy: cloning a view would send the whole epoch order it views with it.
      const request: AugmentRequest = { kind: "batch", id, epoch, rows: rows.slice(), out };
      worker.postMessage(request, [out]);
      watch();
      return promise;
    },
    release(images) {
      if (images.byteOffset === 0 && images.buffer instanceof ArrayBuffer) {
        spare.push(images.buffer);
      }
    },
    close() {
      fail(new Error("Cannot augment as the augmenter was closed"));
    },
  };
}
