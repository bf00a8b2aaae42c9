/**
 * Hidden-layer activations, each forward beside its derivative.
 *
 * @module
 */

/** A float buffer the model computes in: float32 to train, float64 to check gradients. */
export type Floats = Float32Array | Float64Array;

/** The hidden-layer activation functions the network supports. */
export const ACTIVATIONS = ["sigmoid", "tanh", "relu", "swish"] as const;

/** One of {@linkcode ACTIVATIONS}. */
export type Activation = typeof ACTIVATIONS[number];

/** The logistic function, written so a large |z| never overflows `exp`. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
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
      for (let i = 0; i < n; i++) a[i] = z[i] * sigmoid(z[i]);
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
      for (let i = 0; i < n; i++) grad[i] *= a[i] * (1 - a[i]);
      return;
    case "tanh":
      for (let i = 0; i < n; i++) grad[i] *= 1 - a[i] * a[i];
      return;
    case "relu":
      for (let i = 0; i < n; i++) if (z[i] <= 0) grad[i] = 0;
      return;
    case "swish":
      // d/dz z·σ(z) = σ(z) + a·(1 − σ(z))
      for (let i = 0; i < n; i++) {
        const s = sigmoid(z[i]);
        grad[i] *= s + a[i] * (1 - s);
      }
      return;
  }
}
