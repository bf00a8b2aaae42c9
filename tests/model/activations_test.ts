import assert from "node:assert/strict";
import {
  activate,
  activateBackward,
  expOrZero,
  FLOAT32_MIN_NORMAL,
  flushDenormal,
  sigmoid,
} from "../../model/activations.ts";
import { exp64 } from "../../model/exp.ts";

Deno.test("flushDenormal() zeroes what a float32 could hold only as a denormal, and nothing else", () => {
  assert.equal(flushDenormal(1e-40), 0);
  assert.equal(flushDenormal(-1e-39), 0);
  assert.equal(flushDenormal(FLOAT32_MIN_NORMAL), FLOAT32_MIN_NORMAL);
  assert.equal(flushDenormal(-2e-38), -2e-38);
  assert.equal(flushDenormal(0.5), 0.5);
});

Deno.test("expOrZero() is Math.exp down to float32's normal range, then 0", () => {
  assert.equal(expOrZero(-87), Math.exp(-87));
  assert.equal(expOrZero(1.5), Math.exp(1.5));
  assert.equal(expOrZero(-88), 0);
  assert.equal(expOrZero(-5000), 0);
});

Deno.test("sigmoid() saturates to exactly 0 and 1 far out, with no denormal in float32", () => {
  assert.equal(sigmoid(0), 0.5);
  assert.equal(sigmoid(800), 1);
  assert.equal(sigmoid(-800), 0);
  assert.equal(sigmoid(-80), exp64(-80) / (1 + exp64(-80)));
  const z = Float32Array.of(-1000, -87.5, -50, 0, 50, 1000);
  const a = new Float32Array(z.length);
  activate("sigmoid", z, a, z.length);
  for (const v of a) assert.ok(v === 0 || Math.abs(v) >= FLOAT32_MIN_NORMAL, `denormal ${v}`);
  // The derivative of a saturated unit is 0, not a denormal.
  const grad = Float32Array.of(1e-10, 1e-10, 1e-10, 1, 1e-10, 1e-10);
  activateBackward("sigmoid", z, a, grad, z.length);
  for (const v of grad) assert.ok(v === 0 || Math.abs(v) >= FLOAT32_MIN_NORMAL, `denormal ${v}`);
  assert.equal(grad[3], 0.25);
});
