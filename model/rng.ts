/**
 * Seeded random sources. Every random choice in the project takes a `Random`
 * built here, so the same seed gives the same result bit for bit.
 *
 * @module
 */
import { shuffler } from "d3-array";
import { randomLcg, randomNormal, randomUniform } from "d3-random";

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/** Mixes a 32-bit integer (the murmur3 finaliser) so nearby seeds give unrelated streams. */
function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Returns a seeded source for one named purpose, so that e.g. the shuffle of
 * epoch 3 does not depend on how many numbers initialisation drew.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { seededRandom } from "./rng.ts";
 * assert.equal(seededRandom(1, "init")(), seededRandom(1, "init")());
 * ```
 */
export function seededRandom(seed: number, ...stream: (string | number)[]): Random {
  let h = mix32(seed >>> 0 ^ 0x9e3779b9);
  for (const part of stream) {
    const text = String(part);
    for (let i = 0; i < text.length; i++) h = mix32(h ^ text.charCodeAt(i));
    h = mix32(h ^ 0x2f);
  }
  // d3's LCG takes integers >= 1 as the raw 32-bit state.
  return randomLcg(h === 0 ? 1 : h);
}

/** Returns a source of uniform numbers in [min, max). */
export function uniformFrom(random: Random, min: number, max: number): Random {
  return randomUniform.source(random)(min, max);
}

/** Returns a source of normal numbers with the given mean and deviation. */
export function normalFrom(random: Random, mean: number, deviation: number): Random {
  return randomNormal.source(random)(mean, deviation);
}

/** Returns 0..n-1 in a seeded random order (d3's Fisher–Yates `shuffler`). */
export function permutation(n: number, random: Random): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return shuffler(random)(order);
}
