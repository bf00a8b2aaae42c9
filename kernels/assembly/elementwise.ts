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
const LN2_HALF: f64 = 0.34657359027997264;
const TINY: f64 = 3.725290298461914e-9;
/** The smallest float64 whose high word is 0x3fda827a: log1p64 reduces 1 + x from here. */
const LOG1P_NO_REDUCTION: f64 = reinterpret<f64>(<i64>0x3fda827a00000000);

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

const LP1: f64 = 6.666666666666735130e-01;
const LP2: f64 = 3.999999999940941908e-01;
const LP3: f64 = 2.857142874366239149e-01;
const LP4: f64 = 2.222219843214978396e-01;
const LP5: f64 = 1.818357216161805012e-01;
const LP6: f64 = 1.531383769920937332e-01;
const LP7: f64 = 1.479819860511658591e-01;

/**
 * The float64 and int64 constants of the two-lane paths below, each stored
 * twice (one v128 apiece) in a data segment in the memory's first page, which
 * the TypeScript side never hands out (its allocator starts at 64 KiB). V8
 * builds a splatted constant anew at each use, in three or four instructions
 * (its loops run out of registers to keep them in); a load from a fixed
 * address below the memory's minimum size is one, with no bounds check.
 * {@link pairOf} reads entry K_….
 */
const PAIRS = memory.data<i64>([
  reinterpret<i64>(<f64>1), reinterpret<i64>(<f64>1),
  reinterpret<i64>(<f64>2), reinterpret<i64>(<f64>2),
  reinterpret<i64>(<f64>0.5), reinterpret<i64>(<f64>0.5),
  reinterpret<i64>(<f64>-0.5), reinterpret<i64>(<f64>-0.5),
  reinterpret<i64>(<f64>LN2_HI), reinterpret<i64>(<f64>LN2_HI),
  reinterpret<i64>(<f64>LN2_LO), reinterpret<i64>(<f64>LN2_LO),
  reinterpret<i64>(<f64>INV_LN2), reinterpret<i64>(<f64>INV_LN2),
  reinterpret<i64>(<f64>LN2_HALF), reinterpret<i64>(<f64>LN2_HALF),
  reinterpret<i64>(<f64>P1), reinterpret<i64>(<f64>P1),
  reinterpret<i64>(<f64>P2), reinterpret<i64>(<f64>P2),
  reinterpret<i64>(<f64>P3), reinterpret<i64>(<f64>P3),
  reinterpret<i64>(<f64>P4), reinterpret<i64>(<f64>P4),
  reinterpret<i64>(<f64>P5), reinterpret<i64>(<f64>P5),
  reinterpret<i64>(<f64>TINY), reinterpret<i64>(<f64>TINY),
  reinterpret<i64>(<f64>-87.4), reinterpret<i64>(<f64>-87.4),
  reinterpret<i64>(<f64>FLOAT32_MIN_NORMAL), reinterpret<i64>(<f64>FLOAT32_MIN_NORMAL),
  reinterpret<i64>(<f64>LP1), reinterpret<i64>(<f64>LP1),
  reinterpret<i64>(<f64>LP2), reinterpret<i64>(<f64>LP2),
  reinterpret<i64>(<f64>LP3), reinterpret<i64>(<f64>LP3),
  reinterpret<i64>(<f64>LP4), reinterpret<i64>(<f64>LP4),
  reinterpret<i64>(<f64>LP5), reinterpret<i64>(<f64>LP5),
  reinterpret<i64>(<f64>LP6), reinterpret<i64>(<f64>LP6),
  reinterpret<i64>(<f64>LP7), reinterpret<i64>(<f64>LP7),
  0x3fda827a00000000, 0x3fda827a00000000, // LOG1P_NO_REDUCTION
  reinterpret<i64>(<f64>0.66666666666666666), reinterpret<i64>(<f64>0.66666666666666666),
  reinterpret<i64>(<f64>5.551115123125783e-17), reinterpret<i64>(<f64>5.551115123125783e-17),
  reinterpret<i64>(<f64>1.862645149230957e-9), reinterpret<i64>(<f64>1.862645149230957e-9),
  reinterpret<i64>(<f64>5e-17), reinterpret<i64>(<f64>5e-17),
  1023, 1023,
  0x000fffff, 0x000fffff,
  0x6a09e, 0x6a09e,
  0x3ff00000, 0x3ff00000,
  0x3fe00000, 0x3fe00000,
  0xffffffff, 0xffffffff,
  1, 1,
  0x00100000, 0x00100000,
  0x42b0000042b00000, 0x42b0000042b00000, // 88 in four float32 lanes
  0x3f8000003f800000, 0x3f8000003f800000, // 1 in four float32 lanes
]);

// Entries of PAIRS, in its order.
const K_ONE = 0;
const K_TWO = 1;
const K_HALF = 2;
const K_MINUS_HALF = 3;
const K_LN2_HI = 4;
const K_LN2_LO = 5;
const K_INV_LN2 = 6;
const K_LN2_HALF = 7;
const K_P1 = 8;
const K_P2 = 9;
const K_P3 = 10;
const K_P4 = 11;
const K_P5 = 12;
const K_TINY = 13;
const K_SIGMOID_CUT = 14;
const K_FLOAT32_MIN_NORMAL = 15;
const K_LP1 = 16;
const K_LP2 = 17;
const K_LP3 = 18;
const K_LP4 = 19;
const K_LP5 = 20;
const K_LP6 = 21;
const K_LP7 = 22;
const K_LOG1P_NO_REDUCTION = 23;
const K_TWO_THIRDS = 24;
const K_LOG1P_SQUARE_CUT = 25;
const K_LOG1P_TINY = 26;
const K_LOG1P_SKIP = 27;
const K_EXPONENT_BIAS = 28;
const K_MANTISSA_HIGH = 29;
const K_SQRT2_MANTISSA = 30;
const K_EXPONENT_ONE = 31;
const K_EXPONENT_HALF = 32;
const K_LOW_WORD = 33;
const K_I_ONE = 34;
const K_HIDDEN_BIT = 35;
const K_F32_SATURATED = 36;
const K_F32_ONE = 37;

/** Entry `index` of {@link PAIRS}: a constant in both lanes. */
// @ts-ignore: decorator
@inline
function pairOf(index: i32): v128 {
  return v128.load(PAIRS + (<usize>index << 4));
}

/** The high 32 bits of x's encoding. */
// @ts-ignore: decorator
@inline
function highWord(x: f64): i32 {
  return <i32>(reinterpret<i64>(x) >> 32);
}

/** model/exp.ts `log1p64`. */
function log1p64(x: f64): f64 {
  const hx = highWord(x);
  const ax = hx & 0x7fffffff;
  let k: i32 = 1;
  let f: f64 = 0, c: f64 = 0;
  let hu: i32 = 0;
  if (hx < 0x3fda827a) {
    if (ax >= 0x3ff00000) return x == -1 ? -Infinity : NaN;
    if (ax < 0x3e200000) return ax < 0x3c900000 ? x : x - x * x * 0.5;
    if (hx > 0 || hx <= <i32>0xbfd2bec3) {
      k = 0;
      f = x;
      hu = 1;
    }
  }
  if (hx >= 0x7ff00000) return x + x;
  if (k != 0) {
    let u: f64;
    if (hx < 0x43400000) {
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
    const low = reinterpret<i64>(u) & 0xffffffff;
    if (hu < 0x6a09e) {
      u = reinterpret<f64>((<i64>(hu | 0x3ff00000) << 32) | low);
    } else {
      k += 1;
      u = reinterpret<f64>((<i64>(hu | 0x3fe00000) << 32) | low);
      hu = (0x00100000 - hu) >> 2;
    }
    f = u - 1;
  }
  const hfsq = 0.5 * f * f;
  const kf = <f64>k;
  if (hu == 0) {
    if (f == 0) return k == 0 ? 0 : kf * LN2_HI + (c + kf * LN2_LO);
    const r = hfsq * (1 - 0.66666666666666666 * f);
    return k == 0 ? f - r : kf * LN2_HI - ((r - (kf * LN2_LO + c)) - f);
  }
  const s = f / (2 + f);
  const z = s * s;
  const r = z * (LP1 + z * (LP2 + z * (LP3 + z * (LP4 + z * (LP5 + z * (LP6 + z * LP7))))));
  if (k == 0) return f - (hfsq - s * (hfsq + r));
  return kf * LN2_HI - ((hfsq - (s * (hfsq + r) + (kf * LN2_LO + c))) - f);
}

/** Two lanes' i64 low 32 bits as f64 (the k of log1p2, small integers). */
// @ts-ignore: decorator
@inline
function lowWordsToF64(v: v128): v128 {
  return f64x2.convert_low_i32x4_s(i8x16.shuffle(v, v, 0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11));
}

/** (LP1 + z·(LP2 + … z·LP7))·z, log1p's polynomial, two lanes. */
// @ts-ignore: decorator
@inline
function log1pPoly2(z: v128): v128 {
  let r = f64x2.add(pairOf(K_LP6), f64x2.mul(z, pairOf(K_LP7)));
  r = f64x2.add(pairOf(K_LP5), f64x2.mul(z, r));
  r = f64x2.add(pairOf(K_LP4), f64x2.mul(z, r));
  r = f64x2.add(pairOf(K_LP3), f64x2.mul(z, r));
  r = f64x2.add(pairOf(K_LP2), f64x2.mul(z, r));
  r = f64x2.add(pairOf(K_LP1), f64x2.mul(z, r));
  return f64x2.mul(z, r);
}

/**
 * {@link log1p64} of two float64 lanes x in [0, 1] (or NaN, which stays NaN),
 * operation for operation, without branches: every lane computes each path
 * log1p64 can take there, and the lane's own is selected. x < 2⁻²⁹: x or
 * x − x²/2; x < 0.41422 (high word below 0x3fda827a): f = x, k = 0; above:
 * 1 + x = 2^k·(1 + f) with the rounding correction c, and, where f's high
 * bits vanish, the short form (or, for f = 0, k·ln2 + c alone).
 */
// @ts-ignore: decorator
@inline
function log1p2(x: v128): v128 {
  const one = pairOf(K_ONE), half = pairOf(K_HALF), zero = f64x2.splat(0);
  // x < 0.41422 (high word below 0x3fda827a): f = x, k = 0, c = 0. Above: reduce 1 + x.
  const middle = f64x2.lt(x, pairOf(K_LOG1P_NO_REDUCTION));
  const u = f64x2.add(one, x);
  const hu = i64x2.shr_s(u, 32);
  const k = i64x2.sub(i64x2.shr_s(hu, 20), pairOf(K_EXPONENT_BIAS));
  let c = v128.bitselect(
    f64x2.sub(one, f64x2.sub(u, x)),
    f64x2.sub(x, f64x2.sub(u, one)),
    i64x2.gt_s(k, i64x2.splat(0)),
  );
  c = v128.andnot(f64x2.div(c, u), middle);
  const mantissa = v128.and(hu, pairOf(K_MANTISSA_HIGH));
  const below = i64x2.lt_s(mantissa, pairOf(K_SQRT2_MANTISSA));
  const exponent = v128.bitselect(pairOf(K_EXPONENT_ONE), pairOf(K_EXPONENT_HALF), below);
  const scaled = v128.or(
    v128.and(u, pairOf(K_LOW_WORD)),
    i64x2.shl(v128.or(mantissa, exponent), 32),
  );
  // k + 1 where 1 + f was halved: the mask is −1 where it was not.
  const kf = v128.andnot(lowWordsToF64(i64x2.add(i64x2.add(k, pairOf(K_I_ONE)), below)), middle);
  // log1p64's hu: 1 on the middle path, so never 0 there.
  const hu2 = v128.bitselect(
    mantissa,
    i64x2.shr_s(i64x2.sub(pairOf(K_HIDDEN_BIT), mantissa), 2),
    below,
  );
  const f = v128.bitselect(x, f64x2.sub(scaled, one), middle);
  const hfsq = f64x2.mul(f64x2.mul(half, f), f);
  const kHi = f64x2.mul(kf, pairOf(K_LN2_HI));
  const kLoC = f64x2.add(f64x2.mul(kf, pairOf(K_LN2_LO)), c);
  const s = f64x2.div(f, f64x2.add(pairOf(K_TWO), f));
  const r = log1pPoly2(f64x2.mul(s, s));
  // With k = 0 and c = 0 this is log1p64's f − (hfsq − s·(hfsq + r)) bit for bit: s·(hfsq + r)
  // > 0, so adding +0 keeps it, and 0 − (b − f) = f − b as rounding is symmetric.
  const general = f64x2.sub(
    kHi,
    f64x2.sub(f64x2.sub(hfsq, f64x2.add(f64x2.mul(s, f64x2.add(hfsq, r)), kLoC)), f),
  );
  const shortR = f64x2.mul(
    hfsq,
    f64x2.sub(one, f64x2.mul(pairOf(K_TWO_THIRDS), f)),
  );
  const short = f64x2.sub(kHi, f64x2.sub(f64x2.sub(shortR, kLoC), f));
  const exact = f64x2.add(kHi, f64x2.add(c, f64x2.mul(kf, pairOf(K_LN2_LO))));
  const reduced = v128.bitselect(
    v128.bitselect(exact, short, f64x2.eq(f, zero)),
    general,
    v128.andnot(i64x2.eq(hu2, i64x2.splat(0)), middle),
  );
  // x < 2⁻²⁹: x, or x − x·x·0.5 from 2⁻⁵⁴.
  const tiny = v128.bitselect(
    x,
    f64x2.sub(x, f64x2.mul(f64x2.mul(x, x), half)),
    f64x2.lt(x, pairOf(K_LOG1P_SQUARE_CUT)),
  );
  return v128.bitselect(tiny, reduced, f64x2.lt(x, pairOf(K_LOG1P_TINY)));
}


/** `flushDenormal` of two float64 lanes: +0 where |v| is below float32's smallest normal. */
// @ts-ignore: decorator
@inline
function flushDenormal2(v: v128): v128 {
  return v128.andnot(v, f64x2.lt(f64x2.abs(v), pairOf(K_FLOAT32_MIN_NORMAL)));
}

/**
 * The first half of two units of {@link logisticLossRange} (float64 lanes z
 * and y): stores e = exp(−|z|) at `cost`, for the second half, and returns
 * their sigmoid and gradient as float32 lanes [a₀, a₁, dz₀, dz₁].
 */
// @ts-ignore: decorator
@inline
function logisticForward2(z: v128, y: v128, factor: v128, cost: usize): v128 {
  const one = pairOf(K_ONE);
  const e = sigmoidExp2(f64x2.neg(f64x2.abs(z)));
  const onePlus = f64x2.add(one, e);
  const sigmoids = v128.bitselect(
    f64x2.div(one, onePlus),
    flushDenormal2(f64x2.div(e, onePlus)),
    f64x2.ge(z, f64x2.splat(0)),
  );
  const a = f32x4.demote_f64x2_zero(sigmoids);
  const grad = flushDenormal2(f64x2.mul(f64x2.sub(f64x2.promote_low_f32x4(a), y), factor));
  v128.store(cost, e);
  return i64x2.shuffle(a, f32x4.demote_f64x2_zero(grad), 0, 2);
}

/** The second half: from e at `cost`, the two units' costs, stored over it. */
// @ts-ignore: decorator
@inline
function logisticCost2(z: v128, y: v128, cost: usize): void {
  const zero = f64x2.splat(0), one = pairOf(K_ONE);
  const e = v128.load(cost);
  const tail = v128.bitselect(e, log1p2(e), f64x2.lt(e, pairOf(K_LOG1P_SKIP)));
  v128.store(
    cost,
    f64x2.add(
      f64x2.mul(y, f64x2.add(f64x2.max(f64x2.neg(z), zero), tail)),
      f64x2.mul(f64x2.sub(one, y), f64x2.add(f64x2.max(z, zero), tail)),
    ),
  );
}

/** {@link logisticLossRange}'s `passes`: the sigmoids and gradients (staging each unit's e). */
const FORWARD_PASS = 1;
/** {@link logisticLossRange}'s `passes`: the costs, from the staged e. */
const COST_PASS = 2;

/**
 * model/network.ts `outputLoss("sigmoid", …)` over units [i0, i1): writes the
 * sigmoids to a, the scaled gradients to dz, and each unit's logistic cost
 * (float64) to `terms`, for the caller to sum in index order. `scale` is the
 * address of the float64 gradient scale. Four units at a time, in two passes
 * (the sigmoids, then the costs): each unit's chain of dependent operations
 * is long, and two shorter loops keep more units in flight (about 12% faster).
 * `passes` picks them: 1, the first (which stages each unit's exp(−|z|) in
 * `terms`); 2, the second (from the staged values, later, on any thread); 3, both.
 */
export function logisticLossRange(
  i0: i32,
  i1: i32,
  z: usize,
  y: usize,
  a: usize,
  dz: usize,
  terms: usize,
  scale: usize,
  passes: i32,
): void {
  const whole = i0 + ((i1 - i0) & ~3);
  if (passes & FORWARD_PASS) {
    const factor = load<f64>(scale);
    const factors = f64x2.splat(factor);
    for (let i = i0; i < whole; i += 4) {
      const at = <usize>i << 2;
      const zs = v128.load(z + at), ys = v128.load(y + at);
      const cost = terms + (<usize>i << 3);
      const low = logisticForward2(
        f64x2.promote_low_f32x4(zs),
        f64x2.promote_low_f32x4(ys),
        factors,
        cost,
      );
      const high = logisticForward2(
        f64x2.promote_low_f32x4(i64x2.shuffle(zs, zs, 1, 0)),
        f64x2.promote_low_f32x4(i64x2.shuffle(ys, ys, 1, 0)),
        factors,
        cost + 16,
      );
      v128.store(a + at, i64x2.shuffle(low, high, 0, 2));
      v128.store(dz + at, i64x2.shuffle(low, high, 1, 3));
    }
    for (let i = whole; i < i1; i++) {
      const at = <usize>i << 2;
      const zi = <f64>load<f32>(z + at);
      const e = sigmoidExp(-Math.abs(zi));
      const ai = <f32>(zi >= 0 ? 1 / (1 + e) : flushDenormal(e / (1 + e)));
      store<f32>(a + at, ai);
      store<f64>(terms + (<usize>i << 3), e);
      const yi = <f64>load<f32>(y + at);
      store<f32>(dz + at, <f32>flushDenormal((<f64>ai - yi) * factor));
    }
  }
  if (passes & COST_PASS) {
    for (let i = i0; i < whole; i += 4) {
      const at = <usize>i << 2;
      const zs = v128.load(z + at), ys = v128.load(y + at);
      const cost = terms + (<usize>i << 3);
      logisticCost2(f64x2.promote_low_f32x4(zs), f64x2.promote_low_f32x4(ys), cost);
      logisticCost2(
        f64x2.promote_low_f32x4(i64x2.shuffle(zs, zs, 1, 0)),
        f64x2.promote_low_f32x4(i64x2.shuffle(ys, ys, 1, 0)),
        cost + 16,
      );
    }
    for (let i = whole; i < i1; i++) {
      const at = <usize>i << 2;
      const zi = <f64>load<f32>(z + at);
      const e = load<f64>(terms + (<usize>i << 3));
      const tail = e < 5e-17 ? e : log1p64(e);
      const yi = <f64>load<f32>(y + at);
      store<f64>(
        terms + (<usize>i << 3),
        yi * (Math.max(-zi, 0) + tail) + (1 - yi) * (Math.max(zi, 0) + tail),
      );
    }
  }
}

/** model/activations.ts `sigmoid`. */
function sigmoid(z: f64): f64 {
  if (z >= 0) return 1 / (1 + sigmoidExp(-z));
  const e = sigmoidExp(z);
  return flushDenormal(e / (1 + e));
}


/**
 * {@link sigmoidExp} of two float64 lanes x ≤ 0 (x = −|z| for {@link sigmoid}
 * and the logistic loss), operation for operation, without branches. There exp64 takes one
 * of three paths: 1 + x (|x| < 2⁻²⁸), 0 (x < −87.4, sigmoidExp's cut), or the
 * reduction; every lane computes the reduction and the other two are selected
 * over it. With k = 0 the reduction's general formula gives exp64's k = 0
 * formula's very bits: hi = x − 0 = x, lo = +0, and
 * 1 − ((0 − rc/(2 − c)) − r) = 1 − (rc/(c − 2) − r) exactly, as negating and
 * subtracting from zero are exact (rc ≠ 0 there); the scale by 2⁰ is exact too.
 * A NaN lane gives back its own NaN, as the scalar path's operations do.
 */
// @ts-ignore: decorator
@inline
function sigmoidExp2(x: v128): v128 {
  const ax = f64x2.abs(x);
  const reduce = f64x2.gt(ax, pairOf(K_LN2_HALF));
  const kf = v128.and(
    f64x2.trunc(f64x2.add(f64x2.mul(pairOf(K_INV_LN2), x), pairOf(K_MINUS_HALF))),
    reduce,
  );
  const hi = f64x2.sub(x, f64x2.mul(kf, pairOf(K_LN2_HI)));
  const lo = f64x2.mul(kf, pairOf(K_LN2_LO));
  const r = f64x2.sub(hi, lo);
  const t = f64x2.mul(r, r);
  let poly = f64x2.add(pairOf(K_P4), f64x2.mul(t, pairOf(K_P5)));
  poly = f64x2.add(pairOf(K_P3), f64x2.mul(t, poly));
  poly = f64x2.add(pairOf(K_P2), f64x2.mul(t, poly));
  poly = f64x2.add(pairOf(K_P1), f64x2.mul(t, poly));
  const c = f64x2.sub(r, f64x2.mul(t, poly));
  const one = pairOf(K_ONE);
  const q = f64x2.div(f64x2.mul(r, c), f64x2.sub(pairOf(K_TWO), c));
  const y = f64x2.sub(one, f64x2.sub(f64x2.sub(lo, q), hi));
  const k = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(kf));
  const scale = i64x2.shl(i64x2.add(k, pairOf(K_EXPONENT_BIAS)), 52);
  let e = f64x2.mul(y, scale);
  e = v128.bitselect(f64x2.add(one, x), e, f64x2.lt(ax, pairOf(K_TINY)));
  return v128.andnot(e, f64x2.lt(x, pairOf(K_SIGMOID_CUT)));
}

/** {@link sigmoid} of two float64 lanes, without branches (see sigmoidExp2). */
// @ts-ignore: decorator
@inline
function sigmoid2(z: v128): v128 {
  const e = sigmoidExp2(f64x2.neg(f64x2.abs(z)));
  const one = pairOf(K_ONE);
  const onePlus = f64x2.add(one, e);
  const positive = f64x2.div(one, onePlus);
  let negative = f64x2.div(e, onePlus);
  // flushDenormal: |v| < the smallest normal float32 gives 0 (NaN compares false: kept).
  negative = v128.andnot(
    negative,
    f64x2.lt(f64x2.abs(negative), pairOf(K_FLOAT32_MIN_NORMAL)),
  );
  const result = v128.bitselect(positive, negative, f64x2.ge(z, f64x2.splat(0)));
  // NaN in, the same NaN out: exp64 returns its argument, and every operation after passes it on.
  return v128.bitselect(z, result, f64x2.ne(z, z));
}

/** a[i] = sigmoid(z[i]) for i in [i0, i1), over float32 arrays, four at a time. */
export function sigmoidRange(i0: i32, i1: i32, z: usize, a: usize): void {
  const saturated = pairOf(K_F32_SATURATED);
  const zero = f32x4.splat(0), one = pairOf(K_F32_ONE);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const at = <usize>i << 2;
    const v = v128.load(z + at);
    // |z| > 88 (so above sigmoidExp's 87.4 in float64 too) gives e = 0: exactly 1 for z > 0 and
    // 0 below. Raw 0..255 pixels saturate most hidden units; four at once skip the exp.
    if (i32x4.all_true(f32x4.gt(f32x4.abs(v), saturated))) {
      v128.store(a + at, v128.and(f32x4.gt(v, zero), one));
      continue;
    }
    const low = f32x4.demote_f64x2_zero(sigmoid2(f64x2.promote_low_f32x4(v)));
    const high = f32x4.demote_f64x2_zero(
      sigmoid2(f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7))),
    );
    v128.store(a + at, i64x2.shuffle(low, high, 0, 2));
  }
  for (; i < i1; i++) {
    const at = <usize>i << 2;
    store<f32>(a + at, <f32>sigmoid(<f64>load<f32>(z + at)));
  }
}

/** a[i] = z[i] > 0 ? z[i] : 0 for i in [i0, i1): model/activations.ts `activate("relu")`. */
export function reluRange(i0: i32, i1: i32, z: usize, a: usize): void {
  const zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const at = <usize>i << 2;
    const v = v128.load(z + at);
    // NaN > 0 is false, so NaN gives 0, as in TypeScript.
    v128.store(a + at, v128.and(v, f32x4.gt(v, zero)));
  }
  for (; i < i1; i++) {
    const at = <usize>i << 2;
    const v = load<f32>(z + at);
    store<f32>(a + at, v > 0 ? v : 0);
  }
}

/**
 * dz[i] = z[i] <= 0 ? 0 : da[i] for i in [i0, i1): the copy and
 * `activateBackward("relu")` of model/network.ts in one pass.
 */
export function reluBackwardRange(i0: i32, i1: i32, z: usize, da: usize, dz: usize): void {
  const zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const at = <usize>i << 2;
    v128.store(dz + at, v128.andnot(v128.load(da + at), f32x4.le(v128.load(z + at), zero)));
  }
  for (; i < i1; i++) {
    const at = <usize>i << 2;
    store<f32>(dz + at, load<f32>(z + at) <= 0 ? 0 : load<f32>(da + at));
  }
}

/**
 * A sigmoid's backward in two float64 lanes: flushDenormal(g·s·(1 − s)), g the
 * gradient of its output s (`activateBackward("sigmoid")` of model/activations.ts).
 */
// @ts-ignore: decorator
@inline
export function sigmoidBackward2(g: v128, s: v128): v128 {
  return flushDenormal2(f64x2.mul(f64x2.mul(g, s), f64x2.sub(pairOf(K_ONE), s)));
}

/**
 * dz[i] = flushDenormal(da[i]·a[i]·(1 − a[i])) in float64, for i in [i0, i1):
 * the copy and `activateBackward("sigmoid")` of model/network.ts in one pass.
 */
export function sigmoidBackwardRange(i0: i32, i1: i32, a: usize, da: usize, dz: usize): void {
  let i = i0;
  for (; i + 2 <= i1; i += 2) {
    const at = <usize>i << 2;
    const s = f64x2.promote_low_f32x4(v128.load64_zero(a + at));
    const g = f64x2.promote_low_f32x4(v128.load64_zero(da + at));
    v128.store64_lane(dz + at, f32x4.demote_f64x2_zero(sigmoidBackward2(g, s)), 0);
  }
  for (; i < i1; i++) {
    const at = <usize>i << 2;
    const s = <f64>load<f32>(a + at);
    store<f32>(dz + at, <f32>flushDenormal(<f64>load<f32>(da + at) * s * (1 - s)));
  }
}

/**
 * db[j] += Σ_i dz[i·cols + j] for columns [j0, j1), summed in row order, each
 * step rounded to float32: model/network.ts `denseBackward`'s bias loop.
 */
export function columnSums(j0: i32, j1: i32, rows: i32, cols: i32, dz: usize, db: usize): void {
  const rowBytes = <usize>cols << 2;
  let j = j0;
  for (; j + 16 <= j1; j += 16) {
    const out = db + (<usize>j << 2);
    let s0 = v128.load(out), s1 = v128.load(out, 16), s2 = v128.load(out, 32);
    let s3 = v128.load(out, 48);
    let src = dz + (<usize>j << 2);
    for (let i = 0; i < rows; i++) {
      s0 = f32x4.add(s0, v128.load(src));
      s1 = f32x4.add(s1, v128.load(src, 16));
      s2 = f32x4.add(s2, v128.load(src, 32));
      s3 = f32x4.add(s3, v128.load(src, 48));
      src += rowBytes;
    }
    v128.store(out, s0);
    v128.store(out, s1, 16);
    v128.store(out, s2, 32);
    v128.store(out, s3, 48);
  }
  for (; j + 4 <= j1; j += 4) {
    const out = db + (<usize>j << 2);
    let s0 = v128.load(out);
    let src = dz + (<usize>j << 2);
    for (let i = 0; i < rows; i++) {
      s0 = f32x4.add(s0, v128.load(src));
      src += rowBytes;
    }
    v128.store(out, s0);
  }
  for (; j < j1; j++) {
    const out = db + (<usize>j << 2);
    let s = load<f32>(out);
    let src = dz + (<usize>j << 2);
    for (let i = 0; i < rows; i++) {
      s += load<f32>(src);
      src += rowBytes;
    }
    store<f32>(out, s);
  }
}

/**
 * The weight penalty for weights [i0, i1), one thread: g[i] += l2·w[i] +
 * (l1/2)·sign(w[i]) in float64, rounded to float32 once, while the running
 * sums Σ|w| and Σw² (float64, in index order) go on from `sums`: the float64
 * block [Σ|w|, Σw², l1/2, l2], whose first two are updated. model/network.ts
 * `lossAndGradient`'s penalty loop and `regularizationCost`, in one pass.
 */
export function penaltyRange(i0: i32, i1: i32, w: usize, g: usize, sums: usize): void {
  let abs = load<f64>(sums), squares = load<f64>(sums, 8);
  const halfL1 = load<f64>(sums, 16), l2 = load<f64>(sums, 24);
  const halfL1s = f64x2.splat(halfL1), l2s = f64x2.splat(l2), zero = f64x2.splat(0);
  const signBit = i64x2.splat(0x8000000000000000);
  let i = i0;
  // Two at a time, without branches: a sign branched on (or a float select, which V8 lowers
  // to one) mispredicts on random-signed weights, five times the cost of the arithmetic.
  for (; i + 2 <= i1; i += 2) {
    const at = <usize>i << 2;
    const x = f64x2.promote_low_f32x4(v128.load64_zero(w + at));
    // halfL1·Math.sign(x): ±halfL1 for a non-zero x; halfL1·x (±0, or x's NaN) otherwise.
    const signed = v128.xor(halfL1s, v128.and(x, signBit));
    const l1Term = v128.bitselect(signed, f64x2.mul(halfL1s, x), f64x2.gt(f64x2.abs(x), zero));
    const step = f64x2.add(f64x2.mul(l2s, x), l1Term);
    const old = f64x2.promote_low_f32x4(v128.load64_zero(g + at));
    v128.store64_lane(g + at, f32x4.demote_f64x2_zero(f64x2.add(old, step)), 0);
    const ax = f64x2.abs(x), sq = f64x2.mul(x, x);
    abs += f64x2.extract_lane(ax, 0);
    squares += f64x2.extract_lane(sq, 0);
    abs += f64x2.extract_lane(ax, 1);
    squares += f64x2.extract_lane(sq, 1);
  }
  for (; i < i1; i++) {
    const at = <usize>i << 2;
    const x = <f64>load<f32>(w + at);
    const sign = x > 0 ? 1.0 : x < 0 ? -1.0 : x;
    store<f32>(g + at, <f32>(<f64>load<f32>(g + at) + (l2 * x + halfL1 * sign)));
    abs += Math.abs(x);
    squares += x * x;
  }
  store<f64>(sums, abs);
  store<f64>(sums, squares, 8);
}
