import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { crc32, deflateSync } from "node:zlib";
import { PNG } from "pngjs";
import { InputError } from "../../engine/errors.ts";
import {
  ADAM7_PASSES,
  decodePng,
  decodeSimplePng,
  isPng,
  luminanceOf,
  MAX_PNG_PIXELS,
  mnistDigit,
  readPng,
  readPngHeader,
} from "../../app/png_digit.ts";
import { seededRandom } from "../../model/rng.ts";
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

Deno.test("mnistDigit() reads pictures one pixel high or wide, their ring being every pixel", () => {
  for (const [width, height] of [[3, 1], [1, 3]]) {
    const image = mnistDigit(Float32Array.from([255, 0, 255]), width, height);
    // One ink pixel fills the 20×20 box, placed with its centre on the image centre.
    assert.equal(image.reduce((sum, v) => sum + v, 0), 400 * 255, `${width}×${height}`);
    assert.equal(image[4 * 28 + 4], 255);
    assert.equal(image[3 * 28 + 4], 0);
  }
});

Deno.test("mnistDigit() gives the same image whatever it digested before (its buffers are reused)", () => {
  const small = Float32Array.from(negative(seven(30, 40)));
  const large = Float32Array.from(seven(300, 260));
  const first = mnistDigit(small, 30, 40);
  const big = mnistDigit(large, 300, 260, 56, 40);
  assert.deepEqual(mnistDigit(small, 30, 40), first);
  assert.deepEqual(mnistDigit(large, 300, 260, 56, 40), big);
  assert.deepEqual(mnistDigit(new Float32Array(4).fill(255), 2, 2), new Float32Array(28 * 28));
  assert.deepEqual(mnistDigit(small, 30, 40), first);
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
  const bytes = pngBytes(seven(10, 10), 10, 10);
  assert.throws(
    () => decodePng(bytes.slice(0, 40), "cut.png"),
    (error) =>
      error instanceof InputError &&
      error.message.startsWith('Cannot read PNG "cut.png" as it must hold image data'),
  );
  // A wrong CRC on the IDAT chunk passes the header checks and is pngjs's to find.
  const badCrc = bytes.slice();
  badCrc[bytes.length - 13] ^= 1;
  assert.throws(
    () => decodePng(badCrc, "crc.png"),
    (error) =>
      error instanceof InputError &&
      error.message.startsWith('Cannot decode PNG "crc.png" as it must be a valid PNG image: '),
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

/** One PNG chunk: length, type, data, CRC over type and data. */
function chunk(type: string, data: Uint8Array = new Uint8Array()): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

const concat = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

/** A hand-built PNG: IHDR as declared, then `chunks` (by default one IDAT of `raw`, then IEND). */
function rawPng(
  ihdr: { width: number; height: number; depth?: number; color?: number; interlace?: number },
  raw: Uint8Array = new Uint8Array(0),
  chunks?: Uint8Array[],
): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, ihdr.width);
  view.setUint32(4, ihdr.height);
  header.set([ihdr.depth ?? 8, ihdr.color ?? 0, 0, 0, ihdr.interlace ?? 0], 8);
  return concat(
    Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    ...(chunks ?? [chunk("IDAT", new Uint8Array(deflateSync(raw))), chunk("IEND")]),
  );
}

/** The 67-byte PNG of the bug report: 20000×20000 gray pixels declared, 10 bytes of zlib data. */
const BOMB = rawPng({ width: 20000, height: 20000 }, Uint8Array.from([0, 1]));

const refuses = (bytes: Uint8Array, message: string) =>
  assert.throws(() => decodePng(bytes, "x.png"), (error) => {
    assert.ok(error instanceof InputError, String(error));
    assert.equal(error.message, message);
    return true;
  });

Deno.test("decodePng() refuses a 67-byte PNG declaring 20000×20000 pixels before decoding it", async () => {
  assert.equal(BOMB.length, 67);
  assert.equal(MAX_PNG_PIXELS, 16_777_216);
  const started = performance.now();
  refuses(
    BOMB,
    'Cannot read PNG "x.png" as its header must declare at most 16777216 pixels: current value ' +
      "is 20000×20000 = 400000000. Hint: scale the picture down; a digit needs no more than a " +
      "few hundred pixels a side",
  );
  const dir = await tempDir();
  await Deno.writeFile(`${dir}/bomb.png`, BOMB);
  await assert.rejects(() => readPng(`${dir}/bomb.png`), /at most 16777216 pixels/);
  assert.ok(performance.now() - started < 1000, `took ${performance.now() - started} ms`);
});

Deno.test("readPngHeader() takes 4096×4096 = MAX_PNG_PIXELS and refuses one row more", () => {
  const raw = new Uint8Array(4097 * 4096);
  const header = readPngHeader(rawPng({ width: 4096, height: 4096 }, raw), "x.png");
  assert.deepEqual({ ...header, idatBytes: 0 }, {
    width: 4096,
    height: 4096,
    bitDepth: 8,
    colorType: 0,
    interlace: 0,
    idatBytes: 0,
    inflatedBytes: 4097 * 4096,
  });
  assert.throws(
    () => readPngHeader(rawPng({ width: 4096, height: 4097 }, raw), "x.png"),
    /current value is 4096×4097 = 16781312\./,
  );
});

Deno.test("decodePng() refuses a zero size, a bad bit depth or colour type, and other methods", () => {
  const damaged = ". Hint: the file is damaged; export the picture again";
  refuses(
    rawPng({ width: 0, height: 5 }),
    'Cannot read PNG "x.png" as its header must declare a width and a height of at least 1: ' +
      `current value is 0×5${damaged}`,
  );
  refuses(
    rawPng({ width: 2, height: 2, color: 2, depth: 4 }),
    'Cannot read PNG "x.png" as its bit depth must be one of 8, 16 for color type 2 (RGB): ' +
      `current value is 4${damaged}`,
  );
  refuses(
    rawPng({ width: 2, height: 2, color: 3, depth: 16 }),
    'Cannot read PNG "x.png" as its bit depth must be one of 1, 2, 4, 8 for color type 3 ' +
      `(palette): current value is 16${damaged}`,
  );
  refuses(
    rawPng({ width: 2, height: 2, color: 5 }),
    `Cannot read PNG "x.png" as its color type must be one of 0, 2, 3, 4, 6: current value is 5${damaged}`,
  );
  refuses(
    rawPng({ width: 2, height: 2, interlace: 2 }),
    'Cannot read PNG "x.png" as its compression and filter methods must be 0 and its interlace ' +
      `method 0 or 1: current value is 0, 0, 2${damaged}`,
  );
});

Deno.test("decodePng() checks the IHDR chunk's CRC, type and length, and the full signature", () => {
  const bytes = rawPng({ width: 2, height: 2 }, new Uint8Array(6));
  const flipped = bytes.slice();
  flipped[19] ^= 1; // width 2 → 0x0100_0002, with the old CRC
  assert.throws(
    () => decodePng(flipped, "x.png"),
    /^InputError: Cannot read PNG "x.png" as its IHDR chunk's CRC must be 0x[0-9a-f]{8}: current value is 0x[0-9a-f]{8}\. Hint: the file is damaged/,
  );
  const renamed = bytes.slice();
  renamed[12] = 0x69; // "iHDR"
  assert.throws(
    () => decodePng(renamed, "x.png"),
    /its first chunk must be "IHDR" holding 13 bytes: current value is "iHDR" holding 13/,
  );
  const unixLineEnds = concat(bytes.subarray(0, 4), bytes.subarray(5));
  refuses(
    unixLineEnds,
    'Cannot read PNG "x.png" as its signature must be 89 50 4e 47 0d 0a 1a 0a: current value is ' +
      "89 50 4e 47 0a 1a 0a 00. Hint: the file went through a text-mode transfer that changed " +
      "its line endings; copy it as binary",
  );
  assert.throws(() => decodePng(bytes.subarray(0, 20), "x.png"), /holds 20 bytes/);
});

Deno.test("decodePng() refuses files too short for what they declare: no IDAT, no IEND, cut chunks", () => {
  const truncated = ". Hint: the file is truncated; export the picture again";
  refuses(
    rawPng({ width: 2, height: 2 }, undefined, [chunk("IEND")]),
    'Cannot read PNG "x.png" as it must hold image data (IDAT chunks) before its IEND chunk: it ' +
      "holds none. Hint: the file is truncated or damaged; export the picture again",
  );
  const idat = chunk("IDAT", new Uint8Array(deflateSync(new Uint8Array(6))));
  refuses(
    rawPng({ width: 2, height: 2 }, undefined, [idat]),
    `Cannot read PNG "x.png" as it must end with an IEND chunk: it ends after ${
      33 + idat.length
    } bytes without one (truncated)${truncated}`,
  );
  refuses(
    rawPng({ width: 2, height: 2 }, undefined, [idat.subarray(0, 15)]),
    'Cannot read PNG "x.png" as its chunk "IDAT" at byte 33 must fit in the file with its ' +
      `${idat.length - 12} bytes: the file holds 3 more (truncated)${truncated}`,
  );
  // 1000×1000 gray inflates to 1001000 bytes, which 100 bytes of deflate cannot hold.
  refuses(
    rawPng({ width: 1000, height: 1000 }, undefined, [
      chunk("IDAT", new Uint8Array(100)),
      chunk("IEND"),
    ]),
    'Cannot read PNG "x.png" as its IDAT chunks must hold at least 970 bytes to inflate to the ' +
      "1001000 bytes a 1000×1000 picture needs (deflate shrinks at most 1032:1): current value " +
      "is 100. Hint: the file is truncated, or its header damaged",
  );
});

Deno.test("decodePng() caps the inflated size at what the header implies, interlaced or not", () => {
  const hint = ". Hint: the file is damaged or truncated; export the picture again";
  // 10×10 gray needs (10 + 1)·10 = 110 bytes; Adam7 needs 120 (a filter byte per pass row).
  const zeros = new Uint8Array(1_000_000);
  refuses(
    rawPng({ width: 10, height: 10 }, zeros),
    'Cannot read PNG "x.png" as its image data must inflate to at most the 110 bytes a 10×10 ' +
      `picture needs ((width·bytesPerPixel + 1)·height): it inflates to more${hint}`,
  );
  refuses(
    rawPng({ width: 10, height: 10, interlace: 1 }, zeros),
    'Cannot read PNG "x.png" as its image data must inflate to at most the 120 bytes a 10×10 ' +
      `picture needs ((width·bytesPerPixel + 1)·height): it inflates to more${hint}`,
  );
  refuses(
    rawPng({ width: 10, height: 10 }, new Uint8Array(100)),
    'Cannot read PNG "x.png" as its image data must inflate to the 110 bytes a 10×10 picture ' +
      `needs: it inflates to 100 (truncated)${hint}`,
  );
  assert.throws(
    () =>
      decodePng(
        rawPng({ width: 10, height: 10 }, undefined, [
          chunk("IDAT", new Uint8Array(200)),
          chunk("IEND"),
        ]),
        "x.png",
      ),
    /^InputError: Cannot read PNG "x.png" as its image data must be a valid zlib stream: /,
  );
});

Deno.test("decodePng() still reads interlaced and 1-bit PNGs", () => {
  // 5×3 gray, pixel (r, c) = 10·r + c, in Adam7 order: each pass's rows, each with filter byte 0.
  const width = 5, height = 3;
  const passes = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [
    1,
    0,
    2,
    2,
  ], [0, 1, 1, 2]];
  const raw: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    for (let r = y0; r < height; r += dy) {
      const row: number[] = [];
      for (let c = x0; c < width; c += dx) row.push(10 * r + c);
      if (row.length > 0) raw.push(0, ...row);
    }
  }
  const image = decodePng(rawPng({ width, height, interlace: 1 }, Uint8Array.from(raw)), "i.png");
  assert.deepEqual(
    Array.from({ length: width * height }, (_, i) => image.data[4 * i]),
    Array.from({ length: width * height }, (_, i) => 10 * Math.floor(i / width) + (i % width)),
  );
  // 10×2 at one bit per pixel: rows of ⌈10/8⌉ = 2 bytes after the filter byte.
  const bits = decodePng(
    rawPng({ width: 10, height: 2, depth: 1 }, Uint8Array.from([0, 0xff, 0xc0, 0, 0, 0])),
    "b.png",
  );
  assert.deepEqual(
    Array.from({ length: 20 }, (_, i) => bits.data[4 * i]),
    [...new Array(10).fill(255), ...new Array(10).fill(0)],
  );
});

/** Channels per pixel of each PNG colour type. */
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Random filtered image data for a width×height PNG: every scanline (of every
 * Adam7 pass when interlaced) starts with a random filter type 0..4 (or
 * `filter` for all) followed by random bytes, which is valid data whatever the
 * bytes are. Palette indices stay below 2^depth.
 */
function randomScanlines(
  seed: number,
  { width, height, depth = 8, color = 0, interlace = 0, filter }: {
    width: number;
    height: number;
    depth?: number;
    color?: number;
    interlace?: number;
    filter?: number;
  },
): Uint8Array {
  const random = seededRandom(seed, "png-scanlines", width, height, depth, color, interlace);
  const passes = interlace ? ADAM7_PASSES : [[0, 0, 1, 1] as const];
  const out: number[] = [];
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.max(0, Math.ceil((width - x0) / dx)),
      h = Math.max(0, Math.ceil((height - y0) / dy));
    if (w === 0 || h === 0) continue;
    const bytes = Math.ceil((w * CHANNELS[color] * depth) / 8);
    for (let r = 0; r < h; r++) {
      out.push(filter ?? Math.floor(random() * 5));
      for (let b = 0; b < bytes; b++) out.push(Math.floor(random() * 256));
    }
  }
  return Uint8Array.from(out);
}

/** pngjs's RGBA pixels for `bytes`: the reference the fast path must match. */
const pngjsPixels = (bytes: Uint8Array) => [...PNG.sync.read(Buffer.from(bytes)).data];

/** Runs decodeSimplePng() as decodePng() does: header read, image data inflated. */
const simple = (bytes: Uint8Array, raw: Uint8Array) =>
  decodeSimplePng(bytes, readPngHeader(bytes, "x.png"), raw.slice());

Deno.test("decodeSimplePng() gives pngjs's pixels for 8-bit gray, gray+alpha, RGB and RGBA, every filter", () => {
  const sizes = [[1, 1], [1, 7], [7, 1], [3, 5], [28, 28], [33, 17]];
  for (const color of [0, 2, 4, 6]) {
    for (const [width, height] of sizes) {
      for (const filter of [0, 1, 2, 3, 4, undefined]) {
        const raw = randomScanlines(10 * width + (filter ?? 5), { width, height, color, filter });
        const bytes = rawPng({ width, height, color }, raw);
        const image = simple(bytes, raw);
        const what = `color ${color}, ${width}×${height}, filter ${filter ?? "mixed"}`;
        assert.ok(image, what);
        assert.deepEqual([image.width, image.height, image.channels], [width, height, 4], what);
        assert.deepEqual([...image.data], pngjsPixels(bytes), what);
        assert.deepEqual([...decodePng(bytes, "x.png").data], pngjsPixels(bytes), what);
      }
    }
  }
});

Deno.test("decodeSimplePng() gives pngjs's pixels for what pngjs writes, split over IDAT chunks or not", () => {
  for (const colorType of [0, 2, 4, 6] as const) {
    const png = new PNG({ width: 40, height: 30 });
    const random = seededRandom(colorType, "pngjs-written");
    for (let i = 0; i < png.data.length; i++) png.data[i] = Math.floor(random() * 256);
    const bytes = new Uint8Array(PNG.sync.write(png, { colorType }));
    assert.deepEqual([...decodePng(bytes, "x.png").data], pngjsPixels(bytes), `type ${colorType}`);
  }
  const raw = randomScanlines(5, { width: 9, height: 6, color: 6 });
  const zlib = new Uint8Array(deflateSync(raw));
  const cut = [zlib.subarray(0, 5), zlib.subarray(5, 5), zlib.subarray(5)];
  const split = rawPng({ width: 9, height: 6, color: 6 }, undefined, [
    ...cut.map((part) => chunk("IDAT", part)),
    chunk("tEXt", new TextEncoder().encode("Comment\0ancillary chunks are skipped")),
    chunk("IEND"),
  ]);
  assert.ok(simple(split, raw));
  assert.deepEqual([...decodePng(split, "x.png").data], pngjsPixels(split));
});

Deno.test("decodePng() leaves other depths, palettes, transparency, gamma and interlacing to pngjs", () => {
  const cases: { name: string; bytes: Uint8Array; raw: Uint8Array }[] = [];
  const add = (name: string, ihdr: Parameters<typeof rawPng>[0], before: Uint8Array[] = []) => {
    const raw = randomScanlines(cases.length, ihdr);
    const idat = chunk("IDAT", new Uint8Array(deflateSync(raw)));
    cases.push({ name, raw, bytes: rawPng(ihdr, raw, [...before, idat, chunk("IEND")]) });
  };
  for (const depth of [1, 2, 4, 16]) add(`gray ${depth}-bit`, { width: 11, height: 5, depth });
  add("RGBA 16-bit", { width: 6, height: 4, depth: 16, color: 6 });
  for (const color of [0, 2, 4, 6]) {
    add(`interlaced color ${color}`, { width: 13, height: 11, color, interlace: 1 });
  }
  const palette = (n: number) => Uint8Array.from({ length: 3 * n }, (_, i) => (i * 37) % 256);
  for (const depth of [1, 2, 4, 8]) {
    add(`palette ${depth}-bit`, { width: 9, height: 4, depth, color: 3 }, [
      chunk("PLTE", palette(2 ** depth)),
      chunk("tRNS", Uint8Array.from([0, 128])),
    ]);
  }
  add("gray with a transparent level", { width: 5, height: 5 }, [
    chunk("tRNS", Uint8Array.from([0, 7])),
  ]);
  add("RGB with gamma", { width: 5, height: 5, color: 2 }, [
    chunk("gAMA", Uint8Array.from([0, 0, 0xb1, 0x8f])),
  ]);
  add("RGB with a suggested palette", { width: 5, height: 5, color: 2 }, [
    chunk("PLTE", palette(4)),
  ]);
  for (const { name, bytes, raw } of cases) {
    assert.equal(simple(bytes, raw), null, name);
    assert.deepEqual([...decodePng(bytes, "x.png").data], pngjsPixels(bytes), name);
  }
});

Deno.test("decodePng() lets pngjs refuse what the fast path does not vouch for", () => {
  const raw = randomScanlines(1, { width: 4, height: 3, color: 2 });
  const good = rawPng({ width: 4, height: 3, color: 2 }, raw);
  const pngjsRefuses = (bytes: Uint8Array, message: RegExp) => {
    assert.equal(simple(bytes, raw), null);
    assert.throws(
      () => decodePng(bytes, "x.png"),
      (error) => {
        assert.ok(error instanceof InputError, String(error));
        assert.match(
          error.message,
          /^Cannot decode PNG "x.png" as it must be a valid PNG image: /,
        );
        assert.match(error.message, message);
        return true;
      },
    );
  };
  pngjsRefuses(concat(good, Uint8Array.from([0])), /unrecognised content at end of stream/);
  const badIend = good.slice();
  badIend[badIend.length - 1] ^= 1;
  pngjsRefuses(badIend, /Crc error/);
  const unknown = rawPng({ width: 4, height: 3, color: 2 }, undefined, [
    chunk("ABCD", new Uint8Array(2)),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND"),
  ]);
  // pngjs stops at the unknown critical chunk and reports the bytes it left unread.
  pngjsRefuses(unknown, /unrecognised content at end of stream/);
  const badFilter = raw.slice();
  badFilter[13] = 5; // the second row's filter byte
  const filtered = rawPng({ width: 4, height: 3, color: 2 }, badFilter);
  assert.equal(simple(filtered, badFilter), null);
  assert.throws(() => decodePng(filtered, "x.png"), /Unrecognised filter type - 5/);
});
