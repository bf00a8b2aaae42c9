import assert from "node:assert/strict";
import { initialize } from "../../model/init.ts";
import {
  createNetwork,
  createWorkspace,
  type Dropout,
  forward,
  layerViews,
  lossAndGradient,
  type NetworkSpec,
} from "../../model/network.ts";
import { seededRandom } from "../../model/rng.ts";

const spec: NetworkSpec = { sizes: [6, 9, 7, 3], activation: "tanh", output: "softmax" };
const batch = 5;

function setup() {
  const net = createNetwork(spec, "float64");
  initialize(net, "xavier", seededRandom(4, "dropout init"));
  const random = seededRandom(4, "dropout data");
  const x = Float64Array.from({ length: batch * 6 }, () => random() * 2 - 1);
  const y = new Float64Array(batch * 3);
  for (let i = 0; i < batch; i++) y[i * 3 + (i % 3)] = 1;
  const ws = createWorkspace(net, batch);
  const grad = new Float64Array(net.params.length);
  return { net, x, y, ws, grad, gradLayers: layerViews(spec.sizes, grad) };
}

/** The same mask every call: a fresh source from the same seed. */
const fixedMask = (rate: number): () => Dropout => () => ({
  rate,
  random: seededRandom(11, "mask"),
});

const none = { l1: 0, l2: 0 };

Deno.test("dropout: backprop matches central differences with a fixed mask", () => {
  const { net, x, y, ws, grad, gradLayers } = setup();
  const mask = fixedMask(0.4);
  lossAndGradient(net, x, y, batch, ws, gradLayers, none, "mean", undefined, mask());
  const analytic = grad.slice();
  // The mask drops some units: their incoming weights get no gradient from the rows that drop them.
  assert.ok(ws.mask[0].some((m) => m === 0) && ws.mask[0].some((m) => m > 1));
  const scratch = new Float64Array(net.params.length);
  const scratchLayers = layerViews(spec.sizes, scratch);
  const loss = () =>
    lossAndGradient(net, x, y, batch, ws, scratchLayers, none, "mean", undefined, mask());
  const epsilon = 1e-6;
  let difference = 0, norm = 0;
  for (let i = 0; i < net.params.length; i++) {
    const kept = net.params[i];
    net.params[i] = kept + epsilon;
    const up = loss();
    net.params[i] = kept - epsilon;
    const down = loss();
    net.params[i] = kept;
    const numeric = (up - down) / (2 * epsilon);
    difference += (numeric - analytic[i]) ** 2;
    norm += numeric ** 2 + analytic[i] ** 2;
  }
  const relative = Math.sqrt(difference) / Math.sqrt(norm);
  assert.ok(relative < 1e-7, `relative error ${relative}`);
});

Deno.test("dropout: a different mask gives a different gradient, the same mask the same bits", () => {
  const { net, x, y, ws, grad, gradLayers } = setup();
  const step = (dropout?: Dropout) => {
    lossAndGradient(net, x, y, batch, ws, gradLayers, none, "mean", undefined, dropout);
    return grad.slice();
  };
  const a = step(fixedMask(0.5)());
  assert.deepEqual(step(fixedMask(0.5)()), a);
  assert.notDeepEqual(step({ rate: 0.5, random: seededRandom(12, "mask") }), a);
  // Rate 0 is no dropout at all, bit for bit.
  assert.deepEqual(step({ rate: 0, random: seededRandom(1, "unused") }), step());
});

Deno.test("dropout: inverted, so a unit is kept at 1/(1 − rate) about 1 − rate of the time", () => {
  const { net, x, y, gradLayers } = setup();
  const big = createWorkspace(net, 2000);
  const many = new Float64Array(2000 * 6).map((_, i) => x[i % x.length]);
  const labels = new Float64Array(2000 * 3).map((_, i) => y[i % y.length]);
  lossAndGradient(net, many, labels, 2000, big, gradLayers, none, "mean", undefined, {
    rate: 0.3,
    random: seededRandom(3, "share"),
  });
  const mask = big.mask[0];
  const kept = mask.filter((m) => m !== 0);
  assert.ok(kept.every((m) => Math.abs(m - 1 / 0.7) < 1e-12));
  assert.ok(Math.abs(kept.length / mask.length - 0.7) < 0.02, `kept ${kept.length / mask.length}`);
});

Deno.test("dropout: evaluation never drops, whatever training did", () => {
  const { net, x, y, ws, gradLayers } = setup();
  const before = forward(net, x, batch, ws).slice();
  lossAndGradient(
    net,
    x,
    y,
    batch,
    ws,
    gradLayers,
    none,
    "mean",
    undefined,
    fixedMask(0.5)(),
  );
  assert.deepEqual(forward(net, x, batch, ws).slice(), before);
  assert.throws(
    () =>
      lossAndGradient(net, x, y, batch, ws, gradLayers, none, "mean", undefined, {
        rate: 1,
        random: seededRandom(1, "all"),
      }),
    /dropout rate must be in \[0, 1\): current value is 1/,
  );
});
