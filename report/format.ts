/**
 * How numbers read wherever people see them (terminal tables, log lines, the
 * HTML reports): accuracies as percentages, differences in percentage points,
 * and p-values. One place, so a figure reads the same on every page.
 *
 * @module
 */

/** A mean over seeds and its sample deviation (null for a single seed). */
export interface MeanAndDeviation {
  /** The mean. */
  mean: number;
  /** The sample standard deviation, or null when there is only one value. */
  sd: number | null;
}

/**
 * A fraction 0..1 as a percentage with two decimals; `missing` stands for null or undefined.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percent } from "./format.ts";
 * assert.equal(percent(0.97314), "97.31%");
 * assert.equal(percent(null), "–");
 * assert.equal(percent(undefined, "?"), "?");
 * ```
 */
export function percent(fraction: number | null | undefined, missing = "–"): string {
  return fraction === null || fraction === undefined ? missing : `${(100 * fraction).toFixed(2)}%`;
}

/**
 * A mean of fractions as a percentage, then `± sd` in points when there is a deviation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { percentSpread } from "./format.ts";
 * assert.equal(percentSpread({ mean: 0.975, sd: 0.0025 }), "97.50% ± 0.25");
 * assert.equal(percentSpread({ mean: 0.975, sd: null }), "97.50%");
 * ```
 */
export function percentSpread(spread: MeanAndDeviation): string {
  const sd = spread.sd === null ? "" : ` ± ${(100 * spread.sd).toFixed(2)}`;
  return `${percent(spread.mean)}${sd}`;
}

/** A signed figure with two decimals and a true minus sign (U+2212). */
function signed(value: number): string {
  return `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(2)}`;
}

/**
 * A difference already in percentage points, always signed (a true minus, U+2212), two decimals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { points } from "./format.ts";
 * assert.equal(points(1.5), "+1.50 points");
 * assert.equal(points(-0.25), "−0.25 points");
 * ```
 */
export function points(difference: number): string {
  return `${signed(difference)} points`;
}

/**
 * A mean difference in points, then `± sd` when there is a deviation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pointsSpread } from "./format.ts";
 * assert.equal(pointsSpread({ mean: -1.5, sd: 0.254 }), "−1.50 ± 0.25 points");
 * assert.equal(pointsSpread({ mean: 2, sd: null }), "+2.00 points");
 * ```
 */
export function pointsSpread(spread: MeanAndDeviation): string {
  const sd = spread.sd === null ? "" : ` ± ${spread.sd.toFixed(2)}`;
  return `${signed(spread.mean)}${sd} points`;
}

/**
 * A p-value for people: four decimals down to 0.001, then scientific with two.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pValue } from "./format.ts";
 * assert.equal(pValue(0.21875), "0.2188");
 * assert.equal(pValue(0.000123), "1.23e-4");
 * ```
 */
export function pValue(p: number): string {
  return p >= 0.001 ? p.toFixed(4) : p.toExponential(2);
}
