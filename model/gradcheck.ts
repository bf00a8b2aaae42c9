/**
 * Gradient checking: backprop against central differences, in float64, as the
 * textbook's MLPGradientCheck. The result is the relative error
 * `‖g_num − g_bp‖ / (‖g_num‖ + ‖g_bp‖)`.
 *
 * @module
 */
import type { Random } from "./rng.ts";
import { type Init, initialize } from "./init.ts";
import {
  createNetwork,
  createWorkspace,
  forwardLoss,
  layerViews,
  lossAndGradient,
  type NetworkSpec,
  type Reduction,
  type Regularization,
  regularizationCost,
} from "./network.ts";

/** Options of {@linkcode gradientCheck}. */
export interface GradientCheckOptions {
  /** Architecture to check. */
  spec: NetworkSpec;
  /** Input rows, (B, IN). */
  x: Float64Array;
  /** Class label of each row. */
  labels: ArrayLike<number>;
  /** Weight penalties. */
  regularization: Regularization;
  /** Sum or mean over rows. */
  reduction: Reduction;
  /** Initialisation of the weights the gradient is taken at. */
  init: Init;
  /** Seeded source for the initialisation. */
  random: Random;
  /** Finite-difference step. @default {1e-5} */
  epsilon?: number;
}

/** The outcome of one check. */
export interface GradientCheckResult {
  /** `‖g_num − g_bp‖ / (‖g_num‖ + ‖g_bp‖)`. */
  relativeError: number;
  /** Number of parameters compared. */
  parameters: number;
  /** Weights left out because they sit within 2ε of the L1 kink at 0, where no derivative exists. */
  skipped: number;
  /** `ok`, `warning` or `problem`. */
  verdict: Verdict;
}

/** How a relative error reads: `ok` below 1e-7, `warning` below 1e-4, else `problem`. */
export type Verdict = "ok" | "warning" | "problem";

/** Classifies a relative error. */
export function verdictOf(relativeError: number): Verdict {
  if (relativeError < 1e-7) return "ok";
  if (relativeError < 1e-4) return "warning";
  return "problem";
}

/** Compares backprop with central differences over every parameter, in float64. */
export function gradientCheck(options: GradientCheckOptions): GradientCheckResult {
  const { spec, x, labels, regularization, reduction, epsilon = 1e-5 } = options;
  const batch = labels.length;
  const classes = spec.sizes[spec.sizes.length - 1];
  const net = createNetwork(spec, "float64");
  initialize(net, options.init, options.random);
  const ws = createWorkspace(net, batch);
  const y = new Float64Array(batch * classes);
  for (let i = 0; i < batch; i++) y[i * classes + labels[i]] = 1;

  const analytic = new Float64Array(net.params.length);
  lossAndGradient(
    net,
    x,
    y,
    batch,
    ws,
    layerViews(spec.sizes, analytic),
    regularization,
    reduction,
  );

  const scale = reduction === "mean" ? 1 / batch : 1;
  const loss = () =>
    forwardLoss(net, x, y, batch, ws) * scale + regularizationCost(net, regularization);
  const isWeight = new Float64Array(net.params.length);
  for (const layer of layerViews(spec.sizes, isWeight)) layer.weights.fill(1);
  let diff = 0, numericNorm = 0, analyticNorm = 0, skipped = 0;
  for (let p = 0; p < net.params.length; p++) {
    const saved = net.params[p];
    if (regularization.l1 !== 0 && isWeight[p] === 1 && Math.abs(saved) < 2 * epsilon) {
      skipped++;
      continue;
    }
    net.params[p] = saved + epsilon;
    const plus = loss();
    net.params[p] = saved - epsilon;
    const minus = loss();
    net.params[p] = saved;
    const numeric = (plus - minus) / (2 * epsilon);
    diff += (numeric - analytic[p]) ** 2;
    numericNorm += numeric ** 2;
    analyticNorm += analytic[p] ** 2;
  }
  const denominator = Math.sqrt(numericNorm) + Math.sqrt(analyticNorm);
  const relativeError = denominator === 0 ? 0 : Math.sqrt(diff) / denominator;
  return {
    relativeError,
    parameters: net.params.length - skipped,
    skipped,
    verdict: verdictOf(relativeError),
  };
}
