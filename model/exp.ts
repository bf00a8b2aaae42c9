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

const LP1 = 6.666666666666735130e-01;
const LP2 = 3.999999999940941908e-01;
const LP3 = 2.857142874366239149e-01;
const LP4 = 2.222219843214978396e-01;
const LP5 = 1.818357216161805012e-01;
const LP6 = 1.531383769920937332e-01;
const LP7 = 1.479819860511658591e-01;

/** One float64 and its two 32-bit halves (little-endian: the high word is index 1). */
const BITS = new Float64Array(1);
const WORDS = new Int32Array(BITS.buffer);

/** The high 32 bits of x's float64 encoding, as a signed integer. */
function highWord(x: number): number {
  BITS[0] = x;
  return WORDS[1];
}

/** x with its high 32 bits replaced by `high`. */
function withHighWord(x: number, high: number): number {
  BITS[0] = x;
  WORDS[1] = high;
  return BITS[0];
}

/**
 * ln(1 + x) in float64, within 1 ulp, accurate for tiny x; written out, as
 * {@linkcode exp64}, so the WebAssembly kernels compute the very same bits
 * (fdlibm's log1p: 1 + x = 2^k·(1 + f) with √2/2 ≤ 1 + f < √2, then a
 * polynomial in s = f/(2 + f), with a term that corrects 1 + x's rounding).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { log1p64 } from "./exp.ts";
 * assert.equal(log1p64(0), 0);
 * assert.equal(log1p64(1e-300), 1e-300);
 * assert.ok(Math.abs(log1p64(1) - Math.LN2) <= Number.EPSILON * Math.LN2);
 * ```
 */
export function log1p64(x: number): number {
  const hx = highWord(x);
  const ax = hx & 0x7fffffff;
  let k = 1;
  let f = 0, c = 0, hu = 0;
  if (hx < 0x3fda827a) { // x < 0.41422
    if (ax >= 0x3ff00000) { // x ≤ −1
      return x === -1 ? -Infinity : NaN;
    }
    if (ax < 0x3e200000) { // |x| < 2^-29
      return ax < 0x3c900000 ? x : x - x * x * 0.5; // |x| < 2^-54: x itself
    }
    if (hx > 0 || hx <= (0xbfd2bec3 | 0)) { // −0.2929 < x < 0.41422: no reduction
      k = 0;
      f = x;
      hu = 1;
    }
  }
  if (hx >= 0x7ff00000) return x + x; // +Infinity or NaN
  if (k !== 0) {
    let u: number;
    if (hx < 0x43400000) { // x < 2^53: 1 + x rounds, so keep what it lost
      u = 1 + x;
      hu = highWord(u);
      k = (hu >> 20) - 1023;
      c = k > 0 ? 1 - (u - x) : x - (u - 1);
      c /= u;
    } else {
      u = x;
      hu = highWord(u);
      k = (hu >> 20) - 1023;
      c = 0;
    }
    hu &= 0x000fffff;
    if (hu < 0x6a09e) { // 1 + f < √2
      u = withHighWord(u, hu | 0x3ff00000);
    } else {
      k += 1;
      u = withHighWord(u, hu | 0x3fe00000);
      hu = (0x00100000 - hu) >> 2;
    }
    f = u - 1;
  }
  const hfsq = 0.5 * f * f;
  if (hu === 0) { // |f| < 2^-20
    if (f === 0) return k === 0 ? 0 : k * LN2_HI + (c + k * LN2_LO);
    const r = hfsq * (1 - 0.66666666666666666 * f);
    return k === 0 ? f - r : k * LN2_HI - ((r - (k * LN2_LO + c)) - f);
  }
  const s = f / (2 + f);
  const z = s * s;
  const r = z * (LP1 + z * (LP2 + z * (LP3 + z * (LP4 + z * (LP5 + z * (LP6 + z * LP7))))));
  if (k === 0) return f - (hfsq - s * (hfsq + r));
  return k * LN2_HI - ((hfsq - (s * (hfsq + r) + (k * LN2_LO + c))) - f);
}
