/**
 * How much memory training a network takes, computed before anything is
 * allocated, so a size that cannot fit is refused up front with the figure
 * rather than by an allocation failing after the data stages ran.
 *
 * @module
 */
import { parameterCount } from "./network.ts";
import type { OptimizerKind } from "./optimizers.ts";

/** What {@linkcode trainingFootprint} returns, in bytes. */
export interface Footprint {
  /** Bytes in the kernels' memory: parameters, gradients, one batch's workspace, and the rows held there. */
  kernelBytes: number;
  /** Bytes outside it: the optimiser's float64 state and the copies of the weights kept for the model. */
  hostBytes: number;
  /** Parameters of the network. */
  parameters: number;
}

/** Options of {@linkcode trainingFootprint}. */
export interface FootprintOptions {
  /** Layer sizes, input first. */
  sizes: readonly number[];
  /** Rows of the largest minibatch. */
  batch: number;
  /** The update rule (Adam keeps two float64 moments per parameter, momentum one). */
  optimizer: OptimizerKind;
  /** Bytes of training rows the kernels hold (the sparse index, or a streamed minibatch). @default {0} */
  rowBytes?: number;
  /** Whether early stopping keeps a copy of the best weights. @default {false} */
  keepsBest?: boolean;
}

/**
 * The memory training needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { trainingFootprint } from "./footprint.ts";
 * const f = trainingFootprint({ sizes: [784, 2_000_000, 10], batch: 100, optimizer: "adam" });
 * assert.ok(f.kernelBytes > 4 * 2 ** 30);
 * ```
 */
export function trainingFootprint(options: FootprintOptions): Footprint {
  const { sizes, batch, optimizer, rowBytes = 0, keepsBest = false } = options;
  const parameters = parameterCount(sizes);
  const units = sizes.slice(1).reduce((a, b) => a + b, 0);
  // Parameters and gradients, and four float32 buffers per layer output in the workspace.
  const kernelBytes = 4 * (2 * parameters + 4 * batch * units) + rowBytes;
  const moments = optimizer === "adam" ? 2 : 1;
  const hostBytes = 8 * moments * parameters + 4 * parameters * (keepsBest ? 2 : 1);
  return { kernelBytes, hostBytes, parameters };
}
