import assert from "node:assert/strict";
import { exp64, log1p64 } from "../../model/exp.ts";
import { seededRandom } from "../../model/rng.ts";

const bits = new BigInt64Array(2);
const pair = new Float64Array(bits.buffer);

/** How many float64 steps apart two finite positive numbers are. */
function ulps(a: number, b: number): bigint {
  pair[0] = a;
  pair[1] = b;
  const d = bits[0] - bits[1];
  return d < 0n ? -d : d;
}

/** The next float64 above x (x finite and positive). */
function nextUp(x: number): number {
  pair[0] = x;
  bits[0] += 1n;
  return pair[0];
}

/** The float64 just below x (x finite and positive). */
function nextDown(x: number): number {
  pair[0] = x;
  bits[0] -= 1n;
  return pair[0];
}

/** e^x is below float64's smallest normal from here down. */
const UNDERFLOW = -7.08396418532264106224e+02;
/** e^x overflows float64 above this. */
const OVERFLOW = 7.09782712893383973096e+02;

function assertWithinOneUlp(xs: Iterable<number>) {
  let worst = 0n, at = NaN;
  for (const x of xs) {
    const d = ulps(exp64(x), Math.exp(x));
    if (d > worst) [worst, at] = [d, x];
  }
  assert.ok(worst <= 1n, `exp64(${at}) is ${worst} ulp from Math.exp`);
}

Deno.test("exp64() stays within 1 ulp of Math.exp from underflow to overflow", () => {
  const xs: number[] = [];
  for (let i = 0; i < 20000; i++) {
    xs.push(Math.max(UNDERFLOW, Math.sin(i * 12.9898) * (i % 2 === 0 ? 709.78 : 20)));
  }
  for (let x = -30; x <= 30; x += 0.001) xs.push(x);
  assertWithinOneUlp(xs);
});

Deno.test("exp64() stays within 1 ulp where its reduction switches branch", () => {
  const xs: number[] = [];
  // |x| < 2⁻²⁸ is 1 + x; ln2/2 is where the reduction by k·ln2 starts; k·ln2 ± ln2/2 is where k steps.
  for (const edge of [2 ** -28, 0.34657359027997264]) {
    for (const x of [edge, nextUp(edge), nextDown(edge)]) xs.push(x, -x);
  }
  for (let k = -1021; k <= 1023; k++) {
    for (const x of [k * Math.LN2, (k + 0.5) * Math.LN2]) {
      if (x > UNDERFLOW && x <= OVERFLOW) xs.push(x, nextUp(Math.abs(x)) * Math.sign(x));
    }
  }
  for (let i = -60; i <= 0; i++) xs.push(10 ** i, -(10 ** i));
  assertWithinOneUlp(xs);
});

Deno.test("exp64() is exact at 0 and 1 + x for tiny x", () => {
  assert.equal(exp64(0), 1);
  assert.equal(exp64(-0), 1);
  assert.equal(exp64(1e-12), 1 + 1e-12);
  assert.equal(exp64(-1e-12), 1 - 1e-12);
  assert.equal(exp64(Number.MIN_VALUE), 1);
});

Deno.test("exp64() overflows to Infinity exactly where float64 does", () => {
  assert.ok(Number.isFinite(exp64(OVERFLOW)));
  assert.ok(ulps(exp64(OVERFLOW), Math.exp(OVERFLOW)) <= 1n);
  assert.ok(exp64(OVERFLOW) > 1.79e308);
  assert.equal(exp64(nextUp(OVERFLOW)), Infinity);
  assert.equal(Math.exp(nextUp(OVERFLOW)), Infinity);
  assert.equal(exp64(710), Infinity);
  assert.equal(exp64(1e300), Infinity);
  assert.equal(exp64(Infinity), Infinity);
  // The last octave before overflow (k = 1024) is scaled in two steps.
  for (const x of [709.09, 709.5, 709.78, 709.782]) {
    assert.ok(ulps(exp64(x), Math.exp(x)) <= 1n, `exp64(${x}) = ${exp64(x)}`);
  }
});

Deno.test("exp64() returns 0 instead of a denormal, and nothing smaller than a normal", () => {
  const MIN_NORMAL = 2 ** -1022;
  assert.ok(exp64(UNDERFLOW) >= MIN_NORMAL, String(exp64(UNDERFLOW)));
  assert.equal(exp64(-nextUp(-UNDERFLOW)), 0, "one step below the threshold");
  for (const x of [-708.4, -709, -745, -746, -1e300, -Infinity]) {
    assert.equal(exp64(x), 0, String(x));
    assert.ok(Math.exp(x) < MIN_NORMAL, "where exp64 gives 0, the true value is denormal or 0");
  }
  for (let x = UNDERFLOW; x < UNDERFLOW + 1; x += 0.01) {
    assert.ok(exp64(x) >= MIN_NORMAL, String(x));
  }
});

Deno.test("exp64() passes NaN through", () => {
  assert.ok(Number.isNaN(exp64(NaN)));
});

Deno.test("exp64() never decreases as x grows", () => {
  let previous = 0;
  for (let x = -710; x <= 710; x += 0.0137) {
    const y = exp64(x);
    assert.ok(y >= previous, `exp64(${x}) = ${y} < ${previous}`);
    previous = y;
  }
});

Deno.test("log1p64() stays within 1 ulp of Math.log1p, and is exact where log1p is", () => {
  const random = seededRandom(5, "log1p");
  let worst = 0n, at = NaN;
  for (let i = 0; i < 40000; i++) {
    // Each of its paths: tiny x, no reduction (−0.29 < x < 0.41), and 1 + x reduced, up to 1e300.
    const x = [
      () => random() * 2e-9,
      () => random() * 0.7 - 0.29,
      () => random(),
      () => 0.41 + random() * 1e6,
      () => Math.exp(random() * 690),
      () => random() * 0.7 - 0.99,
    ][i % 6]();
    const d = ulps(Math.abs(log1p64(x)), Math.abs(Math.log1p(x)));
    if (d > worst) [worst, at] = [d, x];
  }
  assert.ok(worst <= 1n, `log1p64(${at}) is ${worst} ulp from Math.log1p`);
  // Below 2⁻⁵⁴, x itself; ±0 keep their sign; the edges of the domain.
  for (const x of [0, -0, 1e-300, 5e-324, 2 ** -55, -(2 ** -55)]) {
    assert.ok(Object.is(log1p64(x), x));
  }
  assert.equal(log1p64(-1), -Infinity);
  assert.ok(Number.isNaN(log1p64(-1.5)) && Number.isNaN(log1p64(NaN)));
  assert.ok(Number.isNaN(log1p64(-Infinity)));
  assert.equal(log1p64(Infinity), Infinity);
  assert.equal(log1p64(1), Math.LN2);
});
