import assert from "node:assert/strict";
import { createOptimizer, learningRate } from "../../model/optimizers.ts";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} is not ${b}`);

Deno.test("sgd follows the textbook: w −= η·g + α·Δw_prev, with η decayed per epoch", () => {
  const params = Float64Array.from([1]);
  const sgd = createOptimizer({ kind: "sgd", momentum: 0.5 }, 1);
  sgd.step(params, Float64Array.from([2]), learningRate(0.1, 1, 0, "textbook"));
  close(params[0], 0.8);
  // Epoch 1: η = 0.1 / (1 · 2) = 0.05; Δw = 0.1; w = 0.8 − 0.1 − 0.5 · 0.2.
  sgd.step(params, Float64Array.from([2]), learningRate(0.1, 1, 1, "textbook"));
  close(params[0], 0.6);
});

Deno.test("learningRate() textbook divides cumulatively, inverse once", () => {
  close(learningRate(0.001, 0.00001, 2, "textbook"), 0.001 / (1 * 1.00001 * 1.00002));
  close(learningRate(0.001, 0.5, 2, "inverse"), 0.0005);
  close(learningRate(0.3, 0, 100, "textbook"), 0.3);
});

Deno.test("nesterov applies the look-ahead form of the velocity", () => {
  const params = Float64Array.from([1]);
  const nesterov = createOptimizer({ kind: "nesterov", momentum: 0.5 }, 1);
  nesterov.step(params, Float64Array.from([2]), 0.1);
  close(params[0], 1 - 1.5 * 0.2);
  // v = 0.5 · (−0.2) − 0.1 · 2 = −0.3; w += −0.5 · (−0.2) + 1.5 · (−0.3)
  nesterov.step(params, Float64Array.from([2]), 0.1);
  close(params[0], 0.7 + 0.1 - 0.45);
});

Deno.test("adam's first step moves each weight by about η against its gradient's sign", () => {
  const params = Float64Array.from([1, 1]);
  const adam = createOptimizer({ kind: "adam", momentum: 0 }, 2);
  adam.step(params, Float64Array.from([4, -0.01]), 0.1);
  assert.ok(Math.abs(params[0] - 0.9) < 1e-6);
  assert.ok(Math.abs(params[1] - 1.1) < 1e-5);
  adam.reset();
  adam.step(params, Float64Array.from([4, -0.01]), 0.1);
  assert.ok(Math.abs(params[0] - 0.8) < 1e-6);
});
