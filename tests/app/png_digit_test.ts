import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { InputError } from "../../engine/errors.ts";
import { decodePng, isPng, luminanceOf, mnistDigit, readPng } from "../../app/png_digit.ts";
import { tempDir } from "../fixtures.ts";

/** Encodes a gray picture (0..255 per pixel) as an RGBA PNG; `alpha` per pixel when given. */
function pngBytes(
  gray: ArrayLike<number>,
  width: number,
  height: number,
  alpha?: ArrayLike<number>,
): Uint8Array {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[4 * i] = png.data[4 * i + 1] = png.data[4 * i + 2] = gray[i];
    png.data[4 * i + 3] = alpha ? alpha[i] : 255;
  }
  return new Uint8Array(PNG.sync.write(png));
}

/**
 * A "7" drawn with soft edges on a `width`×`height` picture: ink is 255 on a
 * 0 background (callers flip it for dark ink on paper).
 */
function seven(width: number, height: number): Uint8Array {
  const ink = new Uint8Array(width * height);
  const stroke = Math.max(1, Math.round(Math.min(width, height) / 12));
  const top = Math.round(height * 0.2), bottom = Math.round(height * 0.85);
  const left = Math.round(width * 0.3), right = Math.round(width * 0.7);
  const paint = (r: number, c: number, v: number) => {
    if (r >= 0 && r < height && c >= 0 && c < width) {
      ink[r * width + c] = Math.max(ink[r * width + c], v);
    }
  };
  for (let c = left; c <= right; c++) {
    for (let d = 0; d < stroke; d++) paint(top + d, c, 255);
    paint(top + stroke, c, 128);
  }
  for (let r = top; r <= bottom; r++) {
    const c = Math.round(right - ((r - top) / (bottom - top)) * (right - left) * 0.6);
    for (let d = 0; d < stroke; d++) paint(r, c + d, 255);
    paint(r, c + stroke, 96);
  }
  return ink;
}

const negative = (pixels: Uint8Array) => pixels.map((v) => 255 - v);

/** Bounding box and centre of mass of the nonzero pixels of a rows×cols image. */
function shapeOf(image: Float32Array, rows: number, cols: number) {
  let top = rows, bottom = -1, left = cols, right = -1, mass = 0, sx = 0, sy = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = image[r * cols + c];
      if (v <= 0) continue;
      top = Math.min(top, r);
      bottom = Math.max(bottom, r);
      left = Math.min(left, c);
      right = Math.max(right, c);
      mass += v;
      sx += v * c;
      sy += v * r;
    }
  }
  return { height: bottom - top + 1, width: right - left + 1, x: sx / mass, y: sy / mass };
}

async function digitFromPng(bytes: Uint8Array, rows = 28, cols = 28): Promise<Float32Array> {
  const dir = await tempDir();
  try {
    const path = `${dir}/digit.png`;
    await Deno.writeFile(path, bytes);
    const image = await readPng(path);
    return mnistDigit(luminanceOf(image), image.width, image.height, rows, cols);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("mnistDigit() gives the same image for dark ink on white and for its negative", async () => {
  const ink = seven(60, 80);
  const onWhite = await digitFromPng(pngBytes(negative(ink), 60, 80));
  const onBlack = await digitFromPng(pngBytes(ink, 60, 80));
  assert.deepEqual(onWhite, onBlack);
  assert.ok(onBlack.some((v) => v > 0));
});

Deno.test("mnistDigit() fits the ink box into 20×20 and centres the mass within half a pixel", async () => {
  const image = await digitFromPng(pngBytes(negative(seven(60, 80)), 60, 80));
  const shape = shapeOf(image, 28, 28);
  assert.equal(shape.height, 20);
  assert.ok(shape.width <= 20, `width ${shape.width}`);
  assert.ok(Math.abs(shape.x - 13.5) <= 0.5, `x ${shape.x}`);
  assert.ok(Math.abs(shape.y - 13.5) <= 0.5, `y ${shape.y}`);
  assert.ok(image.every((v) => v >= 0 && v <= 255));
  assert.equal(Math.max(...image), 255);
});

Deno.test("mnistDigit() reads a large non-square 300×200 PNG", async () => {
  const image = await digitFromPng(pngBytes(negative(seven(300, 200)), 300, 200));
  assert.equal(image.length, 28 * 28);
  const shape = shapeOf(image, 28, 28);
  assert.ok(Math.max(shape.width, shape.height) === 20, `box ${shape.width}×${shape.height}`);
  assert.ok(Math.abs(shape.x - 13.5) <= 0.5 && Math.abs(shape.y - 13.5) <= 0.5);
});

Deno.test("mnistDigit() scales the ink box to the model's canvas, round(rows·20/28) × round(cols·20/28)", () => {
  // A square blob must fit into round(14·20/28) = 10 rows, though 14 columns would allow more.
  const gray = new Float32Array(50 * 50).fill(255);
  for (let r = 10; r < 40; r++) for (let c = 10; c < 40; c++) gray[r * 50 + c] = 0;
  const image = mnistDigit(gray, 50, 50, 14, 20);
  const shape = shapeOf(image, 14, 20);
  assert.deepEqual([shape.height, shape.width], [10, 10]);
  assert.ok(Math.abs(shape.y - 6.5) <= 0.5 && Math.abs(shape.x - 9.5) <= 0.5);
});

Deno.test("mnistDigit() returns an all-zero image for a blank PNG", async () => {
  const white = await digitFromPng(pngBytes(new Uint8Array(40 * 30).fill(255), 40, 30));
  assert.deepEqual(white, new Float32Array(28 * 28));
  const black = await digitFromPng(pngBytes(new Uint8Array(40 * 30), 40, 30));
  assert.deepEqual(black, new Float32Array(28 * 28));
});

Deno.test("mnistDigit() ignores an off-white paper level", () => {
  const ink = seven(40, 40);
  const paper = Float32Array.from(ink, (v) => 230 - (230 * v) / 255);
  const clean = Float32Array.from(ink, (v) => 255 - v);
  const a = mnistDigit(paper, 40, 40), b = mnistDigit(clean, 40, 40);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-3, `pixel ${i}`);
});

Deno.test("luminanceOf() composites alpha over white, so ink on a transparent PNG reads as on paper", () => {
  const ink = seven(20, 20);
  const data = new Uint8Array(20 * 20 * 4);
  for (let i = 0; i < 400; i++) data[4 * i + 3] = ink[i];
  const transparent = luminanceOf({ width: 20, height: 20, channels: 4, data });
  assert.deepEqual(transparent, Float32Array.from(negative(ink)));
  const rgb = luminanceOf({ width: 1, height: 1, channels: 3, data: new Uint8Array([0, 0, 255]) });
  assert.deepEqual(rgb, new Float32Array([Math.fround(29.07)]));
  const grayAlpha = luminanceOf({
    width: 1,
    height: 1,
    channels: 2,
    data: new Uint8Array([0, 51]),
  });
  assert.deepEqual(grayAlpha, new Float32Array([204]));
});

Deno.test("decodePng() names the file and the signature of bytes that are not a PNG", () => {
  assert.throws(
    () => decodePng(new TextEncoder().encode("hello"), "notes.png"),
    {
      name: "InputError",
      message:
        'Cannot decode PNG "notes.png" as it must start with the PNG signature 89 50 4e 47: ' +
        "current value is 68 65 6c 6c. Hint: pass a PNG of one digit, or an IDX images file",
    },
  );
  assert.throws(() => decodePng(new Uint8Array(0), "empty.png"), /current value is empty\./);
});

Deno.test("decodePng() reports a damaged PNG as an InputError naming the file", () => {
  const bytes = pngBytes(seven(10, 10), 10, 10).slice(0, 40);
  assert.throws(
    () => decodePng(bytes, "cut.png"),
    (error) =>
      error instanceof InputError &&
      error.message.startsWith('Cannot decode PNG "cut.png" as it must be a valid PNG image: '),
  );
});

Deno.test("decodePng() returns RGBA pixels of any PNG colour type", () => {
  const png = new PNG({ width: 2, height: 1 });
  png.data.set([10, 10, 10, 255, 200, 200, 200, 255]);
  const gray = new Uint8Array(PNG.sync.write(png, { colorType: 0 }));
  const image = decodePng(gray, "gray.png");
  assert.equal(image.channels, 4);
  assert.deepEqual([...image.data], [10, 10, 10, 255, 200, 200, 200, 255]);
  assert.ok(isPng(gray));
  assert.ok(!isPng(Buffer.from("GIF89a")));
});

Deno.test("readPng() reports a missing file", async () => {
  const missing = `${await tempDir()}/nonexistent/digit.png`;
  await assert.rejects(() => readPng(missing), {
    name: "InputError",
    message: `Cannot read PNG "${missing}" as it does not exist`,
  });
});
