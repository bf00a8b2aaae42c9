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
  const hasAlpha = channels === 2 || channels === 4;
  for (let i = 0; i < out.length; i++) {
    const p = i * channels;
    // Integer weights keep gray exact (v·1000/1000), so a picture and its negative mirror exactly.
    const value = channels >= 3
      ? (299 * data[p] + 587 * data[p + 1] + 114 * data[p + 2]) / 1000
      : data[p];
    const alpha = hasAlpha ? data[p + channels - 1] / 255 : 1;
    out[i] = alpha === 1 ? value : value * alpha + 255 * (1 - alpha);
  }
  return out;
}

/** The median of the outer ring of pixels: the paper's level, even where ink touches an edge. */
function borderMedian(gray: Float32Array, width: number, height: number): number {
  const ring: number[] = [];
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      if (r === 0 || r === height - 1 || c === 0 || c === width - 1) ring.push(gray[r * width + c]);
    }
  }
  ring.sort((a, b) => a - b);
  const mid = ring.length >> 1;
  return ring.length % 2 ? ring[mid] : (ring[mid - 1] + ring[mid]) / 2;
}

/**
 * For each of `outLength` output cells spanning `length` source pixels from
 * `start`, the source pixels it covers and the share of each (shares sum to 1).
 */
function areaWeights(start: number, length: number, outLength: number): [number, number][][] {
  const step = length / outLength;
  const cells: [number, number][][] = [];
  for (let o = 0; o < outLength; o++) {
    const from = o * step, to = (o + 1) * step;
    const cell: [number, number][] = [];
    for (let s = Math.floor(from); s < Math.min(length, Math.ceil(to)); s++) {
      const overlap = Math.min(to, s + 1) - Math.max(from, s);
      if (overlap > 0) cell.push([start + s, overlap / step]);
    }
    cells.push(cell);
  }
  return cells;
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
  const ink = new Float32Array(width * height);
  let peak = 0;
  for (let i = 0; i < ink.length; i++) {
    const v = (invert ? 255 - gray[i] : gray[i]) - background;
    ink[i] = v > 0 ? v : 0;
    if (ink[i] > peak) peak = ink[i];
  }
  if (peak < MIN_CONTRAST) return out;
  // Stretch so the strongest ink is 255 (MNIST strokes saturate), and drop faint noise.
  let top = height, bottom = -1, left = width, right = -1;
  for (let r = 0; r < height; r++) {
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      ink[i] = ink[i] < INK_FLOOR * peak ? 0 : (255 * ink[i]) / peak;
      if (ink[i] > 0) {
        if (r < top) top = r;
        if (r > bottom) bottom = r;
        if (c < left) left = c;
        if (c > right) right = c;
      }
    }
  }
  const boxH = bottom - top + 1, boxW = right - left + 1;
  const fitH = Math.round((rows * 20) / 28), fitW = Math.round((cols * 20) / 28);
  const scale = Math.min(fitH / boxH, fitW / boxW);
  const patchH = Math.max(1, Math.min(fitH, Math.round(boxH * scale)));
  const patchW = Math.max(1, Math.min(fitW, Math.round(boxW * scale)));
  const wy = areaWeights(top, boxH, patchH), wx = areaWeights(left, boxW, patchW);
  const patch = new Float32Array(patchH * patchW);
  let mass = 0, sx = 0, sy = 0;
  for (let pr = 0; pr < patchH; pr++) {
    for (let pc = 0; pc < patchW; pc++) {
      let sum = 0;
      for (const [r, fy] of wy[pr]) {
        for (const [c, fx] of wx[pc]) sum += fy * fx * ink[r * width + c];
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

/** Decodes PNG bytes with pngjs into RGBA pixels; `source` names the file in errors. */
export function decodePng(bytes: Uint8Array, source: string): DecodedImage {
  const hint = "Hint: pass a PNG of one digit, or an IDX images file";
  if (!isPng(bytes)) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    throw new InputError(
      `Cannot decode PNG "${source}" as it must start with the PNG signature 89 50 4e 47: ` +
        `current value is ${head.join(" ") || "empty"}. ${hint}`,
    );
  }
  let png: { width: number; height: number; data: Uint8Array };
  try {
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (error) {
    throw new InputError(
      `Cannot decode PNG "${source}" as it must be a valid PNG image: ${
        (error as Error).message
      }. ${hint}`,
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
