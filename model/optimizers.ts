/**
 * Optimisers: each is one loop over the flat parameter buffer.
 *
 * @module
 */
import type { Floats } from "./activations.ts";

/** The optimisers. */
export const OPTIMIZERS = ["sgd", "nesterov", "adam"] as const;

/**
 * `sgd`: the textbook's momentum, `Δw = η·g; w −= Δw + α·Δw_prev`.
 * `nesterov`: Nesterov momentum, `v = μ·v − η·g; w += −μ·v_prev + (1+μ)·v`.
 * `adam`: Adam with bias correction (β₁ 0.9, β₂ 0.999, ε 1e-8).
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
}

const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-8;

/** Creates an optimiser for a buffer of `size` parameters. */
export function createOptimizer(options: OptimizerOptions, size: number): Optimizer {
  const { kind, momentum } = options;
  // sgd: the previous Δw; nesterov: the velocity v; adam: the first moment m.
  const first = new Float64Array(size);
  const second = kind === "adam" ? new Float64Array(size) : new Float64Array(0);
  let steps = 0;
  const reset = () => {
    first.fill(0);
    second.fill(0);
    steps = 0;
  };
  switch (kind) {
    case "sgd":
      return {
        reset,
        step(params, grad, eta) {
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
        step(params, grad, eta) {
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
        step(params, grad, eta) {
          steps++;
          const correction1 = 1 - BETA1 ** steps;
          const correction2 = 1 - BETA2 ** steps;
          for (let i = 0; i < size; i++) {
            const g = grad[i];
            first[i] = BETA1 * first[i] + (1 - BETA1) * g;
            second[i] = BETA2 * second[i] + (1 - BETA2) * g * g;
            params[i] -= eta * (first[i] / correction1) /
              (Math.sqrt(second[i] / correction2) + EPSILON);
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
