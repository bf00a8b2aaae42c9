/**
 * Digits as real images: one image of a chunk becomes a greyscale PNG (as a
 * data URI), ink dark on white as the textbook's `cmap='Greys'` drew them.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";

/**
 * Maps one image's pixels to 0..255 grey with its own min and max, so a digit
 * looks the same whatever normalization (÷255, standardize, raw) it went through.
 */
export function toGrey(image: ArrayLike<number>): Uint8Array {
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < image.length; i++) {
    if (image[i] < min) min = image[i];
    if (image[i] > max) max = image[i];
  }
  const range = max - min;
  const grey = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) {
    grey[i] = range > 0 ? Math.round((255 * (image[i] - min)) / range) : 0;
  }
  return grey;
}

/** Encodes one image, (rows·cols) ink-high pixels, as PNG bytes with dark ink on white. */
export function digitPng(image: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  if (image.length !== rows * cols) {
    throw new RangeError(
      `Cannot draw a digit as it must hold rows·cols = ${
        rows * cols
      } pixels: it holds ${image.length}`,
    );
  }
  const grey = toGrey(image);
  const png = new PNG({ width: cols, height: rows });
  for (let i = 0; i < grey.length; i++) {
    const v = 255 - grey[i];
    png.data[4 * i] = v;
    png.data[4 * i + 1] = v;
    png.data[4 * i + 2] = v;
    png.data[4 * i + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: 0 }));
}

/** A PNG `data:` URI of one image, for an `<img>` that needs no file beside the report. */
export function digitDataUri(image: ArrayLike<number>, rows: number, cols: number): string {
  return `data:image/png;base64,${Buffer.from(digitPng(image, rows, cols)).toString("base64")}`;
}

/**
 * Encodes signed values (rows·cols, e.g. one hidden unit's input weights) as
 * an RGB PNG heat map: white at 0, red for positive and blue for negative,
 * full colour at the largest |value|, so the sign of every weight shows.
 */
export function weightPng(values: ArrayLike<number>, rows: number, cols: number): Uint8Array {
  if (values.length !== rows * cols) {
    throw new RangeError(
      `Cannot draw weights as they must hold rows·cols = ${
        rows * cols
      } values: they hold ${values.length}`,
    );
  }
  let max = 0;
  for (let i = 0; i < values.length; i++) max = Math.max(max, Math.abs(values[i]));
  const png = new PNG({ width: cols, height: rows });
  for (let i = 0; i < values.length; i++) {
    const t = max > 0 ? values[i] / max : 0;
    const fade = Math.round(255 * (1 - Math.abs(t)));
    png.data[4 * i] = t >= 0 ? 255 : fade;
    png.data[4 * i + 1] = fade;
    png.data[4 * i + 2] = t <= 0 ? 255 : fade;
    png.data[4 * i + 3] = 255;
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: 2 }));
}

/** A PNG `data:` URI of {@linkcode weightPng}'s heat map. */
export function weightDataUri(values: ArrayLike<number>, rows: number, cols: number): string {
  return `data:image/png;base64,${Buffer.from(weightPng(values, rows, cols)).toString("base64")}`;
}
