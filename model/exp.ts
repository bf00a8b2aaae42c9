/**
 * `exp` in float64, written out so the WebAssembly kernels can compute the very
 * same bits (kernels/assembly/elementwise.ts mirrors it operation for
 * operation; both languages round every float64 operation the IEEE way and
 * never fuse them). The classic fdlibm method: x = k·ln2 + r with |r| ≤ ln2/2,
 * a rational approximation of e^r, then a scale by 2^k. Within 1 ulp of the
 * true value.
 *
 * @module
 */

const LN2_HI = 6.93147180369123816490e-01;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.44269504088896338700e+00;
const P1 = 1.66666666666666019037e-01;
const P2 = -2.77777777770155933842e-03;
const P3 = 6.61375632143793436117e-05;
const P4 = -1.65339022054652515390e-06;
const P5 = 4.13813679705723846039e-08;
/** Above this, e^x overflows float64. */
const OVERFLOW = 7.09782712893383973096e+02;
/** Below this, e^x is below float64's smallest normal; we return 0 there. */
const UNDERFLOW = -7.08396418532264106224e+02;

/** 2^k for every k that a normal result needs, exact. */
const POWERS_OF_TWO = Float64Array.from({ length: 2046 }, (_, i) => 2 ** (i - 1022));

/**
 * e^x, within 1 ulp; 0 below e^−708.4 (where float64 turns denormal) and
 * Infinity above e^709.8.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { exp64 } from "./exp.ts";
 * assert.equal(exp64(0), 1);
 * assert.ok(Math.abs(exp64(1) - Math.E) <= Number.EPSILON * Math.E);
 * ```
 */
export function exp64(x: number): number {
  if (x !== x) return x;
  if (x > OVERFLOW) return Infinity;
  if (x < UNDERFLOW) return 0;
  const ax = x < 0 ? -x : x;
  if (ax < 3.725290298461914e-9) return 1 + x; // |x| < 2^-28
  let k = 0;
  let hi = x;
  let lo = 0;
  if (ax > 0.34657359027997264) { // ln2 / 2
    k = Math.trunc(INV_LN2 * x + (x < 0 ? -0.5 : 0.5));
    hi = x - k * LN2_HI;
    lo = k * LN2_LO;
  }
  const r = hi - lo;
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k === 0) return 1 - ((r * c) / (c - 2) - r);
  const y = 1 - ((lo - (r * c) / (2 - c)) - hi);
  // 2^1024 is not a float64: scale in two steps just below overflow.
  if (k === 1024) return y * 2 * 8.98846567431158e307;
  return y * POWERS_OF_TWO[k + 1022];
}
