/**
 * Our kernels with one fusion undone, for the bench's ablation rows: each
 * variant computes the same bits the slow way, so the row's ratio is what the
 * fusion buys and nothing else.
 *
 * @module
 */
import { activateBackward } from "../model/activations.ts";
import type { GemmArgs, Kernels } from "../model/kernels.ts";

/**
 * `dz·Wᵀ` stored as it is, then the layer below's backward (ReLU's gate or
 * sigmoid's `a·(1 − a)`) in a pass of its own, as before the products took it.
 */
export function withoutGateFusion(kernels: Kernels): Kernels {
  const ungated = (args: GemmArgs): GemmArgs => ({
    ...args,
    reluGate: undefined,
    sigmoidGate: undefined,
  });
  const gate = ({ reluGate, sigmoidGate, c, m, n }: GemmArgs) => {
    const values = reluGate ?? sigmoidGate;
    if (!values) return;
    const kind = reluGate ? "relu" : "sigmoid";
    const onKernels = values instanceof Float32Array && c instanceof Float32Array &&
      kernels.activateBackward?.(kind, values, values, c, c, m * n);
    if (!onKernels) activateBackward(kind, values, values, c, m * n);
  };
  const pair = kernels.gemmPair;
  return {
    ...kernels,
    gemm(args) {
      kernels.gemm(ungated(args));
      gate(args);
    },
    gemmPair: pair && ((first, second) => {
      if (!pair(first, ungated(second))) return false;
      gate(second);
      return true;
    }),
  };
}

/** A layer's biases written into every row of C first, then the product added to them. */
export function withoutBiasFusion(kernels: Kernels): Kernels {
  return {
    ...kernels,
    gemm(args) {
      const { bias, c, m, n } = args;
      if (!bias) {
        kernels.gemm(args);
        return;
      }
      const row = bias.subarray(0, n);
      for (let i = 0; i < m; i++) c.set(row, i * n);
      kernels.gemm({ ...args, bias: undefined, accumulate: true });
    },
  };
}

/** A layer's weight and input gradients one after the other, each split among the threads. */
export function withoutPairs(kernels: Kernels): Kernels {
  return { ...kernels, gemmPair: undefined };
}

/** The logistic costs' second pass run at once, not beside the weight penalty. */
export function withoutLossBesidePenalty(kernels: Kernels): Kernels {
  return { ...kernels, logisticLossLater: undefined };
}
