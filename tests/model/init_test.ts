import assert from "node:assert/strict";
import { initialize, INITS } from "../../model/init.ts";
import { createNetwork, type Network } from "../../model/network.ts";
import { seededRandom } from "../../model/rng.ts";

/** A float64 network of the given sizes, initialised with `init` from seed `seed`. */
function initialized(sizes: number[], init: (typeof INITS)[number], seed = 1): Network {
  const net = createNetwork({ sizes, activation: "relu", output: "softmax" }, "float64");
  initialize(net, init, seededRandom(seed, "init"));
  return net;
}

function moments(values: ArrayLike<number>): { mean: number; variance: number } {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let variance = 0;
  for (let i = 0; i < values.length; i++) variance += (values[i] - mean) ** 2;
  return { mean, variance: variance / (values.length - 1) };
}

Deno.test("INITS lists the textbook's uniform, Xavier and He", () => {
  assert.deepEqual(INITS, ["uniform", "xavier", "he"]);
});

Deno.test("initialize() uniform draws every weight and bias from U(−1, 1), variance 1/3", () => {
  const net = initialized([300, 200, 10], "uniform");
  for (const layer of net.layers) {
    for (const values of [layer.weights, layer.biases]) {
      for (const v of values) assert.ok(v >= -1 && v < 1, String(v));
    }
  }
  const { mean, variance } = moments(net.layers[0].weights);
  assert.ok(Math.abs(mean) < 0.005, String(mean));
  assert.ok(Math.abs(variance - 1 / 3) < 0.005, String(variance));
  // Biases are drawn too, not left at 0.
  const biases = moments(net.layers[0].biases);
  assert.ok(biases.variance > 0.25, String(biases.variance));
});

Deno.test("initialize() xavier draws weights from U(±√(6/(in+out))) and zeroes the biases", () => {
  const net = initialized([300, 200, 10], "xavier");
  for (const layer of net.layers) {
    const limit = Math.sqrt(6 / (layer.inputs + layer.outputs));
    let largest = 0;
    for (const w of layer.weights) {
      assert.ok(w >= -limit && w < limit, `${w} outside ±${limit}`);
      largest = Math.max(largest, Math.abs(w));
    }
    // The draws reach out to the limit: the range is not narrower than it should be.
    assert.ok(largest > 0.97 * limit, `${largest} of ${limit}`);
    assert.ok(layer.biases.every((b) => b === 0));
  }
  const { mean, variance } = moments(net.layers[0].weights);
  const expected = 2 / (300 + 200); // limit² / 3
  assert.ok(Math.abs(mean) < 0.001, String(mean));
  assert.ok(Math.abs(variance - expected) / expected < 0.02, String(variance));
});

Deno.test("initialize() he draws weights from N(0, √(2/in)) and zeroes the biases", () => {
  const net = initialized([300, 200, 10], "he");
  for (const layer of net.layers) {
    const { mean, variance } = moments(layer.weights);
    const expected = 2 / layer.inputs;
    const tolerance = layer.weights.length > 10000 ? 0.02 : 0.1;
    assert.ok(Math.abs(mean) < 4 * Math.sqrt(expected / layer.weights.length), String(mean));
    assert.ok(Math.abs(variance - expected) / expected < tolerance, `${variance} vs ${expected}`);
    assert.ok(layer.biases.every((b) => b === 0));
  }
  // A normal, not a uniform: some draws lie beyond two deviations.
  const sd = Math.sqrt(2 / 300);
  const far = net.layers[0].weights.filter((w) => Math.abs(w) > 2 * sd).length;
  assert.ok(Math.abs(far / net.layers[0].weights.length - 0.0455) < 0.005, String(far));
});

Deno.test("initialize() gives the same parameters for the same seed, in float32 and float64 alike", () => {
  for (const init of INITS) {
    const a = initialized([20, 7, 3], init, 4);
    const b = initialized([20, 7, 3], init, 4);
    assert.deepEqual(a.params, b.params, init);
    assert.notDeepEqual(a.params, initialized([20, 7, 3], init, 5).params, init);
    const single = createNetwork({ sizes: [20, 7, 3], activation: "relu", output: "softmax" });
    initialize(single, init, seededRandom(4, "init"));
    assert.deepEqual(single.params, Float32Array.from(a.params), init);
  }
});

Deno.test("initialize() fills every parameter, layer by layer, overwriting what was there", () => {
  const net = createNetwork({ sizes: [4, 3, 2], activation: "relu", output: "softmax" }, "float64");
  net.params.fill(7);
  initialize(net, "xavier", seededRandom(2, "init"));
  assert.ok(net.params.every((v) => v !== 7));
  // The first layer's draws come first: a network with another last layer starts the same.
  const other = initialized([4, 3, 5], "uniform", 2);
  const same = initialized([4, 3, 2], "uniform", 2);
  assert.deepEqual(other.layers[0].weights, same.layers[0].weights);
  assert.deepEqual(other.layers[0].biases, same.layers[0].biases);
});
