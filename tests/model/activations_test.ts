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

Deno.test("exp64() stays within 1 ulp of Math.exp, and handles the edges", () => {
  const bits = new BigInt64Array(2);
  const values = new Float64Array(bits.buffer);
  let worst = 0n;
  for (let i = 0; i < 20000; i++) {
    // Up to overflow, and down to where exp64 returns 0 instead of a denormal.
    const x = Math.max(-708.3, Math.sin(i * 12.9898) * (i % 2 === 0 ? 709.78 : 20));
    values[0] = exp64(x);
    values[1] = Math.exp(x);
    const d = bits[0] - bits[1];
    if ((d < 0n ? -d : d) > worst) worst = d < 0n ? -d : d;
  }
  assert.ok(worst <= 1n, `worst difference ${worst} ulp`);
  assert.equal(exp64(0), 1);
  assert.equal(exp64(-0), 1);
  assert.equal(exp64(1e-12), 1 + 1e-12);
  assert.equal(exp64(710), Infinity);
  for (const x of [709.5, 709.78, 709.782]) {
    const ratio = exp64(x) / Math.exp(x);
    assert.ok(Math.abs(ratio - 1) <= 2 * Number.EPSILON, `exp64(${x}) = ${exp64(x)}`);
  }
  assert.equal(exp64(-709), 0);
  assert.equal(exp64(-Infinity), 0);
  assert.ok(Number.isNaN(exp64(NaN)));
});
