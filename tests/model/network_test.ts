import assert from "node:assert/strict";
import { activate, activateBackward, ACTIVATIONS, sigmoid } from "../../model/activations.ts";
import { gradientCheck } from "../../model/gradcheck.ts";
import {
  createNetwork,
  denseBackward,
  denseForward,
  type DenseLayer,
  outputLoss,
  OUTPUTS,
  softmaxRows,
} from "../../model/network.ts";
import { seededRandom } from "../../model/rng.ts";

const close = (actual: ArrayLike<number>, expected: number[], tolerance = 1e-12) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance,
      `index ${i}: ${actual[i]} is not ${expected[i]}`,
    );
  }
};

const layer = (): DenseLayer => ({
  inputs: 2,
  outputs: 2,
  weights: Float64Array.from([1, 2, 3, 4]),
  biases: Float64Array.from([0.5, -1]),
});

Deno.test("denseForward() computes x·W + b by hand, skipping zero inputs", () => {
  const z = new Float64Array(4);
  denseForward(Float64Array.from([1, -1, 0, 2]), layer(), z, 2);
  close(z, [-1.5, -3, 6.5, 7]);
});

Deno.test("denseBackward() writes xᵀ·dz and Σdz over what was there and returns dz·Wᵀ", () => {
  const grad: DenseLayer = {
    ...layer(),
    weights: Float64Array.of(9, 9, 9, 9),
    biases: Float64Array.of(9, 9),
  };
  const dx = new Float64Array(2);
  denseBackward(Float64Array.from([1, -1]), Float64Array.from([1, 2]), layer(), grad, dx, 1);
  close(grad.weights, [1, 2, -1, -2]);
  close(grad.biases, [1, 2]);
  close(dx, [5, 11]);
});

Deno.test("softmaxRows() normalises each row and outputLoss() gives cross-entropy and p − y", () => {
  const z = Float64Array.from([0, Math.log(3)]);
  const p = new Float64Array(2);
  softmaxRows(z, p, 1, 2);
  close(p, [0.25, 0.75]);
  const dz = new Float64Array(2);
  const loss = outputLoss("softmax", z, Float64Array.from([0, 1]), p, dz, 1, 2, 1);
  close([loss], [-Math.log(0.75)]);
  close(dz, [0.25, -0.25]);
});

Deno.test("outputLoss() sigmoid gives the per-unit logistic cost and stays finite when saturated", () => {
  const a = new Float64Array(2), dz = new Float64Array(2);
  const loss = outputLoss(
    "sigmoid",
    Float64Array.from([0, 0]),
    Float64Array.from([1, 0]),
    a,
    dz,
    1,
    2,
    0.5,
  );
  close([loss], [2 * Math.log(2)]);
  close(dz, [-0.25, 0.25]);
  const saturated = outputLoss(
    "sigmoid",
    Float64Array.from([-800, 800]),
    Float64Array.from([1, 0]),
    a,
    dz,
    1,
    2,
    1,
  );
  close([saturated], [1600]);
});

Deno.test("activations and their derivatives match hand values", () => {
  const z = Float64Array.from([-1, 0.5]);
  const a = new Float64Array(2);
  const grad = new Float64Array(2);
  const expected = {
    sigmoid: [sigmoid(-1), sigmoid(0.5)],
    tanh: [Math.tanh(-1), Math.tanh(0.5)],
    relu: [0, 0.5],
    swish: [-sigmoid(-1), 0.5 * sigmoid(0.5)],
  };
  const slope = {
    sigmoid: (v: number) => sigmoid(v) * (1 - sigmoid(v)),
    tanh: (v: number) => 1 - Math.tanh(v) ** 2,
    relu: (v: number) => (v > 0 ? 1 : 0),
    swish: (v: number) => sigmoid(v) + v * sigmoid(v) * (1 - sigmoid(v)),
  };
  for (const kind of ACTIVATIONS) {
    activate(kind, z, a, 2);
    close(a, expected[kind]);
    grad.fill(2);
    activateBackward(kind, z, a, grad, 2);
    close(grad, [2 * slope[kind](-1), 2 * slope[kind](0.5)], 1e-12);
  }
});

Deno.test("createNetwork() rejects fewer than two layers", () => {
  assert.throws(
    () => createNetwork({ sizes: [4], activation: "relu", output: "softmax" }),
    RangeError,
  );
});

for (const output of OUTPUTS) {
  for (const activation of ACTIVATIONS) {
    Deno.test(`backprop matches central differences for ${activation} hidden layers and ${output} output, with and without L1/L2`, () => {
      const random = seededRandom(5, activation, output);
      const x = Float64Array.from({ length: 3 * 5 }, () => random() * 2 - 1);
      for (const [l1, l2] of [[0, 0], [0.3, 0], [0, 0.3], [0.2, 0.1]]) {
        for (const reduction of ["sum", "mean"] as const) {
          const result = gradientCheck({
            spec: { sizes: [5, 4, 3, 3], activation, output },
            x,
            labels: [0, 2, 1],
            regularization: { l1, l2 },
            reduction,
            init: "uniform",
            random: seededRandom(11, activation, output, l1, l2),
          });
          assert.ok(
            result.relativeError < 1e-7,
            `l1=${l1} l2=${l2} ${reduction}: relative error ${result.relativeError}`,
          );
        }
      }
    });
  }
}
