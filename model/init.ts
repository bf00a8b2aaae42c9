/**
 * Weight initialisation schemes, drawing from a seeded source passed in.
 *
 * @module
 */
import { normalFrom, type Random, uniformFrom } from "./rng.ts";
import type { Network } from "./network.ts";

/** The initialisation schemes. */
export const INITS = ["uniform", "xavier", "he"] as const;

/**
 * `uniform`: every weight and bias from U(−1, 1), as the textbook.
 * `xavier`: weights from U(±√(6/(in+out))), biases 0.
 * `he`: weights from N(0, √(2/in)), biases 0.
 */
export type Init = typeof INITS[number];

/** Fills the network's parameters in place, layer by layer, from `random`. */
export function initialize(net: Network, init: Init, random: Random): void {
  for (const layer of net.layers) {
    const { inputs, outputs, weights, biases } = layer;
    if (init === "uniform") {
      const draw = uniformFrom(random, -1, 1);
      for (let i = 0; i < weights.length; i++) weights[i] = draw();
      for (let i = 0; i < biases.length; i++) biases[i] = draw();
      continue;
    }
    const draw = init === "xavier"
      ? uniformFrom(random, -Math.sqrt(6 / (inputs + outputs)), Math.sqrt(6 / (inputs + outputs)))
      : normalFrom(random, 0, Math.sqrt(2 / inputs));
    for (let i = 0; i < weights.length; i++) weights[i] = draw();
    biases.fill(0);
  }
}
