import assert from "node:assert/strict";
import { ConfigError } from "../../engine/errors.ts";
import { collectSplit, type DataMeta, memoryDataSet } from "../../engine/chunk.ts";
import type { StageContext } from "../../engine/stage.ts";
import {
  fitNormalization,
  fitNormalizationStream,
  normalizeStage,
  NormalizeStream,
} from "../../stages/normalize.ts";
import { chunksOf } from "../../engine/chunk.ts";

const context: StageContext = { reporter: { log() {} }, timed: (work) => work() };
const chunk = (images: number[], rows = 1) => ({
  images: Uint8Array.from(images),
  labels: new Uint8Array(rows),
  rows: 1,
  cols: images.length / rows,
});

/** A uint8 data set whose images are each `cols` pixels wide, streamed one image a chunk. */
function dataSet(train: number[], test: number[], cols: number) {
  const split = (images: number[]) => ({
    images: Uint8Array.from(images),
    labels: new Uint8Array(images.length / cols),
    rows: 1,
    cols,
  });
  const meta: DataMeta = {
    rows: 1,
    cols,
    classes: 2,
    counts: { train: train.length / cols, test: test.length / cols },
    pixels: "uint8",
  };
  return memoryDataSet(meta, { train: split(train), test: split(test) }, 1);
}

Deno.test("NormalizeStream scale maps 0..255 to 0..1 and keeps labels and order", async () => {
  const input = {
    images: Uint8Array.from([0, 51, 255, 102]),
    labels: Uint8Array.from([3, 1]),
    rows: 1,
    cols: 2,
  };
  const [out] = await Array.fromAsync(
    ReadableStream.from([input]).pipeThrough(
      new NormalizeStream({ mode: "scale", mean: 0, std: 1 }),
    ),
  );
  assert.deepEqual([...out.images], [0, 0.2, 1, 0.4].map((v) => Math.fround(v)));
  assert.deepEqual([...out.labels], [3, 1]);
});

Deno.test("NormalizeStream of no chunks yields nothing", async () => {
  const out = await Array.fromAsync(
    ReadableStream.from([]).pipeThrough(new NormalizeStream({ mode: "none", mean: 0, std: 1 })),
  );
  assert.equal(out.length, 0);
});

Deno.test("fitNormalization() standardize uses the training pixels' mean and deviation", () => {
  const n = fitNormalization("standardize", Uint8Array.from([0, 2, 4, 6]));
  assert.equal(n.mean, 3);
  assert.ok(Math.abs(n.std - Math.sqrt(20 / 3)) < 1e-12);
});

Deno.test("normalize stage fits on the training set only and applies it to the test set", async () => {
  const out = await normalizeStage("standardize").build(
    [dataSet([0, 2, 4, 6], [3, 9], 2)],
    context,
  );
  assert.equal(out.meta.normalization.mean, 3);
  assert.equal(out.meta.pixels, "float32");
  const test = await collectSplit(out, "test");
  assert.ok(Math.abs(test.images[0]) < 1e-6);
  assert.ok(Math.abs(test.images[1] - 6 / Math.sqrt(20 / 3)) < 1e-6);
});

Deno.test("normalize none keeps raw 0..255 values, as the textbook", async () => {
  const out = await normalizeStage("none").build([dataSet([0, 255], [7, 9], 2)], context);
  assert.deepEqual([...(await collectSplit(out, "train")).images], [0, 255]);
  assert.deepEqual([...(await collectSplit(out, "test")).images], [7, 9]);
});

Deno.test("fitNormalizationStream() over many chunks agrees with d3 over the whole array", async () => {
  const pixels = Uint8Array.from({ length: 3001 }, (_, i) => (i * 37) % 256);
  const whole = fitNormalization("standardize", pixels);
  const streamed = await fitNormalizationStream(
    "standardize",
    chunksOf({ images: pixels, labels: new Uint8Array(3001), rows: 1, cols: 1 }, 100),
  );
  assert.ok(Math.abs(streamed.mean - whole.mean) < 1e-9);
  assert.ok(Math.abs(streamed.std - whole.std) < 1e-9);
  assert.deepEqual(await fitNormalizationStream("scale", chunksOf(chunk([1, 2]))), {
    mode: "scale",
    mean: 0,
    std: 1,
  });
});

Deno.test("fitNormalizationStream() standardize refuses constant training pixels", async () => {
  await assert.rejects(
    () => fitNormalizationStream("standardize", chunksOf(chunk([9, 9, 9]))),
    (e: unknown) => e instanceof ConfigError && e.message.includes("deviation must be above 0"),
  );
});

Deno.test("fitNormalization() standardize refuses constant training pixels", () => {
  assert.throws(
    () => fitNormalization("standardize", new Uint8Array(8)),
    (e: unknown) => e instanceof ConfigError && e.message.includes("deviation must be above 0"),
  );
});
