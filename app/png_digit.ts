/**
 * PNG digits: turns a picture of one digit (any size, dark ink on light or
 * light on dark) into an MNIST-style image: ink high on a 0 background, the
 * ink's bounding box fitted into 20×20 (for 28×28; in general
 * round(rows·20/28) × round(cols·20/28)) keeping its aspect ratio by area
 * averaging, then placed so its centre of mass lands on the image centre.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { crc32, inflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { InputError } from "../engine/errors.ts";

/** Decoded pixels, row-major, `channels` bytes per pixel. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** (height, width, channels) bytes. */
  data: Uint8Array;
}

/** The first four bytes of every PNG file: 89 50 4e 47. */
export const PNG_MAGIC: readonly number[] = [0x89, 0x50, 0x4e, 0x47];

/** Ink darker than this share of the strongest ink is noise or fringe, and is dropped. */
const INK_FLOOR = 0.1;

/** Below this contrast (of 255) between ink and background the picture counts as blank. */
const MIN_CONTRAST = 16;

/** Whether `bytes` start with the PNG magic. */
export function isPng(bytes: Uint8Array): boolean {
  return PNG_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * Converts pixels to luminance 0..255 (Rec. 601 weights), compositing any
 * alpha over white, so a transparent background reads as paper.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { luminanceOf } from "./png_digit.ts";
 * const rgba = new Uint8Array([255, 0, 0, 255, 0, 0, 0, 0]);
 * assert.deepEqual([...luminanceOf({ width: 2, height: 1, channels: 4, data: rgba })], [
 *   Math.fround(76.245),
 *   255,
 * ]);
 * ```
 */
export function luminanceOf(image: DecodedImage): Float32Array {
  const { width, height, channels, data } = image;
  const out = new Float32Array(width * height);
  // One loop per layout, no per-pixel branching on it; the arithmetic is the same in each.
  // Integer weights keep gray exact (v·1000/1000), so a picture and its negative mirror exactly.
  if (channels === 4) {
    for (let i = 0, p = 0; i < out.length; i++, p += 4) {
      const value = (299 * data[p] + 587 * data[p + 1] + 114 * data[p + 2]) / 1000;
      const a = data[p + 3];
      out[i] = a === 255 ? value : value * (a / 255) + 255 * (1 - a / 255);
    }
  } else if (channels === 3) {
    for (let i = 0, p = 0; i < out.length; i++, p += 3) {
      out[i] = (299 * data[p] + 587 * data[p + 1] + 114 * data[p + 2]) / 1000;
    }
  } else if (channels === 2) {
    for (let i = 0, p = 0; i < out.length; i++, p += 2) {
      const value = data[p], a = data[p + 1];
      out[i] = a === 255 ? value : value * (a / 255) + 255 * (1 - a / 255);
    }
  } else {
    for (let i = 0; i < out.length; i++) out[i] = data[i];
  }
  return out;
}

/**
 * Buffers {@linkcode mnistDigit} reuses from call to call: the server runs it
 * once per request, and every fresh typed array costs an allocation off the
 * heap and a finalizer for the collector.
 */
const scratch = {
  ring: new Float32Array(0),
  ink: new Float32Array(0),
  patch: new Float32Array(0),
  first: new Int32Array(0),
  pixel: new Int32Array(0),
  share: new Float64Array(0),
};

/** Pictures up to this many pixels reuse the scratch ink buffer; larger ones allocate their own. */
const SCRATCH_PIXELS = 1 << 16;

/**
 * `buffer` when it holds `n` elements, else a copy of it in a new one of at
 * least `n` (twice its size, to grow rarely).
 */
function atLeast<T extends Float32Array | Float64Array | Int32Array>(
  buffer: T,
  n: number,
  make: (n: number) => T,
): T {
  if (buffer.length >= n) return buffer;
  const grown = make(Math.max(n, 2 * buffer.length));
  grown.set(buffer as never);
  return grown;
}

/** The median of the outer ring of pixels: the paper's level, even where ink touches an edge. */
function borderMedian(gray: Float32Array, width: number, height: number): number {
  const inner = Math.max(0, height - 2);
  const size = width * Math.min(height, 2) + inner * Math.min(width, 2);
  const ring = scratch.ring = atLeast(scratch.ring, size, (n) => new Float32Array(n));
  let n = 0;
  for (let c = 0; c < width; c++) ring[n++] = gray[c];
  if (height > 1) { for (let c = 0; c < width; c++) ring[n++] = gray[(height - 1) * width + c]; }
  for (let r = 1; r <= inner; r++) {
    ring[n++] = gray[r * width];
    if (width > 1) ring[n++] = gray[r * width + width - 1];
  }
  // A typed sort is numeric and several times faster than Array#sort with a comparator.
  const sorted = ring.subarray(0, n).sort();
  const mid = n >> 1;
  return n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Where cell `o` of an {@linkcode areaWeights} call finds its source pixels
 * and their shares: `pixel[k]` and `share[k]` for `k` from `first[o]` to
 * `first[o + 1] - 1`.
 */
interface AreaWeights {
  /** Where each cell's entries begin; `outLength + 1` offsets. */
  first: Int32Array;
  /** The source pixel of each entry. */
  pixel: Int32Array;
  /** The share of each entry. */
  share: Float64Array;
}

/**
 * For each of `outLength` output cells spanning `length` source pixels from
 * `start`, the source pixels it covers and the share of each (shares sum to 1),
 * written into the scratch buffers from entry `at` (and offset slot `slot`).
 */
function areaWeights(
  start: number,
  length: number,
  outLength: number,
  slot: number,
  at: number,
): AreaWeights {
  const step = length / outLength;
  // A cell spans at most ⌈step⌉ + 1 source pixels; one more covers rounding in from and to.
  const most = at + outLength * (Math.ceil(step) + 2);
  const first = scratch.first = atLeast(
    scratch.first,
    slot + outLength + 1,
    (n) => new Int32Array(n),
  );
  const pixel = scratch.pixel = atLeast(scratch.pixel, most, (n) => new Int32Array(n));
  const share = scratch.share = atLeast(scratch.share, most, (n) => new Float64Array(n));
  let n = at;
  for (let o = 0; o < outLength; o++) {
    const from = o * step, to = (o + 1) * step;
    first[slot + o] = n;
    for (let s = Math.floor(from); s < Math.min(length, Math.ceil(to)); s++) {
      const overlap = Math.min(to, s + 1) - Math.max(from, s);
      if (overlap > 0) {
        pixel[n] = start + s;
        share[n++] = overlap / step;
      }
    }
  }
  first[slot + outLength] = n;
  return { first: first.subarray(slot), pixel, share };
}

/**
 * Makes an MNIST-style `rows`×`cols` image (0..255, ink high, background 0)
 * from luminance pixels of any size and either polarity. A picture without
 * ink gives an all-zero image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mnistDigit } from "./png_digit.ts";
 * // A black 6×3 bar on white becomes a 20-pixel-high bar, centred.
 * const gray = new Float32Array(10 * 10).fill(255);
 * for (let r = 2; r < 8; r++) for (let c = 4; c < 7; c++) gray[r * 10 + c] = 0;
 * const image = mnistDigit(gray, 10, 10);
 * assert.equal(image[14 * 28 + 14], 255);
 * assert.equal(image[3 * 28 + 14], 0);
 * assert.equal(image[4 * 28 + 14], 255);
 * ```
 */
export function mnistDigit(
  gray: Float32Array,
  width: number,
  height: number,
  rows = 28,
  cols = 28,
): Float32Array {
  const out = new Float32Array(rows * cols);
  if (width === 0 || height === 0) return out;
  const paper = borderMedian(gray, width, height);
  // A light border means dark ink on light paper: flip so ink is high, as in MNIST.
  const invert = paper > 127.5;
  const background = invert ? 255 - paper : paper;
  const size = width * height;
  const ink = size <= SCRATCH_PIXELS
    ? scratch.ink = atLeast(scratch.ink, size, (n) => new Float32Array(n))
    : new Float32Array(size);
  let peak = 0;
  for (let i = 0; i < size; i++) {
    const v = (invert ? 255 - gray[i] : gray[i]) - background;
    // The peak is the stored float32 value, as the stretch below divides by it.
    const kept = ink[i] = Math.fround(v > 0 ? v : 0);
    if (kept > peak) peak = kept;
  }
  if (peak < MIN_CONTRAST) return out;
  // Stretch so the strongest ink is 255 (MNIST strokes saturate), and drop faint noise.
  const floor = INK_FLOOR * peak;
  let top = height, bottom = -1, left = width, right = -1;
  for (let r = 0; r < height; r++) {
    let rowLeft = width, rowRight = -1;
    for (let c = 0, i = r * width; c < width; c++, i++) {
      const v = ink[i];
      if (v < floor) ink[i] = 0;
      else {
        ink[i] = (255 * v) / peak;
        if (ink[i] > 0) {
          if (rowLeft === width) rowLeft = c;
          rowRight = c;
        }
      }
    }
    if (rowRight >= 0) {
      if (top === height) top = r;
      bottom = r;
      if (rowLeft < left) left = rowLeft;
      if (rowRight > right) right = rowRight;
    }
  }
  const boxH = bottom - top + 1, boxW = right - left + 1;
  const fitH = Math.round((rows * 20) / 28), fitW = Math.round((cols * 20) / 28);
  const scale = Math.min(fitH / boxH, fitW / boxW);
  const patchH = Math.max(1, Math.min(fitH, Math.round(boxH * scale)));
  const patchW = Math.max(1, Math.min(fitW, Math.round(boxW * scale)));
  // The x weights follow the y weights in the same scratch buffers (the second call may grow
  // them, so read the buffers after it).
  areaWeights(top, boxH, patchH, 0, 0);
  const wx = areaWeights(left, boxW, patchW, patchH + 1, scratch.first[patchH]);
  const wy = { first: scratch.first, pixel: wx.pixel, share: wx.share };
  const patch = scratch.patch = atLeast(scratch.patch, patchH * patchW, (n) => new Float32Array(n));
  let mass = 0, sx = 0, sy = 0;
  for (let pr = 0; pr < patchH; pr++) {
    const yFrom = wy.first[pr], yTo = wy.first[pr + 1];
    for (let pc = 0; pc < patchW; pc++) {
      const xFrom = wx.first[pc], xTo = wx.first[pc + 1];
      let sum = 0;
      for (let y = yFrom; y < yTo; y++) {
        const fy = wy.share[y], row = wy.pixel[y] * width;
        for (let x = xFrom; x < xTo; x++) sum += fy * wx.share[x] * ink[row + wx.pixel[x]];
      }
      patch[pr * patchW + pc] = sum;
      mass += sum;
      sx += sum * pc;
      sy += sum * pr;
    }
  }
  // Whole-pixel shift, as MNIST did: the centre of mass lands within half a pixel of the centre.
  const offsetY = Math.round((rows - 1) / 2 - sy / mass);
  const offsetX = Math.round((cols - 1) / 2 - sx / mass);
  for (let pr = 0; pr < patchH; pr++) {
    const r = pr + offsetY;
    if (r < 0 || r >= rows) continue;
    for (let pc = 0; pc < patchW; pc++) {
      const c = pc + offsetX;
      if (c >= 0 && c < cols) out[r * cols + c] = patch[pr * patchW + pc];
    }
  }
  return out;
}

/** The largest picture {@linkcode decodePng} accepts: 16 megapixels (4096×4096), checked before decoding. */
export const MAX_PNG_PIXELS = 16_777_216;

/** Chunk types as big-endian 32-bit numbers, so a chunk walk compares numbers, not strings. */
const IHDR = 0x49484452, IDAT = 0x49444154, IEND = 0x49454e44;
const TRNS = 0x74524e53, GAMA = 0x67414d41;

/** The full 8-byte PNG signature. */
const PNG_SIGNATURE: readonly number[] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Deflate shrinks data at most this much (a 258-byte match in 2 bits), so IDAT bounds the image. */
const MAX_DEFLATE_RATIO = 1032;

/** The bit depths each PNG colour type allows, and its channels. */
const COLOR_TYPES: Record<number, { name: string; channels: number; depths: number[] }> = {
  0: { name: "gray", channels: 1, depths: [1, 2, 4, 8, 16] },
  2: { name: "RGB", channels: 3, depths: [8, 16] },
  3: { name: "palette", channels: 1, depths: [1, 2, 4, 8] },
  4: { name: "gray+alpha", channels: 2, depths: [8, 16] },
  6: { name: "RGBA", channels: 4, depths: [8, 16] },
};

/** The seven Adam7 interlace passes: x start, y start, x step, y step. */
export const ADAM7_PASSES: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** What a PNG's header and chunk layout declare, checked by {@linkcode readPngHeader}. */
export interface PngHeader {
  /** Width in pixels, 1 or more. */
  width: number;
  /** Height in pixels, 1 or more. */
  height: number;
  /** Bits per sample: 1, 2, 4, 8 or 16, as the colour type allows. */
  bitDepth: number;
  /** 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA. */
  colorType: number;
  /** 0 none, 1 Adam7. */
  interlace: number;
  /** Bytes of compressed image data, all IDAT chunks together. */
  idatBytes: number;
  /**
   * Bytes the image data must inflate to: (⌈width·bitsPerPixel/8⌉ + 1)·height,
   * summed over the seven passes when interlaced.
   */
  inflatedBytes: number;
}

/** Bytes of filtered scanlines (one filter byte each) for a width×height image. */
function scanlineBytes(width: number, height: number, bitsPerPixel: number): number {
  return width === 0 || height === 0 ? 0 : (Math.ceil((width * bitsPerPixel) / 8) + 1) * height;
}

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ") || "empty";

/** A chunk type for messages: its four letters, or its bytes in hex when they are not letters. */
function chunkName(type: Uint8Array): string {
  return /^[A-Za-z]{4}$/.test(String.fromCharCode(...type))
    ? `"${String.fromCharCode(...type)}"`
    : `0x${Array.from(type, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Reads and checks what a PNG declares, without decoding anything: the
 * signature, the IHDR chunk (its CRC, a size of 1 to {@linkcode MAX_PNG_PIXELS}
 * pixels, a valid bit depth for the colour type, the methods) and a chunk
 * layout that fits the file and holds IDAT data and an IEND, enough data for
 * the declared size. Throws {@linkcode InputError} naming `source` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readPngHeader } from "./png_digit.ts";
 * // A 67-byte PNG declaring 20000×20000 pixels is refused before any decoding.
 * const bomb = Uint8Array.from(atob(
 *   "iVBORw0KGgoAAAANSUhEUgAATiAAAE4gCAAAAADGGxnlAAAACklEQVR4nGNgBAAAAwACS/Xd6gAAAABJRU5ErkJggg==",
 * ), (c) => c.charCodeAt(0));
 * assert.throws(() => readPngHeader(bomb, "bomb.png"), /at most 16777216 pixels/);
 * ```
 */
export function readPngHeader(bytes: Uint8Array, source: string): PngHeader {
  const fail = (rule: string, hint: string) =>
    new InputError(`Cannot read PNG "${source}" as ${rule}. Hint: ${hint}`);
  const damaged = "the file is damaged; export the picture again";
  if (!isPng(bytes)) {
    throw new InputError(
      `Cannot decode PNG "${source}" as it must start with the PNG signature 89 50 4e 47: ` +
        `current value is ${hex(bytes.subarray(0, 4))}. ${PNG_HINT}`,
    );
  }
  if (!PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    throw fail(
      `its signature must be ${hex(Uint8Array.from(PNG_SIGNATURE))}: current value is ${
        hex(bytes.subarray(0, 8))
      }`,
      "the file went through a text-mode transfer that changed its line endings; copy it as binary",
    );
  }
  if (bytes.length < 33) {
    throw fail(
      `it must hold the 8-byte signature and a 25-byte IHDR chunk: it holds ${bytes.length} bytes`,
      "the file is truncated; export the picture again",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ihdrLength = view.getUint32(8);
  const ihdrType = bytes.subarray(12, 16);
  if (ihdrLength !== 13 || view.getUint32(12) !== IHDR) {
    throw fail(
      `its first chunk must be "IHDR" holding 13 bytes: current value is ${
        chunkName(ihdrType)
      } holding ${ihdrLength}`,
      damaged,
    );
  }
  const crc = crc32(bytes.subarray(12, 29)) >>> 0, stored = view.getUint32(29);
  if (crc !== stored) {
    const h8 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
    throw fail(`its IHDR chunk's CRC must be ${h8(crc)}: current value is ${h8(stored)}`, damaged);
  }
  const width = view.getUint32(16), height = view.getUint32(20);
  const bitDepth = bytes[24], colorType = bytes[25];
  const [compression, filter, interlace] = [bytes[26], bytes[27], bytes[28]];
  if (width === 0 || height === 0) {
    throw fail(
      `its header must declare a width and a height of at least 1: current value is ${width}×${height}`,
      damaged,
    );
  }
  if (width * height > MAX_PNG_PIXELS) {
    throw fail(
      `its header must declare at most ${MAX_PNG_PIXELS} pixels: current value is ` +
        `${width}×${height} = ${width * height}`,
      "scale the picture down; a digit needs no more than a few hundred pixels a side",
    );
  }
  const color = COLOR_TYPES[colorType];
  if (!color) {
    throw fail(
      `its color type must be one of 0, 2, 3, 4, 6: current value is ${colorType}`,
      damaged,
    );
  }
  if (!color.depths.includes(bitDepth)) {
    throw fail(
      `its bit depth must be one of ${color.depths.join(", ")} for color type ${colorType} ` +
        `(${color.name}): current value is ${bitDepth}`,
      damaged,
    );
  }
  if (compression !== 0 || filter !== 0 || interlace > 1) {
    throw fail(
      `its compression and filter methods must be 0 and its interlace method 0 or 1: ` +
        `current value is ${compression}, ${filter}, ${interlace}`,
      damaged,
    );
  }
  let idatBytes = 0, at = 33, ended = false;
  while (at < bytes.length) {
    if (at + 8 > bytes.length) break;
    const length = view.getUint32(at), type = bytes.subarray(at + 4, at + 8);
    if (at + 12 + length > bytes.length) {
      throw fail(
        `its chunk ${
          chunkName(type)
        } at byte ${at} must fit in the file with its ${length} bytes: ` +
          `the file holds ${Math.max(0, bytes.length - at - 12)} more (truncated)`,
        "the file is truncated; export the picture again",
      );
    }
    const code = view.getUint32(at + 4);
    if (code === IDAT) idatBytes += length;
    at += 12 + length;
    if (code === IEND) {
      ended = true;
      break;
    }
  }
  if (idatBytes === 0) {
    throw fail(
      `it must hold image data (IDAT chunks) before its IEND chunk: it holds none`,
      "the file is truncated or damaged; export the picture again",
    );
  }
  if (!ended) {
    throw fail(
      `it must end with an IEND chunk: it ends after ${bytes.length} bytes without one (truncated)`,
      "the file is truncated; export the picture again",
    );
  }
  const bitsPerPixel = color.channels * bitDepth;
  const inflatedBytes = interlace === 0
    ? scanlineBytes(width, height, bitsPerPixel)
    : ADAM7_PASSES.reduce(
      (sum, [x0, y0, dx, dy]) =>
        sum +
        scanlineBytes(
          Math.max(0, Math.ceil((width - x0) / dx)),
          Math.max(0, Math.ceil((height - y0) / dy)),
          bitsPerPixel,
        ),
      0,
    );
  if (idatBytes * MAX_DEFLATE_RATIO < inflatedBytes) {
    throw fail(
      `its IDAT chunks must hold at least ${Math.ceil(inflatedBytes / MAX_DEFLATE_RATIO)} bytes ` +
        `to inflate to the ${inflatedBytes} bytes a ${width}×${height} picture needs (deflate ` +
        `shrinks at most ${MAX_DEFLATE_RATIO}:1): current value is ${idatBytes}`,
      "the file is truncated, or its header damaged",
    );
  }
  return { width, height, bitDepth, colorType, interlace, idatBytes, inflatedBytes };
}

/**
 * Inflates a PNG's image data with its output capped at what the header
 * declares, checks it is exactly that long, and returns it; throws
 * {@linkcode InputError}.
 */
function inflateImageData(bytes: Uint8Array, header: PngHeader, source: string): Uint8Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let idat: Uint8Array | null = null;
  let filled = 0;
  for (let at = 33; filled < header.idatBytes;) {
    const length = view.getUint32(at);
    if (view.getUint32(at + 4) === IDAT) {
      const data = bytes.subarray(at + 8, at + 8 + length);
      // One IDAT chunk (the usual case) inflates in place; several are joined first.
      if (idat === null && length === header.idatBytes) idat = data;
      else (idat ??= new Uint8Array(header.idatBytes)).set(data, filled);
      filled += length;
    }
    at += 12 + length;
  }
  const expected = header.inflatedBytes;
  const fail = (rule: string) =>
    new InputError(
      `Cannot read PNG "${source}" as ${rule}. Hint: the file is damaged or truncated; ` +
        `export the picture again`,
    );
  let inflated: Uint8Array;
  try {
    // One output chunk a byte larger than the image: zlib ends in one pass, without a second
    // call to find the stream's end (and a bound on what one call may allocate up front).
    const chunkSize = Math.max(64, Math.min(expected + 1, 1 << 20));
    inflated = inflateSync(idat!, { maxOutputLength: expected, chunkSize });
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
      throw fail(
        `its image data must inflate to at most the ${expected} bytes a ${header.width}×` +
          `${header.height} picture needs ((width·bytesPerPixel + 1)·height): it inflates to more`,
      );
    }
    throw fail(`its image data must be a valid zlib stream: ${(error as Error).message}`);
  }
  if (inflated.length !== expected) {
    throw fail(
      `its image data must inflate to the ${expected} bytes a ${header.width}×${header.height} ` +
        `picture needs: it inflates to ${inflated.length} (truncated)`,
    );
  }
  return inflated;
}

/**
 * Decodes the common PNG without pngjs: 8 bits per sample, gray, gray+alpha,
 * RGB or RGBA, not interlaced, every IDAT and IEND chunk's CRC right, no
 * critical chunk but IHDR, IDAT and IEND, no tRNS or gAMA, nothing after
 * IEND. `inflated` is its
 * image data as {@linkcode decodePng} checked it. Returns RGBA pixels exactly
 * as pngjs would, or null for any other PNG, which pngjs then decodes or
 * refuses with its own message.
 */
export function decodeSimplePng(
  bytes: Uint8Array,
  header: PngHeader,
  inflated: Uint8Array,
): DecodedImage | null {
  const { width, height, bitDepth, colorType, interlace } = header;
  if (bitDepth !== 8 || interlace !== 0 || colorType === 3) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // readPngHeader has checked that every chunk up to IEND fits in the file.
  for (let at = 33;;) {
    const length = view.getUint32(at), code = view.getUint32(at + 4);
    if (code === IDAT || code === IEND) {
      const crc = crc32(bytes.subarray(at + 4, at + 8 + length)) >>> 0;
      if (crc !== view.getUint32(at + 8 + length)) return null;
      // pngjs refuses bytes after IEND ("unrecognised content at end of stream").
      if (code === IEND) {
        if (at + 12 + length !== bytes.length) return null;
        break;
      }
    } else if ((bytes[at + 4] & 0x20) === 0 || code === TRNS || code === GAMA) {
      // A critical chunk (PLTE, a second IHDR, an unknown one), or one that changes pixels.
      return null;
    }
    at += 12 + length;
  }
  const channels = COLOR_TYPES[colorType].channels;
  const stride = width * channels;
  const raw = inflated; // a fresh buffer from inflateSync: unfiltered in place
  for (let r = 0; r < height; r++) {
    const line = r * (stride + 1) + 1, above = line - stride - 1;
    const filter = raw[line - 1];
    if (filter === 0) continue;
    if (filter === 1) {
      for (let x = channels; x < stride; x++) raw[line + x] += raw[line + x - channels];
    } else if (filter === 2) {
      if (r > 0) { for (let x = 0; x < stride; x++) raw[line + x] += raw[above + x]; }
    } else if (filter === 3) {
      for (let x = 0; x < stride; x++) {
        const left = x >= channels ? raw[line + x - channels] : 0;
        const up = r > 0 ? raw[above + x] : 0;
        raw[line + x] += (left + up) >> 1;
      }
    } else if (filter === 4) {
      for (let x = 0; x < stride; x++) {
        const a = x >= channels ? raw[line + x - channels] : 0;
        const b = r > 0 ? raw[above + x] : 0;
        const c = x >= channels && r > 0 ? raw[above + x - channels] : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        raw[line + x] += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
    } else {
      return null; // pngjs names the unknown filter type
    }
  }
  const data = new Uint8Array(width * height * 4);
  for (let r = 0, o = 0; r < height; r++) {
    let i = r * (stride + 1) + 1;
    const end = i + stride;
    if (channels === 4) {
      data.set(raw.subarray(i, end), o);
      o += stride;
    } else {
      while (i < end) {
        const v = raw[i];
        if (channels === 3) {
          data[o] = v;
          data[o + 1] = raw[i + 1];
          data[o + 2] = raw[i + 2];
          data[o + 3] = 255;
        } else {
          data[o] = data[o + 1] = data[o + 2] = v;
          data[o + 3] = channels === 2 ? raw[i + 1] : 255;
        }
        i += channels;
        o += 4;
      }
    }
  }
  return { width, height, channels: 4, data };
}

const PNG_HINT = "Hint: pass a PNG of one digit, or an IDX images file";

/**
 * Decodes PNG bytes into RGBA pixels; `source` names the file in errors. The
 * header and the inflated size are checked first ({@linkcode readPngHeader}), so
 * a small file declaring a huge picture fails fast instead of exhausting memory.
 * The common 8-bit PNG is unfiltered here from that one inflate
 * ({@linkcode decodeSimplePng}); any other goes through pngjs.
 */
export function decodePng(bytes: Uint8Array, source: string): DecodedImage {
  const header = readPngHeader(bytes, source);
  const inflated = inflateImageData(bytes, header, source);
  const simple = decodeSimplePng(bytes, header, inflated);
  if (simple !== null) return simple;
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new InputError(
      `Cannot decode PNG "${source}" as it must be a valid PNG image: ${
        (error as Error).message
      }. ${PNG_HINT}`,
    );
  }
  // pngjs always hands back 8-bit RGBA, whatever the file's colour type and depth.
  return {
    width: png.width,
    height: png.height,
    channels: 4,
    data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
  };
}

/** Reads and decodes a PNG file. */
export async function readPng(path: string): Promise<DecodedImage> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`Cannot read PNG "${path}" as it does not exist`);
    }
    throw error;
  }
  return decodePng(bytes, path);
}
