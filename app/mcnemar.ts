/**
 * McNemar's exact test on paired predictions: of the test images exactly one
 * of two models gets right, is the split between them further from even than
 * chance allows?
 *
 * @module
 */

import type { McNemarResult } from "../report/views.ts";

export type { McNemarResult };

/** ln(n!) by summing logs, exact enough for the n ≤ a few thousand McNemar sees. */
function logFactorials(n: number): Float64Array {
  const table = new Float64Array(n + 1);
  for (let k = 2; k <= n; k++) table[k] = table[k - 1] + Math.log(k);
  return table;
}

/**
 * The two-sided exact McNemar p-value for discordant counts b and c. Works in
 * log space, since C(b + c, k) / 2^(b + c) under- and overflows for the
 * thousands of discordant images two weak models can have.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * // 2·(1 + 6)/2^6 = 0.21875, to within rounding of the log-space sum
 * assert.ok(Math.abs(mcnemarExact(1, 5) - 0.21875) < 1e-12);
 * ```
 */
export function mcnemarExact(b: number, c: number): number {
  for (const [name, value] of [["b", b], ["c", c]] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw new RangeError(
        `Cannot run McNemar's test as ${name} must be a count (an integer ≥ 0): current value is ${value}`,
      );
    }
  }
  const n = b + c;
  if (n === 0) return 1;
  const k = Math.min(b, c);
  const lf = logFactorials(n);
  const logHalf = n * Math.log(0.5);
  // Sum the tail P(X ≤ k) with log-sum-exp, anchored at its largest term (the one at k).
  const terms: number[] = [];
  for (let i = 0; i <= k; i++) terms.push(lf[n] - lf[i] - lf[n - i] + logHalf);
  const top = terms[k];
  let sum = 0;
  for (const t of terms) sum += Math.exp(t - top);
  return Math.min(1, 2 * Math.exp(top + Math.log(sum)));
}

/** Counts the images only `first` or only `second` classifies correctly, and tests the split. */
export function mcnemar(
  labels: Uint8Array,
  first: Uint8Array,
  second: Uint8Array,
): McNemarResult {
  if (first.length !== labels.length || second.length !== labels.length) {
    throw new RangeError(
      `Cannot pair predictions as both sets must have one per label: ${labels.length} labels, ` +
        `${first.length} and ${second.length} predictions`,
    );
  }
  let b = 0, c = 0;
  for (let i = 0; i < labels.length; i++) {
    const a = first[i] === labels[i], d = second[i] === labels[i];
    if (a && !d) b++;
    else if (d && !a) c++;
  }
  return { b, c, pValue: mcnemarExact(b, c) };
}
