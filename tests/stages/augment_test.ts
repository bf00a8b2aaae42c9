import assert from "node:assert/strict";
import { seededRandom } from "../../model/rng.ts";
import {
  AUGMENT_DEFAULTS,
  augmentBatch,
  type AugmentKind,
  type AugmentSetup,
  createAugmenter,
  createAugmentState,
  FIELD_BANK,
  gaussianTaps,
  inlineAugmenter,
} from "../../stages/augment.ts";
import { shapeSet } from "../fixtures.ts";

/** n 16×16 shapes as floats in [0, 1]. */
function shapes(n: number, shared = false): Float32Array {
  const set = shapeSet(n, 16, 16, seededRandom(5, "augment shapes"));
  const images = new Float32Array(
    shared ? new SharedArrayBuffer(set.images.length * 4) : new ArrayBuffer(set.images.length * 4),
  );
  images.set(Float32Array.from(set.images, (v) => v / 255));
  return images;
}

function setupOf(
  kind: AugmentKind,
  overrides: Partial<AugmentSetup["options"]> = {},
): AugmentSetup {
  return {
    options: { kind, ...AUGMENT_DEFAULTS, ...overrides },
    rows: 16,
    cols: 16,
    background: 0,
    seed: 7,
  };
}

const all = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);

function augmented(images: Float32Array, setup: AugmentSetup, epoch: number, rows: Uint32Array) {
  const out = new Float32Array(rows.length * setup.rows * setup.cols);
  augmentBatch(images, rows, rows, out, epoch, setup);
  return out;
}

Deno.test("augmenting with every range at zero copies the images bit for bit", () => {
  const images = shapes(12);
  for (const kind of ["affine", "elastic", "both"] as const) {
    const zero = { rotate: 0, scale: 0, shear: 0, shift: 0, elasticAlpha: 0, elasticSigma: 4 };
    assert.deepEqual(augmented(images, setupOf(kind, zero), 3, all(12)), images, kind);
  }
});

Deno.test("the same seed, epoch and row give the same bits; another epoch, row or seed differs", () => {
  const images = shapes(8);
  const setup = setupOf("both");
  const a = augmented(images, setup, 2, all(8));
  assert.deepEqual(augmented(images, setup, 2, all(8)), a);
  assert.notDeepEqual(augmented(images, setup, 3, all(8)), a);
  assert.notDeepEqual(augmented(images, { ...setup, seed: 8 }, 2, all(8)), a);
  // Row 5's distortion is its own: it does not depend on which batch it comes in.
  const alone = augmented(images, setup, 2, Uint32Array.of(5));
  assert.deepEqual(alone, a.subarray(5 * 256, 6 * 256));
  // The same source image as row 6 is distorted another way.
  const other = new Float32Array(256);
  augmentBatch(images, [5], [6], other, 2, setup);
  assert.notDeepEqual(other, alone);
});

Deno.test("augmented images stay within the range of their pixels and the background", () => {
  const images = shapes(20);
  for (const background of [0, -0.4]) {
    const setup = { ...setupOf("both", { rotate: 30, shift: 4, elasticAlpha: 60 }), background };
    const out = augmented(images, setup, 1, all(20));
    const lo = Math.min(background, ...images), hi = Math.max(background, ...images);
    assert.ok(out.every((v) => v >= lo - 1e-6 && v <= hi + 1e-6), `background ${background}`);
  }
});

Deno.test("augmenting roughly conserves ink, and moves it", () => {
  const images = shapes(40);
  for (const kind of ["affine", "elastic", "both"] as const) {
    const out = augmented(images, setupOf(kind, { shift: 1 }), 0, all(40));
    let before = 0, after = 0, moved = 0;
    for (let i = 0; i < images.length; i++) {
      before += images[i];
      after += out[i];
      moved += Math.abs(out[i] - images[i]);
    }
    assert.ok(Math.abs(after / before - 1) < 0.12, `${kind}: ink ${before} became ${after}`);
    assert.ok(moved / before > 0.1, `${kind}: the images barely changed (${moved / before})`);
  }
});

Deno.test("outside the image reads as the background", () => {
  const images = new Float32Array(256).fill(1);
  // A shift of up to 8 pixels uncovers background on at least one side of most images.
  const setup = {
    ...setupOf("affine", { rotate: 0, scale: 0, shear: 0, shift: 8 }),
    background: 0,
  };
  const out = augmented(images, setup, 0, Uint32Array.of(0));
  assert.ok(out.some((v) => v < 1));
  assert.ok(out.every((v) => v >= 0 && v <= 1));
});

Deno.test("the Gaussian's taps are normalized and symmetric about the centre", () => {
  const taps = gaussianTaps(4);
  assert.equal(taps.length, 13);
  const sum = taps[0] + 2 * taps.slice(1).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-12);
  assert.ok(taps.every((t, k) => k === 0 || t < taps[k - 1]));
});

Deno.test("elastic fields: a seeded bank of smoothed fields, small against α, none without elastic", () => {
  const setup = setupOf("elastic");
  const a = createAugmentState(setup), b = createAugmentState(setup);
  assert.equal(a.bank.length, FIELD_BANK * 256);
  assert.deepEqual(a.bank, b.bank);
  assert.notDeepEqual(
    createAugmentState({ ...setup, seed: 9 }).bank.subarray(0, 256),
    a.bank.subarray(0, 256),
  );
  // Uniform noise in [−1, 1] smoothed by σ = 4: a deviation near 0.58·(1/(2σ√π)) ≈ 0.04.
  let squares = 0;
  for (const v of a.bank) squares += v * v;
  const deviation = Math.sqrt(squares / a.bank.length);
  assert.ok(deviation > 0.02 && deviation < 0.06, `deviation ${deviation}`);
  assert.equal(createAugmentState(setupOf("affine")).bank.length, 0);
  assert.equal(createAugmentState(setupOf("both", { elasticAlpha: 0 })).bank.length, 0);
});

Deno.test("the augment worker gives the inline augmenter's bits, in the order asked", async () => {
  const images = shapes(30, true);
  const setup = setupOf("both");
  const worker = await createAugmenter(images, setup);
  try {
    const inline = inlineAugmenter(images, setup);
    const asks = [Uint32Array.of(3, 1, 4), Uint32Array.of(15, 9, 2, 6), Uint32Array.of(29)];
    const pending = asks.map((rows, i) => worker.batch(i, rows));
    for (const [i, rows] of asks.entries()) {
      const got = await pending[i];
      assert.deepEqual(got, await inline.batch(i, rows));
      worker.release(got);
    }
  } finally {
    worker.close();
  }
  await assert.rejects(worker.batch(0, Uint32Array.of(0)), /the augmenter was closed/);
});

Deno.test("the augment worker refuses unshared images and reports its failures", async () => {
  await assert.rejects(createAugmenter(shapes(2), setupOf("both")), /SharedArrayBuffer/);
  const worker = await createAugmenter(shapes(2, true), setupOf("both"));
  try {
    // Row 3 of 2 images fails inside the worker; the failure comes back, it does not hang.
    await assert.rejects(
      worker.batch(0, Uint32Array.of(0, 3)),
      /augment worker failed: Cannot augment row 3 as its position must be below the 2 images/,
    );
    await assert.rejects(worker.batch(0, Uint32Array.of(0)), /augment worker failed/);
  } finally {
    worker.close();
  }
});

Deno.test("an augment worker that stays silent past the timeout fails every pending batch", async () => {
  const images = shapes(2, true);
  const worker = await createAugmenter(images, setupOf("both"), 1);
  try {
    const many = Uint32Array.from({ length: 20000 }, (_, i) => i % 2);
    await assert.rejects(worker.batch(0, many), /must answer within 0.001 s/);
    await assert.rejects(worker.batch(1, Uint32Array.of(0)), /must answer within/);
  } finally {
    worker.close();
  }
});
