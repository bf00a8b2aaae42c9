import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { PNG } from "pngjs";
import { digitDataUri, digitPng, toGrey } from "../../report/digits.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Width, height, bit depth and colour type from a PNG's IHDR chunk. */
function header(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(new TextDecoder().decode(bytes.subarray(12, 16)), "IHDR");
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    depth: bytes[24],
    colorType: bytes[25],
  };
}

Deno.test("toGrey() maps an image's own minimum to 0 and maximum to 255, rounding in between", () => {
  assert.deepEqual(Array.from(toGrey([0, 0.5, 1])), [0, 128, 255]);
  assert.deepEqual(Array.from(toGrey([-2, -1, 0, 2])), [0, 64, 128, 255]);
  // The same digit, raw 0..255 or standardized, gives the same grey.
  const raw = [0, 51, 102, 255];
  const standardized = raw.map((v) => (v - 100) / 80);
  assert.deepEqual(toGrey(Float32Array.from(standardized)), toGrey(raw));
});

Deno.test("toGrey() of a flat image is all 0, and of nothing is empty", () => {
  assert.deepEqual(Array.from(toGrey([0.3, 0.3, 0.3])), [0, 0, 0]);
  assert.deepEqual(Array.from(toGrey([])), []);
});

Deno.test("digitPng() makes an 8-bit greyscale PNG of cols × rows pixels", () => {
  const rows = 3, cols = 5;
  const image = Float32Array.from({ length: rows * cols }, (_, i) => i);
  const bytes = digitPng(image, rows, cols);
  assert.deepEqual(Array.from(bytes.subarray(0, 8)), PNG_SIGNATURE);
  assert.deepEqual(header(bytes), { width: 5, height: 3, depth: 8, colorType: 0 });
  const png = PNG.sync.read(Buffer.from(bytes));
  // Ink is dark: the largest value is black, the smallest white, row by row.
  const grey = Array.from({ length: rows * cols }, (_, i) => png.data[4 * i]);
  assert.deepEqual(grey, Array.from(toGrey(image), (v) => 255 - v));
  assert.equal(grey[0], 255);
  assert.equal(grey[rows * cols - 1], 0);
});

Deno.test("digitPng() refuses an image whose length is not rows·cols", () => {
  assert.throws(() => digitPng(new Float32Array(27), 5, 5), {
    name: "RangeError",
    message: "Cannot draw a digit as it must hold rows·cols = 25 pixels: it holds 27",
  });
  assert.throws(() => digitPng(new Float32Array(0), 28, 28), {
    name: "RangeError",
    message: "Cannot draw a digit as it must hold rows·cols = 784 pixels: it holds 0",
  });
});

Deno.test("digitDataUri() is a base64 PNG data URI holding exactly digitPng's bytes", () => {
  const image = Float32Array.from({ length: 28 * 28 }, (_, i) => (i % 28 === 14 ? 1 : 0));
  const uri = digitDataUri(image, 28, 28);
  const prefix = "data:image/png;base64,";
  assert.ok(uri.startsWith(prefix), uri.slice(0, 30));
  const body = uri.slice(prefix.length);
  assert.match(body, /^[A-Za-z0-9+/]+=*$/);
  const bytes = new Uint8Array(Buffer.from(body, "base64"));
  assert.deepEqual(bytes, digitPng(image, 28, 28));
  assert.deepEqual(header(bytes), { width: 28, height: 28, depth: 8, colorType: 0 });
  const png = PNG.sync.read(Buffer.from(bytes));
  assert.equal(png.data[4 * 14], 0, "the stroke is black");
  assert.equal(png.data[0], 255, "the paper is white");
});
