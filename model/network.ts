/**
 * A fully connected network over flat buffers. All weights and biases live in
 * one buffer with a named view per layer, so an optimiser is one loop; each
 * forward function sits beside its backward.
 *
 * Shapes: a batch `x` is (B, IN) row-major; a layer's weights are (IN, OUT)
 * row-major. Every matrix product goes through a {@linkcode Kernels}: the
 * plain TypeScript reference by default, the WebAssembly ones in training.
 *
 * @module
 */
import {
  activate,
  activateBackward,
  type Activation,
  expOrZero,
  type Floats,
  flushDenormal,
  sigmoid,
  sigmoidExp,
} from "./activations.ts";
import { log1p64 } from "./exp.ts";
import { type GemmArgs, type Kernels, referenceKernels } from "./kernels.ts";
import type { Random } from "./rng.ts";

/** How the output layer turns scores into probabilities, and the loss it pairs with. */
export const OUTPUTS = ["softmax", "sigmoid"] as const;

/**
 * `softmax`: softmax with cross-entropy. `sigmoid`: independent logistic units
 * with the per-unit logistic cost, as the textbook's NeuralNetMLP.
 */
export type OutputKind = typeof OUTPUTS[number];

/** The architecture of a network: layer sizes from input to output, and its functions. */
export interface NetworkSpec {
  /** Units per layer, input first, classes last, e.g. `[784, 50, 10]`. */
  sizes: number[];
  /** Activation of every hidden layer. */
  activation: Activation;
  /** Output units and their loss. */
  output: OutputKind;
}

/** Named views of one dense layer inside a parameter (or gradient) buffer. */
export interface DenseLayer {
  /** Input width. */
  inputs: number;
  /** Output width. */
  outputs: number;
  /** (IN, OUT) row-major. */
  weights: Floats;
  /** (OUT). */
  biases: Floats;
}

/** A network: its spec, the one parameter buffer, and the layer views into it. */
export interface Network {
  /** The architecture. */
  spec: NetworkSpec;
  /** Every weight and bias, layer after layer (weights, then biases). */
  params: Floats;
  /** Views into {@linkcode Network.params}. */
  layers: DenseLayer[];
}

/** Penalties on the weights (never the biases), added once per minibatch. */
export interface Regularization {
  /** L1 strength λ₁ in `λ₁/2·Σ|w|`. @default {0} */
  l1: number;
  /** L2 strength λ₂ in `λ₂/2·Σw²`. @default {0} */
  l2: number;
}

/**
 * Inverted dropout on the hidden layers for one minibatch: each hidden unit of
 * each row is kept with probability 1 − rate and then scaled by 1/(1 − rate),
 * so evaluation (which never drops) needs no rescaling.
 */
export interface Dropout {
  /** Probability of dropping a hidden unit, in [0, 1). */
  rate: number;
  /** Seeded source of this minibatch's masks (one number is drawn per call). */
  random: Random;
}

/** Whether a minibatch's loss (and gradient) is the sum over its rows, as the textbook, or the mean. */
export type Reduction = "sum" | "mean";

/** Counts the parameters of a spec. */
export function parameterCount(sizes: readonly number[]): number {
  let total = 0;
  for (let l = 1; l < sizes.length; l++) total += (sizes[l - 1] + 1) * sizes[l];
  return total;
}

/** Cuts a buffer laid out for `sizes` into per-layer weight and bias views. */
export function layerViews(sizes: readonly number[], buffer: Floats): DenseLayer[] {
  const layers: DenseLayer[] = [];
  let offset = 0;
  for (let l = 1; l < sizes.length; l++) {
    const inputs = sizes[l - 1];
    const outputs = sizes[l];
    const weights = buffer.subarray(offset, offset + inputs * outputs);
    offset += inputs * outputs;
    const biases = buffer.subarray(offset, offset + outputs);
    offset += outputs;
    layers.push({ inputs, outputs, weights, biases });
  }
  return layers;
}

/**
 * Creates a zeroed network of the given spec, in float32 (training) or float64
 * (checking); float32 parameters live where `kernels` can use them in place.
 */
export function createNetwork(
  spec: NetworkSpec,
  precision: "float32" | "float64" = "float32",
  kernels: Kernels = referenceKernels,
): Network {
  if (spec.sizes.length < 2 || spec.sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new RangeError(
      `Cannot create network as sizes must be two or more positive integers: current value is [${spec.sizes}]`,
    );
  }
  const n = parameterCount(spec.sizes);
  const params = precision === "float32" ? kernels.alloc(n) : new Float64Array(n);
  return { spec, params, layers: layerViews(spec.sizes, params) };
}

/**
 * Dense forward: `z = b + x·W`. x is (B, IN), W is (IN, OUT), z is (B, OUT);
 * with `rows`, x's row i is row `rows[i]` of the array `x`.
 */
export function denseForward(
  x: Floats,
  layer: DenseLayer,
  z: Floats,
  batch: number,
  kernels: Kernels = referenceKernels,
  rows?: Uint32Array,
): void {
  const { inputs, outputs, weights, biases } = layer;
  kernels.gemm({
    m: batch,
    n: outputs,
    k: inputs,
    a: x,
    aRows: rows,
    b: weights,
    c: z,
    bias: biases,
  });
}

/** The layer below a dense layer's input gradient, whose backward that product applies as it stores. */
export interface BelowGate {
  /** That layer's activation function. */
  activation: "relu" | "sigmoid";
  /** Its z (ReLU) or its a (sigmoid), laid out as the input gradient. */
  values: Floats;
}

/**
 * Dense backward, writing the layer's gradients: `dW = xᵀ·dz` (IN, OUT),
 * `db = Σ_rows dz` (OUT), and, when `dx` is given, `dx = dz·Wᵀ` (B, IN).
 * `rows` picks x's rows as in {@linkcode denseForward}. The same bits as
 * accumulating into zeroed gradients (a sum that starts at +0 never ends at
 * −0, so `0 + s` is `s`), without the pass that zeroes them. With `gate`,
 * dx is the layer below's dz at once, as `activateBackward` would make it:
 * `dx·relu'(z)` given that layer's z (ReLU), `dx·a·(1 − a)` given its a (sigmoid).
 */
export function denseBackward(
  x: Floats,
  dz: Floats,
  layer: DenseLayer,
  grad: DenseLayer,
  dx: Floats | null,
  batch: number,
  kernels: Kernels = referenceKernels,
  rows?: Uint32Array,
  gate?: BelowGate,
): void {
  const { inputs, outputs, weights } = layer;
  const db = grad.biases;
  db.fill(0);
  const summed = dz instanceof Float32Array && db instanceof Float32Array &&
    kernels.columnSums?.(dz, batch, outputs, db);
  for (let i = 0; i < batch && !summed; i++) {
    const row = i * outputs;
    for (let j = 0; j < outputs; j++) db[j] += dz[row + j];
  }
  const weightGradient: GemmArgs = {
    m: inputs,
    n: outputs,
    k: batch,
    a: x,
    aRows: rows,
    transA: true,
    b: dz,
    c: grad.weights,
  };
  if (dx === null) {
    kernels.gemm(weightGradient);
    return;
  }
  const inputGradient = {
    m: batch,
    n: inputs,
    k: outputs,
    a: dz,
    b: weights,
    transB: true,
    c: dx,
    reluGate: gate?.activation === "relu" ? gate.values : undefined,
    sigmoidGate: gate?.activation === "sigmoid" ? gate.values : undefined,
  };
  if (kernels.gemmPair?.(weightGradient, inputGradient)) return;
  kernels.gemm(weightGradient);
  kernels.gemm(inputGradient);
}

/**
 * Softmax over each row of z (B, C) into p, stabilised by the row maximum.
 */
export function softmaxRows(z: Floats, p: Floats, batch: number, classes: number): void {
  for (let i = 0; i < batch; i++) {
    const row = i * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if (z[row + c] > max) max = z[row + c];
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const e = expOrZero(z[row + c] - max);
      p[row + c] = e;
      sum += e;
    }
    for (let c = 0; c < classes; c++) p[row + c] /= sum;
  }
}

/** The index of the largest of `length` values starting at `offset` (the first on ties). */
export function argmax(values: Floats, offset: number, length: number): number {
  let best = 0;
  for (let c = 1; c < length; c++) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}

/**
 * Output forward and backward together: from the output scores z (B, C) and
 * one-hot targets y (B, C), writes the output activations to `a`, the loss
 * gradient `∂L/∂z` (scaled by `scale`) to `dz`, and returns the unscaled summed
 * loss. Both losses are computed from z, so a saturated unit gives a finite cost.
 */
export function outputLoss(
  kind: OutputKind,
  z: Floats,
  y: Floats,
  a: Floats,
  dz: Floats,
  batch: number,
  classes: number,
  scale: number,
): number {
  const n = batch * classes;
  let loss = 0;
  if (kind === "softmax") {
    for (let i = 0; i < batch; i++) {
      const row = i * classes;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) if (z[row + c] > max) max = z[row + c];
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += expOrZero(z[row + c] - max);
      const logSum = max + Math.log(sum);
      for (let c = 0; c < classes; c++) {
        a[row + c] = flushDenormal(expOrZero(z[row + c] - logSum));
        if (y[row + c] !== 0) loss += y[row + c] * (logSum - z[row + c]);
      }
    }
  } else {
    // −[y·log σ(z) + (1−y)·log(1−σ(z))] = y·softplus(−z) + (1−y)·softplus(z), and with
    // e = exp(−|z|): σ(z) = 1/(1+e) or e/(1+e), softplus(±z) = max(±z, 0) + log1p(e).
    // One exp and one log per unit, none of which can overflow; exp64 and log1p64, which the
    // kernels' logisticLossRange computes bit for bit (so a is exactly `sigmoid(z)`).
    for (let i = 0; i < n; i++) {
      const zi = z[i];
      const e = sigmoidExp(-Math.abs(zi));
      a[i] = zi >= 0 ? 1 / (1 + e) : flushDenormal(e / (1 + e));
      // log1p(e) is e itself once e < 2⁻⁵⁴; skipping the call there changes no bit.
      const tail = e < 5e-17 ? e : log1p64(e);
      const yi = y[i];
      loss += yi * (Math.max(-zi, 0) + tail) + (1 - yi) * (Math.max(zi, 0) + tail);
    }
  }
  for (let i = 0; i < n; i++) dz[i] = flushDenormal((a[i] - y[i]) * scale);
  return loss;
}

/**
 * {@linkcode outputLoss} over layer l's buffers of the workspace, on the
 * kernels when they offer it (same bits either way).
 */
function outputLossOn(
  ws: Workspace,
  kind: OutputKind,
  l: number,
  y: Floats,
  batch: number,
  classes: number,
  scale: number,
): number {
  const buffers = logisticBuffers(ws, kind, l, y);
  const loss = buffers && ws.kernels.logisticLoss?.(...buffers, batch * classes, scale);
  if (typeof loss === "number") return loss;
  return outputLoss(kind, ws.z[l], y, ws.a[l], ws.dz[l], batch, classes, scale);
}

/** Layer l's z, y, a and dz when the kernels may take its sigmoid output's loss: all float32. */
function logisticBuffers(
  ws: Workspace,
  kind: OutputKind,
  l: number,
  y: Floats,
): [Float32Array, Float32Array, Float32Array, Float32Array] | null {
  const z = ws.z[l], a = ws.a[l], dz = ws.dz[l];
  return kind === "sigmoid" && z instanceof Float32Array && y instanceof Float32Array &&
      a instanceof Float32Array && dz instanceof Float32Array
    ? [z, y, a, dz]
    : null;
}

/**
 * {@linkcode outputLossOn} with the loss asked for later (call the returned
 * function before z or y change): the kernels may sum the sigmoid output's
 * cost beside the backward pass. The same bits.
 */
function outputLossLater(
  ws: Workspace,
  kind: OutputKind,
  l: number,
  y: Floats,
  batch: number,
  classes: number,
  scale: number,
): () => number {
  const buffers = logisticBuffers(ws, kind, l, y);
  const later = buffers && ws.kernels.logisticLossLater?.(...buffers, batch * classes, scale);
  if (later) return later;
  const loss = outputLossOn(ws, kind, l, y, batch, classes, scale);
  return () => loss;
}

/** A hidden layer's activation, on the kernels when they offer it (same bits either way). */
function activateHidden(kind: Activation, ws: Workspace, l: number, n: number): void {
  const z = ws.z[l], a = ws.a[l];
  if (z instanceof Float32Array && ws.kernels.activate?.(kind, z, a as Float32Array, n)) return;
  if (kind === "sigmoid" && ws.kernels.sigmoid && z instanceof Float32Array) {
    ws.kernels.sigmoid(z, a as Float32Array, n);
  } else {
    activate(kind, z, a, n);
  }
}

/** A hidden layer's `dz = da·f'(z)`, on the kernels when they offer it (same bits either way). */
function backwardHidden(kind: Activation, ws: Workspace, l: number, n: number): void {
  const z = ws.z[l], a = ws.a[l], da = ws.da[l], dz = ws.dz[l];
  if (
    z instanceof Float32Array &&
    ws.kernels.activateBackward?.(
      kind,
      z,
      a as Float32Array,
      da as Float32Array,
      dz as Float32Array,
      n,
    )
  ) return;
  dz.set(da.subarray(0, n));
  activateBackward(kind, z, a, dz, n);
}

/** Buffers for one batch of up to `capacity` rows, allocated once, reused every step. */
export interface Workspace {
  /** Rows the buffers hold. */
  capacity: number;
  /** Pre-activations per layer, (B, OUT_l). */
  z: Floats[];
  /** Activations per layer, (B, OUT_l); the last holds the output probabilities. */
  a: Floats[];
  /** Gradient with respect to z per layer, (B, OUT_l). */
  dz: Floats[];
  /** Gradient with respect to a hidden layer's activations, (B, OUT_l). */
  da: Floats[];
  /** Dropout masks per hidden layer, (B, OUT_l): 0 or 1/(1 − rate); allocated on first use. */
  mask: Floats[];
  /** Hidden activations after dropout, (B, OUT_l): the next layer's input; allocated on first use. */
  dropped: Floats[];
  /** The data term of the last loss computed, summed over rows (penalties excluded). */
  dataLoss: number;
  /** The kernels every product of this workspace runs on. */
  kernels: Kernels;
}

/** Allocates the per-layer buffers for batches of up to `capacity` rows, where `kernels` work. */
export function createWorkspace(
  net: Network,
  capacity: number,
  kernels: Kernels = referenceKernels,
): Workspace {
  const make = (n: number) =>
    net.params instanceof Float64Array ? new Float64Array(n) : kernels.alloc(n);
  const z: Floats[] = [], a: Floats[] = [], dz: Floats[] = [], da: Floats[] = [];
  for (const layer of net.layers) {
    const n = capacity * layer.outputs;
    z.push(make(n));
    a.push(make(n));
    dz.push(make(n));
    da.push(make(n));
  }
  return { capacity, z, a, dz, da, mask: [], dropped: [], dataLoss: 0, kernels };
}

function checkCapacity(ws: Workspace, batch: number): void {
  if (batch > ws.capacity) {
    throw new RangeError(
      `Cannot run a batch of ${batch} rows as the workspace holds at most ${ws.capacity}`,
    );
  }
}

/**
 * Forward pass of x (B, IN), or of rows `rows` of x; returns the output
 * probabilities (B, C), a view into the workspace that the next call overwrites.
 */
export function forward(
  net: Network,
  x: Floats,
  batch: number,
  ws: Workspace,
  rows?: Uint32Array,
): Floats {
  checkCapacity(ws, batch);
  const { layers, spec } = net;
  const last = layers.length - 1;
  let input = x;
  for (let l = 0; l <= last; l++) {
    const layer = layers[l];
    denseForward(input, layer, ws.z[l], batch, ws.kernels, l === 0 ? rows : undefined);
    const n = batch * layer.outputs;
    if (l < last) activateHidden(spec.activation, ws, l, n);
    else if (spec.output === "softmax") softmaxRows(ws.z[l], ws.a[l], batch, layer.outputs);
    else for (let i = 0; i < n; i++) ws.a[l][i] = sigmoid(ws.z[l][i]);
    input = ws.a[l];
  }
  return ws.a[last].subarray(0, batch * layers[last].outputs);
}

/** The penalty `λ₁/2·Σ|w| + λ₂/2·Σw²` over every layer's weights. */
export function regularizationCost(net: Network, reg: Regularization): number {
  if (reg.l1 === 0 && reg.l2 === 0) return 0;
  let abs = 0;
  let squares = 0;
  for (const { weights } of net.layers) {
    for (let i = 0; i < weights.length; i++) {
      abs += Math.abs(weights[i]);
      squares += weights[i] * weights[i];
    }
  }
  return (reg.l1 / 2) * abs + (reg.l2 / 2) * squares;
}

/**
 * Draws layer l's dropout mask for `n` values and writes the dropped
 * activations; a xorshift stream seeded by one draw of `random` makes the mask
 * cheap (a float per unit from `random` would cost as much as the layer).
 */
function applyDropout(ws: Workspace, l: number, n: number, dropout: Dropout): void {
  if (!ws.mask[l]) {
    const make = (size: number) =>
      ws.a[l] instanceof Float64Array ? new Float64Array(size) : ws.kernels.alloc(size);
    ws.mask[l] = make(ws.a[l].length);
    ws.dropped[l] = make(ws.a[l].length);
  }
  const mask = ws.mask[l], a = ws.a[l], dropped = ws.dropped[l];
  const keep = 1 / (1 - dropout.rate);
  // Keep a unit when its 32-bit draw is at or above rate·2³².
  const threshold = dropout.rate * 2 ** 32;
  let state = (Math.floor(dropout.random() * 2 ** 32) | 1) >>> 0;
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const m = state >= threshold ? keep : 0;
    mask[i] = m;
    dropped[i] = a[i] * m;
  }
}

/**
 * Forward and backward for one minibatch. Writes `∂loss/∂params` through
 * `gradLayers` (views of a buffer laid out like the parameters, every value of
 * which is written) and returns the loss: the data term
 * (summed or averaged over rows, per `reduction`) plus the weight penalties.
 * With `rows`, the minibatch is those rows of x, read in place. With
 * `dropout`, hidden units are dropped (training only; {@linkcode forward} never drops).
 */
export function lossAndGradient(
  net: Network,
  x: Floats,
  y: Floats,
  batch: number,
  ws: Workspace,
  gradLayers: DenseLayer[],
  reg: Regularization,
  reduction: Reduction,
  rows?: Uint32Array,
  dropout?: Dropout,
): number {
  checkCapacity(ws, batch);
  const { layers, spec } = net;
  const last = layers.length - 1;
  const dropping = dropout !== undefined && dropout.rate > 0;
  if (dropping && !(dropout.rate < 1)) {
    throw new RangeError(
      `Cannot drop hidden units as the dropout rate must be in [0, 1): current value is ${dropout.rate}`,
    );
  }
  let input = x;
  for (let l = 0; l < last; l++) {
    denseForward(input, layers[l], ws.z[l], batch, ws.kernels, l === 0 ? rows : undefined);
    const n = batch * layers[l].outputs;
    activateHidden(spec.activation, ws, l, n);
    if (dropping) applyDropout(ws, l, n, dropout);
    input = dropping ? ws.dropped[l] : ws.a[l];
  }
  denseForward(input, layers[last], ws.z[last], batch, ws.kernels, last === 0 ? rows : undefined);
  const scale = reduction === "mean" ? 1 / batch : 1;
  const dataLossLater = outputLossLater(
    ws,
    spec.output,
    last,
    y,
    batch,
    layers[last].outputs,
    scale,
  );

  // Every layer's backward writes its whole gradient, so `grad` needs no zeroing first.
  for (let l = last; l >= 0; l--) {
    const below = l === 0 ? x : dropping ? ws.dropped[l - 1] : ws.a[l - 1];
    // Below a ReLU or sigmoid layer (without dropout) the product writes its dz at once, gated
    // by its z or its a.
    const activation = spec.activation;
    const gated = l > 0 && !dropping && (activation === "relu" || activation === "sigmoid");
    const dBelow = l === 0 ? null : gated ? ws.dz[l - 1] : ws.da[l - 1];
    const picked = l === 0 ? rows : undefined;
    const gate: BelowGate | undefined = gated
      ? { activation, values: activation === "relu" ? ws.z[l - 1] : ws.a[l - 1] }
      : undefined;
    denseBackward(
      below,
      ws.dz[l],
      layers[l],
      gradLayers[l],
      dBelow,
      batch,
      ws.kernels,
      picked,
      gate,
    );
    if (l > 0 && !gated) {
      const n = batch * layers[l - 1].outputs;
      if (dropping) {
        // The gradient reaches only the units the mask kept, scaled as they were.
        const da = ws.da[l - 1], mask = ws.mask[l - 1];
        for (let i = 0; i < n; i++) da[i] *= mask[i];
      }
      backwardHidden(spec.activation, ws, l - 1, n);
    }
  }

  // The penalty's gradient, and its cost from the same pass: regularizationCost's sums, in its order.
  let penalty = 0;
  if (reg.l1 !== 0 || reg.l2 !== 0) {
    const halfL1 = reg.l1 / 2;
    let abs = 0, squares = 0;
    for (let l = 0; l <= last; l++) {
      const w = layers[l].weights;
      const g = gradLayers[l].weights;
      const sums = w instanceof Float32Array && g instanceof Float32Array
        ? ws.kernels.penalty?.(w, g, w.length, reg.l1, reg.l2, abs, squares)
        : null;
      if (sums) {
        [abs, squares] = sums;
        continue;
      }
      for (let i = 0; i < w.length; i++) {
        g[i] += reg.l2 * w[i] + halfL1 * Math.sign(w[i]);
        abs += Math.abs(w[i]);
        squares += w[i] * w[i];
      }
    }
    penalty = (reg.l1 / 2) * abs + (reg.l2 / 2) * squares;
  }
  const dataLoss = dataLossLater();
  ws.dataLoss = dataLoss;
  return dataLoss * scale + penalty;
}

/**
 * Forward pass plus the data loss against one-hot targets y (B, C); returns the
 * loss summed over rows (of `rows` of x, when given). The output probabilities
 * stay in the workspace.
 */
export function forwardLoss(
  net: Network,
  x: Floats,
  y: Floats,
  batch: number,
  ws: Workspace,
  rows?: Uint32Array,
): number {
  forward(net, x, batch, ws, rows);
  const last = net.layers.length - 1;
  return outputLossOn(ws, net.spec.output, last, y, batch, net.layers[last].outputs, 1);
}
