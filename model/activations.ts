/**
 * Hidden-layer activations, each forward beside its derivative.
 *
 * @module
 */

import { exp64 } from "./exp.ts";

/** A float buffer the model computes in: float32 to train, float64 to check gradients. */
export type Floats = Float32Array | Float64Array;

/** The hidden-layer activation functions the network supports. */
export const ACTIVATIONS = ["sigmoid", "tanh", "relu", "swish"] as const;

/** One of {@linkcode ACTIVATIONS}. */
export type Activation = typeof ACTIVATIONS[number];

/** Float32's smallest normal number: below it a float32 is a denormal. */
export const FLOAT32_MIN_NORMAL = 1.1754943508222875e-38;

/**
 * `v`, or 0 where a float32 could hold `v` only as a denormal. Denormals cost
 * every CPU a slow path on each operation (saturated sigmoids on raw pixels
 * made whole epochs twice as slow), and no network needs values below 1e-38.
 */
export function flushDenormal(v: number): number {
  return v > -FLOAT32_MIN_NORMAL && v < FLOAT32_MIN_NORMAL ? 0 : v;
}

/**
 * `Math.exp(x)` for x above ln(float32's smallest normal), else 0: what a
 * float32 keeps of it once denormals flush. Below about −700, `Math.exp` takes
 * a slow path (raw 0..255 pixels push sigmoids there all the time).
 */
export function expOrZero(x: number): number {
  return x < -87.4 ? 0 : Math.exp(x);
}

/** {@linkcode expOrZero} with {@linkcode exp64}, which the WebAssembly kernels compute bit for bit. */
export function sigmoidExp(x: number): number {
  return x < -87.4 ? 0 : exp64(x);
}

/**
 * The logistic function, written so a large |z| never overflows `exp`;
 * denormals flush to 0. The kernels' `sigmoidRange` gives the same bits.
 */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + sigmoidExp(-z));
  const e = sigmoidExp(z);
  return flushDenormal(e / (1 + e));
}

/**
 * Applies `kind` elementwise: `a = f(z)` over the first `n` values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activate } from "./activations.ts";
 * const a = new Float64Array(2);
 * activate("relu", new Float64Array([-1, 2]), a, 2);
 * assert.deepEqual([...a], [0, 2]);
 * ```
 */
export function activate(kind: Activation, z: Floats, a: Floats, n: number): void {
  switch (kind) {
    case "sigmoid":
      for (let i = 0; i < n; i++) a[i] = sigmoid(z[i]);
      return;
    case "tanh":
      for (let i = 0; i < n; i++) a[i] = Math.tanh(z[i]);
      return;
    case "relu":
      for (let i = 0; i < n; i++) a[i] = z[i] > 0 ? z[i] : 0;
      return;
    case "swish":
      for (let i = 0; i < n; i++) a[i] = flushDenormal(z[i] * sigmoid(z[i]));
      return;
  }
}

/**
 * Turns the gradient with respect to `a` into the gradient with respect to `z`,
 * in place: `grad[i] *= f'(z[i])`, using `a = f(z)` where that is cheaper.
 */
export function activateBackward(
  kind: Activation,
  z: Floats,
  a: Floats,
  grad: Floats,
  n: number,
): void {
  switch (kind) {
    case "sigmoid":
      for (let i = 0; i < n; i++) grad[i] = flushDenormal(grad[i] * a[i] * (1 - a[i]));
      return;
    case "tanh":
      for (let i = 0; i < n; i++) grad[i] = flushDenormal(grad[i] * (1 - a[i] * a[i]));
      return;
    case "relu":
      for (let i = 0; i < n; i++) if (z[i] <= 0) grad[i] = 0;
      return;
    case "swish":
      // d/dz z·σ(z) = σ(z) + a·(1 − σ(z))
      for (let i = 0; i < n; i++) {
        const s = sigmoid(z[i]);
        grad[i] = flushDenormal(grad[i] * (s + a[i] * (1 - s)));
      }
      return;
  }
}
