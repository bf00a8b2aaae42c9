import assert from "node:assert/strict";
import {
  withoutBiasFusion,
  withoutGateFusion,
  withoutLossBesidePenalty,
  withoutPairs,
} from "../../bench/ablations.ts";
import type { GemmArgs, Kernels } from "../../model/kernels.ts";
import { seededRandom } from "../../model/rng.ts";
import { createWasmKernels } from "../../kernels/wasm_kernels.ts";
import { planBatches } from "../../stages/minibatch.ts";
import { trainNetwork, type TrainOptions } from "../../stages/train.ts";
import { floatDataSet, syntheticSet } from "../fixtures.ts";

/** What the wrapped kernels were asked to do, fused. */
interface Seen {
  gates: number;
  biases: number;
  pairs: number;
  later: number;
}

/** `kernels`, counting the fused work asked of them. */
function counting(kernels: Kernels, seen: Seen): Kernels {
  const gated = (args: GemmArgs) => args.reluGate !== undefined || args.sigmoidGate !== undefined;
  return {
    ...kernels,
    gemm(args) {
      if (gated(args)) seen.gates++;
      if (args.bias) seen.biases++;
      kernels.gemm(args);
    },
    gemmPair: (first, second) => {
      const paired = kernels.gemmPair!(first, second);
      if (paired) seen.pairs++;
      if (paired && gated(second)) seen.gates++;
      return paired;
    },
    logisticLossLater: (...args) => {
      const later = kernels.logisticLossLater!(...args);
      if (later) seen.later++;
      return later;
    },
  };
}

/** Each ablation, the count it must bring to 0, and whether it needs two threads. */
const ABLATIONS = [
  ["gate", withoutGateFusion, "gates", false],
  ["bias", withoutBiasFusion, "biases", false],
  ["pairs", withoutPairs, "pairs", true],
  ["loss beside penalty", withoutLossBesidePenalty, "later", true],
] as const;

for (const activation of ["relu", "sigmoid"] as const) {
  Deno.test(`each ablation undoes its fusion and trains the same bits (${activation} layers, one and two threads)`, async () => {
    const random = seededRandom(6, "ablations");
    const train = syntheticSet(90, 5, 12, 12, random);
    const data = floatDataSet(train, syntheticSet(10, 5, 12, 12, random), 5);
    const options: TrainOptions = {
      hidden: [19, 11],
      activation,
      output: "sigmoid",
      init: "xavier",
      optimizer: "sgd",
      eta: 0.01,
      momentum: 0.5,
      decay: 0,
      decaySchedule: "inverse",
      l1: 0,
      l2: 0.01,
      reduction: "mean",
      epochs: 2,
      patience: 0,
      seed: 5,
      deskew: false,
      shuffleBuffer: null,
    };
    const plan = planBatches(90, { batching: { batchSize: 16 }, validation: 0.1, seed: 2 });
    const quiet = { log() {} };
    // The default minParallelWork keeps these products whole, so on two threads a layer's two
    // gradient products pair up; on one, each is a gemm of its own.
    for (const threads of [1, 2]) {
      const kernels = await createWasmKernels({ threads });
      try {
        const fused: Seen = { gates: 0, biases: 0, pairs: 0, later: 0 };
        const defaults = await trainNetwork(data, plan, options, quiet, counting(kernels, fused));
        for (const [name, ablate, undone, paired] of ABLATIONS) {
          if (paired && threads === 1) continue;
          assert.ok(fused[undone] > 0, `${name} on ${threads}: ${JSON.stringify(fused)}`);
          const seen: Seen = { gates: 0, biases: 0, pairs: 0, later: 0 };
          const result = await trainNetwork(
            data,
            plan,
            options,
            quiet,
            ablate(counting(kernels, seen)),
          );
          const where = `${name} on ${threads}`;
          assert.equal(seen[undone], 0, `${where}: ${JSON.stringify(seen)}`);
          assert.deepEqual(result.costs, defaults.costs, where);
          assert.deepEqual(
            new Uint32Array(result.model.params.buffer),
            new Uint32Array(defaults.model.params.buffer),
            where,
          );
        }
      } finally {
        kernels.close();
      }
    }
  });
}
