// AssemblyScript: elementwise kernels, compiled into kernels/gemm.wasm.
//
// Each function mirrors its TypeScript twin in model/ operation for operation
// (float64 throughout, IEEE rounding, nothing fused), so both give the same bits.

const LN2_HI: f64 = 6.93147180369123816490e-01;
const LN2_LO: f64 = 1.90821492927058770002e-10;
const INV_LN2: f64 = 1.44269504088896338700e+00;
const P1: f64 = 1.66666666666666019037e-01;
const P2: f64 = -2.77777777770155933842e-03;
const P3: f64 = 6.61375632143793436117e-05;
const P4: f64 = -1.65339022054652515390e-06;
const P5: f64 = 4.13813679705723846039e-08;
const OVERFLOW: f64 = 7.09782712893383973096e+02;
const UNDERFLOW: f64 = -7.08396418532264106224e+02;
const FLOAT32_MIN_NORMAL: f64 = 1.1754943508222875e-38;

/** model/exp.ts `exp64`. */
function exp64(x: f64): f64 {
  if (x != x) return x;
  if (x > OVERFLOW) return Infinity;
  if (x < UNDERFLOW) return 0;
  const ax = x < 0 ? -x : x;
  if (ax < 3.725290298461914e-9) return 1 + x;
  let k: i32 = 0;
  let hi = x;
  let lo: f64 = 0;
  if (ax > 0.34657359027997264) {
    k = <i32>(INV_LN2 * x + (x < 0 ? -0.5 : 0.5));
    hi = x - <f64>k * LN2_HI;
    lo = <f64>k * LN2_LO;
  }
  const r = hi - lo;
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  if (k == 0) return 1 - ((r * c) / (c - 2) - r);
  const y = 1 - ((lo - (r * c) / (2 - c)) - hi);
  if (k == 1024) return y * 2 * 8.98846567431158e307;
  return y * reinterpret<f64>(<i64>(k + 1023) << 52);
}

/** model/activations.ts `flushDenormal`. */
// @ts-ignore: decorator
@inline
function flushDenormal(v: f64): f64 {
  return v > -FLOAT32_MIN_NORMAL && v < FLOAT32_MIN_NORMAL ? 0 : v;
}

/** model/activations.ts `sigmoidExp`. */
// @ts-ignore: decorator
@inline
function sigmoidExp(x: f64): f64 {
  return x < -87.4 ? 0 : exp64(x);
}

/** model/activations.ts `sigmoid`. */
function sigmoid(z: f64): f64 {
  if (z >= 0) return 1 / (1 + sigmoidExp(-z));
  const e = sigmoidExp(z);
  return flushDenormal(e / (1 + e));
}

/** a[i] = sigmoid(z[i]) for i in [i0, i1), over float32 arrays. */
export function sigmoidRange(i0: i32, i1: i32, z: usize, a: usize): void {
  for (let i = i0; i < i1; i++) {
    const at = <usize>i << 2;
    store<f32>(a + at, <f32>sigmoid(<f64>load<f32>(z + at)));
  }
}
