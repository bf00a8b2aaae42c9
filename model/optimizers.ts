/**
 * Optimisers: each is one loop over the flat parameter buffer.
 *
 * @module
 */
import type { Floats } from "./activations.ts";
import { type Kernels, referenceKernels, type UpdateArgs } from "./kernels.ts";

/** The optimisers. */
export const OPTIMIZERS = ["sgd", "nesterov", "adam"] as const;

/**
 * `sgd`: the textbook's momentum, `Δw = η·g; w −= Δw + α·Δw_prev`.
 * `nesterov`: Nesterov momentum, `v = μ·v − η·g; w += −μ·v_prev + (1+μ)·v`.
 * `adam`: Adam with bias correction (β₁ 0.9, β₂ 0.999, ε 1e-8), in float32 as
 * PyTorch's: `m = β₁·m + (1−β₁)·g; v = β₂·v + (1−β₂)·g·g;
 * w −= (η/c₁)·m / (√v·(1/√c₂) + ε)`, c the bias corrections.
 */
export type OptimizerKind = typeof OPTIMIZERS[number];

/** Settings of an optimiser. */
export interface OptimizerOptions {
  /** Which update rule. */
  kind: OptimizerKind;
  /** Momentum α (sgd) or μ (nesterov); unused by adam. @default {0} */
  momentum: number;
}

/** Updates parameters in place from a gradient, keeping its own state. */
export interface Optimizer {
  /** Applies one update with learning rate `eta`. */
  step(params: Floats, grad: Floats, eta: number): void;
  /** Returns the state to its start (zero velocity, step count 0). */
  reset(): void;
  /** Hands its state back to the kernels it came from; the optimiser must not be used afterwards. */
  free(): void;
}

const f32 = Math.fround;
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/**
 * Creates an optimiser for a buffer of `size` parameters. Its state lives
 * where `kernels` work, and float32 steps run on them when they offer
 * `update` (the same bits as the loops below, which stay the reference).
 */
export function createOptimizer(
  options: OptimizerOptions,
  size: number,
  kernels: Kernels = referenceKernels,
): Optimizer {
  const { kind, momentum } = options;
  // sgd: the previous Δw; nesterov: the velocity v (both float64); adam: the moments m and v,
  // float32 like the parameters: half the bytes to stream per step, and its divisions and
  // roots four to a vector instead of two.
  const first = kind === "adam"
    ? kernels.alloc(size)
    : (kernels.alloc64?.(size) ?? new Float64Array(size));
  const second = kind === "adam" ? kernels.alloc(size) : new Float32Array(0);
  let steps = 0;
  const reset = () => {
    first.fill(0);
    second.fill(0);
    steps = 0;
  };
  const free = () => {
    kernels.free?.(first);
    if (second.length > 0) kernels.free?.(second);
  };
  /** Runs the step on the kernels when they can take it; false leaves it to the loop. */
  const onKernels = (params: Floats, grad: Floats, eta: number, adam: UpdateArgs["adam"]) =>
    kernels.update !== undefined && params instanceof Float32Array &&
    grad instanceof Float32Array &&
    kernels.update({ rule: kind, params, grad, first, second, size, eta, momentum, adam });
  const noAdam = [0, 0, 0, 0, 0, 0, 0] as const;
  switch (kind) {
    case "sgd":
      return {
        reset,
        free,
        step(params, grad, eta) {
          if (onKernels(params, grad, eta, noAdam)) return;
          for (let i = 0; i < size; i++) {
            const delta = eta * grad[i];
            params[i] -= delta + momentum * first[i];
            first[i] = delta;
          }
        },
      };
    case "nesterov":
      return {
        reset,
        free,
        step(params, grad, eta) {
          if (onKernels(params, grad, eta, noAdam)) return;
          for (let i = 0; i < size; i++) {
            const previous = first[i];
            const velocity = momentum * previous - eta * grad[i];
            params[i] += -momentum * previous + (1 + momentum) * velocity;
            first[i] = velocity;
          }
        },
      };
    case "adam":
      return {
        reset,
        free,
        step(params, grad, eta) {
          steps++;
          // The per-step scalars in float64, then rounded once, as PyTorch's.
          const stepSize = f32(eta / (1 - BETA1 ** steps));
          const rootScale = f32(1 / Math.sqrt(1 - BETA2 ** steps));
          const [b1, o1, b2, o2, eps] = [BETA1, 1 - BETA1, BETA2, 1 - BETA2, EPSILON].map(f32);
          const adam = [b1, o1, b2, o2, stepSize, rootScale, eps] as const;
          if (onKernels(params, grad, eta, adam)) return;
          // Every operation rounded to float32: the kernels' f32x4 arithmetic, bit for bit.
          for (let i = 0; i < size; i++) {
            const g = f32(grad[i]);
            const m = f32(f32(b1 * first[i]) + f32(o1 * g));
            const v = f32(f32(b2 * second[i]) + f32(f32(o2 * g) * g));
            first[i] = m;
            second[i] = v;
            const denominator = f32(f32(f32(Math.sqrt(v)) * rootScale) + eps);
            params[i] -= f32(stepSize * f32(m / denominator));
          }
        },
      };
  }
}

/** How the learning rate shrinks with the epoch. */
export type DecaySchedule = "textbook" | "inverse";

/**
 * The learning rate of epoch `epoch` (0-based).
 * `textbook`: the book's running division, `η /= 1 + d·e` at every epoch e, so
 * `η_e = η₀ / Π_{i≤e}(1 + d·i)`. `inverse`: `η₀ / (1 + d·e)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { learningRate } from "./optimizers.ts";
 * assert.equal(learningRate(0.1, 1, 2, "inverse"), 0.1 / 3);
 * assert.equal(learningRate(0.1, 1, 2, "textbook"), 0.1 / (1 * 2 * 3));
 * ```
 */
export function learningRate(
  eta: number,
  decay: number,
  epoch: number,
  schedule: DecaySchedule,
): number {
  if (schedule === "inverse") return eta / (1 + decay * epoch);
  let rate = eta;
  for (let i = 0; i <= epoch; i++) rate /= 1 + decay * i;
  return rate;
}
