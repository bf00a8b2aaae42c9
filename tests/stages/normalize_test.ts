import assert from "node:assert/strict";
import { ConfigError } from "../../engine/errors.ts";
import { fitNormalization, normalizeStage, NormalizeStream } from "../../stages/normalize.ts";
import type { StageContext } from "../../engine/stage.ts";

const context = { reporter: { log() {} } } as unknown as StageContext;
const chunk = (images: number[], rows = 1) => ({
  images: Uint8Array.from(images),
  labels: new Uint8Array(rows),
  rows: 1,
  cols: images.length / rows,
});

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
  const stage = normalizeStage("standardize");
  const out = await stage.run({
    train: chunk([0, 2, 4, 6], 2),
    test: chunk([3, 9], 1),
    classes: 2,
  }, context);
  assert.equal(out.normalization?.mean, 3);
  assert.ok(Math.abs(out.test.images[0]) < 1e-6);
  assert.ok(Math.abs(out.test.images[1] - 6 / Math.sqrt(20 / 3)) < 1e-6);
});

Deno.test("normalize none keeps raw 0..255 values, as the textbook", async () => {
  const out = await normalizeStage("none").run(
    { train: chunk([0, 255]), test: chunk([7, 9]), classes: 2 },
    context,
  );
  assert.deepEqual([...out.train.images], [0, 255]);
  assert.deepEqual([...out.test.images], [7, 9]);
});

Deno.test("fitNormalization() standardize refuses constant training pixels", () => {
  assert.throws(
    () => fitNormalization("standardize", new Uint8Array(8)),
    (e: unknown) => e instanceof ConfigError && e.message.includes("deviation must be above 0"),
  );
});
