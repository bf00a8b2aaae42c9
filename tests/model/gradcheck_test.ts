import assert from "node:assert/strict";
import { gradientCheck, type GradientCheckOptions, verdictOf } from "../../model/gradcheck.ts";
import { initialize } from "../../model/init.ts";
import { createNetwork, type NetworkSpec, parameterCount } from "../../model/network.ts";
import { seededRandom } from "../../model/rng.ts";

function options(overrides: Partial<GradientCheckOptions> = {}): GradientCheckOptions {
  const random = seededRandom(3, "x");
  return {
    spec: { sizes: [6, 5, 3], activation: "tanh", output: "softmax" },
    x: Float64Array.from({ length: 4 * 6 }, () => random() * 2 - 1),
    labels: [0, 2, 1, 2],
    regularization: { l1: 0, l2: 0 },
    reduction: "sum",
    init: "xavier",
    random: seededRandom(3, "init"),
    ...overrides,
  };
}

Deno.test("gradientCheck() finds backprop within 1e-7 of central differences for a correct network", () => {
  const result = gradientCheck(options());
  assert.ok(result.relativeError > 0 && result.relativeError < 1e-7, String(result.relativeError));
  assert.equal(result.verdict, "ok");
  assert.equal(result.parameters, parameterCount([6, 5, 3]));
  assert.equal(result.skipped, 0);
});

Deno.test("gradientCheck() stays ok with L2, mean reduction and the textbook's sigmoid outputs", () => {
  const result = gradientCheck(options({
    spec: { sizes: [6, 4, 4, 3], activation: "sigmoid", output: "sigmoid" },
    regularization: { l1: 0, l2: 0.5 },
    reduction: "mean",
  }));
  assert.ok(result.relativeError < 1e-7, String(result.relativeError));
  assert.equal(result.parameters, parameterCount([6, 4, 4, 3]));
});

Deno.test("gradientCheck() reports a large error when the differences are too coarse to be a derivative", () => {
  const fine = gradientCheck(options()).relativeError;
  const coarse = gradientCheck(options({ epsilon: 1 }));
  assert.ok(coarse.relativeError > 1000 * fine, `${coarse.relativeError} vs ${fine}`);
  assert.notEqual(coarse.verdict, "ok");
  assert.equal(coarse.verdict, verdictOf(coarse.relativeError));
});

Deno.test("gradientCheck() skips exactly the weights within 2ε of the L1 kink, never a bias", () => {
  const epsilon = 0.02;
  const spec: NetworkSpec = { sizes: [6, 5, 3], activation: "relu", output: "softmax" };
  // The weights the check starts from: the same init and seed.
  const net = createNetwork(spec, "float64");
  initialize(net, "uniform", seededRandom(8, "init"));
  const near = net.layers.reduce(
    (n, layer) => n + layer.weights.filter((w) => Math.abs(w) < 2 * epsilon).length,
    0,
  );
  const nearBiases = net.layers.reduce(
    (n, layer) => n + layer.biases.filter((b) => Math.abs(b) < 2 * epsilon).length,
    0,
  );
  assert.ok(near > 0 && nearBiases > 0, "the fixture needs weights and biases near 0");
  const result = gradientCheck(options({
    spec,
    init: "uniform",
    random: seededRandom(8, "init"),
    regularization: { l1: 0.1, l2: 0 },
    epsilon,
  }));
  assert.equal(result.skipped, near);
  assert.equal(result.parameters, parameterCount(spec.sizes) - near);
  // Without L1 there is no kink, and nothing is skipped.
  const smooth = gradientCheck(options({ spec, init: "uniform", random: seededRandom(8, "init") }));
  assert.equal(smooth.skipped, 0);
});

Deno.test("gradientCheck() gives the same result for the same seed, and leaves its input alone", () => {
  const x = options().x.slice();
  const a = gradientCheck(options());
  const b = gradientCheck(options());
  assert.deepEqual(a, b);
  assert.deepEqual(options().x, x);
});

Deno.test("verdictOf() reads below 1e-7 as ok, below 1e-4 as a warning, and the rest as a problem", () => {
  assert.equal(verdictOf(0), "ok");
  assert.equal(verdictOf(9.99e-8), "ok");
  assert.equal(verdictOf(1e-7), "warning");
  assert.equal(verdictOf(9.99e-5), "warning");
  assert.equal(verdictOf(1e-4), "problem");
  assert.equal(verdictOf(1), "problem");
  assert.equal(verdictOf(NaN), "problem");
});
