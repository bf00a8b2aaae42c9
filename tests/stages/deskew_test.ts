import assert from "node:assert/strict";
import { deskewImage, DeskewStream, imageMoments } from "../../stages/deskew.ts";

const ROWS = 28, COLS = 28;

/** A stroke from (top row, col top) to (bottom row, col bottom), 2 px wide. */
function bar(topCol: number, bottomCol: number, top = 4, bottom = 23): Float32Array {
  const image = new Float32Array(ROWS * COLS);
  for (let r = top; r <= bottom; r++) {
    const c = Math.round(topCol + (bottomCol - topCol) * (r - top) / (bottom - top));
    image[r * COLS + c] = 1;
    image[r * COLS + c + 1] = 1;
  }
  return image;
}

const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);

Deno.test("deskewImage() turns a slanted bar upright", () => {
  const slanted = bar(18, 8);
  assert.ok(Math.abs(imageMoments(slanted, ROWS, COLS).shear) > 0.4);
  const out = deskewImage(slanted, ROWS, COLS);
  assert.ok(Math.abs(imageMoments(out, ROWS, COLS).shear) < 0.02);
  // Each ink row's centre now sits in the same column.
  const centres: number[] = [];
  for (let r = 6; r <= 21; r++) {
    let m = 0, s = 0;
    for (let c = 0; c < COLS; c++) {
      m += out[r * COLS + c];
      s += out[r * COLS + c] * c;
    }
    centres.push(s / m);
  }
  assert.ok(Math.max(...centres) - Math.min(...centres) < 1);
});

Deno.test("deskewImage() leaves a centred upright bar in place", () => {
  const upright = bar(13, 13, 4, 23);
  // Centre of mass: column 13.5, row 13.5, the image centre.
  const out = deskewImage(upright, ROWS, COLS);
  for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - upright[i]) < 1e-6);
});

Deno.test("deskewImage() conserves ink and moves the centre of mass to the centre", () => {
  const slanted = bar(6, 14, 3, 18);
  const out = deskewImage(slanted, ROWS, COLS);
  assert.ok(Math.abs(sum(out) - sum(slanted)) / sum(slanted) < 0.02);
  const m = imageMoments(out, ROWS, COLS);
  assert.ok(Math.abs(m.x - 13.5) < 0.1 && Math.abs(m.y - 13.5) < 0.1);
});

Deno.test("deskewImage() copies an image without ink and treats background as no ink", () => {
  const blank = new Float32Array(ROWS * COLS).fill(-0.4);
  assert.deepEqual(deskewImage(blank, ROWS, COLS, -0.4), blank);
  const shifted = bar(18, 8).map((v) => v - 0.4);
  const out = deskewImage(shifted, ROWS, COLS, -0.4);
  assert.ok(Math.abs(imageMoments(out, ROWS, COLS, -0.4).shear) < 0.02);
  assert.ok(Math.min(...out) >= -0.4 - 1e-6);
});

Deno.test("DeskewStream keeps chunk order, labels and odd sizes", async () => {
  const a = bar(18, 8), b = bar(13, 13);
  const images = new Float32Array(3 * ROWS * COLS);
  images.set(a, 0);
  images.set(b, ROWS * COLS);
  images.set(a, 2 * ROWS * COLS);
  const [out] = await Array.fromAsync(
    ReadableStream.from([{ images, labels: Uint8Array.from([1, 2, 3]), rows: ROWS, cols: COLS }])
      .pipeThrough(new DeskewStream()),
  );
  assert.deepEqual([...out.labels], [1, 2, 3]);
  assert.deepEqual(out.images.subarray(0, ROWS * COLS), deskewImage(a, ROWS, COLS));
  assert.deepEqual(out.images.subarray(2 * ROWS * COLS), deskewImage(a, ROWS, COLS));
});
