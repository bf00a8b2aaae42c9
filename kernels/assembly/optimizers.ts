// AssemblyScript: the optimisers' update rules, compiled into kernels/gemm.wasm.
//
// Each mirrors its TypeScript twin in model/optimizers.ts operation for
// operation, nothing fused: for sgd and nesterov the state and every
// intermediate are float64 and the new parameter is rounded to float32 once
// at the end; Adam runs in float32 throughout, four elements to a vector. So both give the same bits, and so does any split of the
// elements among threads (each element is updated on its own).
//
// The float64 settings are read from memory (the mailbox carries int32s only):
// `hyper` points at HYPER_SLOTS float64 values laid out as below.

/** The float64 settings block: its slots, in order. */
const ETA = 0;
const MOMENTUM = 8;
const ONE_PLUS_MOMENTUM = 16;
const BETA1 = 24;
const ONE_MINUS_BETA1 = 32;
const BETA2 = 40;
const ONE_MINUS_BETA2 = 48;
const STEP_SIZE = 56;
const ROOT_SCALE = 64;
const EPSILON = 72;

/** Two float32s at `at` as float64x2. */
// @ts-ignore: decorator
@inline
function load2(at: usize): v128 {
  return f64x2.promote_low_f32x4(v128.load64_zero(at));
}

/** A float64x2 rounded to float32 and stored as two float32s at `at`. */
// @ts-ignore: decorator
@inline
function store2(at: usize, value: v128): void {
  v128.store64_lane(at, f32x4.demote_f64x2_zero(value), 0);
}

/**
 * The textbook's momentum for elements [i0, i1): Δ = η·g; w −= Δ + α·Δ_prev;
 * Δ_prev = Δ. `first` holds Δ_prev (float64).
 */
export function sgdRange(i0: i32, i1: i32, params: usize, grad: usize, first: usize, hyper: usize): void {
  const eta = load<f64>(hyper, ETA);
  const momentum = load<f64>(hyper, MOMENTUM);
  const vEta = f64x2.splat(eta), vMomentum = f64x2.splat(momentum);
  let i = i0;
  for (; i + 2 <= i1; i += 2) {
    const p = params + (<usize>i << 2), g = grad + (<usize>i << 2), f = first + (<usize>i << 3);
    const delta = f64x2.mul(vEta, load2(g));
    const w = f64x2.sub(load2(p), f64x2.add(delta, f64x2.mul(vMomentum, v128.load(f))));
    store2(p, w);
    v128.store(f, delta);
  }
  for (; i < i1; i++) {
    const p = params + (<usize>i << 2), f = first + (<usize>i << 3);
    const delta = eta * <f64>load<f32>(grad + (<usize>i << 2));
    store<f32>(p, <f32>(<f64>load<f32>(p) - (delta + momentum * load<f64>(f))));
    store<f64>(f, delta);
  }
}

/**
 * Nesterov for elements [i0, i1): v = μ·v_prev − η·g; w += −μ·v_prev + (1+μ)·v.
 * `first` holds v (float64).
 */
export function nesterovRange(i0: i32, i1: i32, params: usize, grad: usize, first: usize, hyper: usize): void {
  const eta = load<f64>(hyper, ETA);
  const momentum = load<f64>(hyper, MOMENTUM);
  const onePlus = load<f64>(hyper, ONE_PLUS_MOMENTUM);
  const vEta = f64x2.splat(eta), vMomentum = f64x2.splat(momentum);
  const vMinus = f64x2.splat(-momentum), vOnePlus = f64x2.splat(onePlus);
  let i = i0;
  for (; i + 2 <= i1; i += 2) {
    const p = params + (<usize>i << 2), g = grad + (<usize>i << 2), f = first + (<usize>i << 3);
    const previous = v128.load(f);
    const velocity = f64x2.sub(f64x2.mul(vMomentum, previous), f64x2.mul(vEta, load2(g)));
    const step = f64x2.add(f64x2.mul(vMinus, previous), f64x2.mul(vOnePlus, velocity));
    store2(p, f64x2.add(load2(p), step));
    v128.store(f, velocity);
  }
  for (; i < i1; i++) {
    const p = params + (<usize>i << 2), f = first + (<usize>i << 3);
    const previous = load<f64>(f);
    const velocity = momentum * previous - eta * <f64>load<f32>(grad + (<usize>i << 2));
    store<f32>(p, <f32>(<f64>load<f32>(p) + (-momentum * previous + onePlus * velocity)));
    store<f64>(f, velocity);
  }
}

/**
 * Adam for elements [i0, i1), in float32 throughout: m = β₁·m + (1−β₁)·g;
 * v = β₂·v + (1−β₂)·g·g; w −= s·(m / (√v·r + ε)), s = η/c₁ and r = 1/√c₂ (c the
 * bias corrections). `first` holds m, `second` v (float32, like the parameters).
 */
export function adamRange(
  i0: i32,
  i1: i32,
  params: usize,
  grad: usize,
  first: usize,
  second: usize,
  hyper: usize,
): void {
  const beta1 = <f32>load<f64>(hyper, BETA1), oneMinus1 = <f32>load<f64>(hyper, ONE_MINUS_BETA1);
  const beta2 = <f32>load<f64>(hyper, BETA2), oneMinus2 = <f32>load<f64>(hyper, ONE_MINUS_BETA2);
  const stepSize = <f32>load<f64>(hyper, STEP_SIZE), rootScale = <f32>load<f64>(hyper, ROOT_SCALE);
  const epsilon = <f32>load<f64>(hyper, EPSILON);
  const vB1 = f32x4.splat(beta1), vO1 = f32x4.splat(oneMinus1);
  const vB2 = f32x4.splat(beta2), vO2 = f32x4.splat(oneMinus2);
  const vStep = f32x4.splat(stepSize), vRoot = f32x4.splat(rootScale);
  const vEps = f32x4.splat(epsilon);
  let i = i0;
  // Four vectors a turn, their four roots taken before any division: the divider unit bounds
  // this loop, and it stays busier (wide network's 636 K values on one thread: 431-439 →
  // 410-417 µs, the same bits: each element's operations are unchanged).
  for (; i + 16 <= i1; i += 16) {
    const at = <usize>i << 2;
    const g0 = v128.load(grad + at), g1 = v128.load(grad + at, 16);
    const g2 = v128.load(grad + at, 32), g3 = v128.load(grad + at, 48);
    const m0 = f32x4.add(f32x4.mul(vB1, v128.load(first + at)), f32x4.mul(vO1, g0));
    const m1 = f32x4.add(f32x4.mul(vB1, v128.load(first + at, 16)), f32x4.mul(vO1, g1));
    const m2 = f32x4.add(f32x4.mul(vB1, v128.load(first + at, 32)), f32x4.mul(vO1, g2));
    const m3 = f32x4.add(f32x4.mul(vB1, v128.load(first + at, 48)), f32x4.mul(vO1, g3));
    const v0 = f32x4.add(f32x4.mul(vB2, v128.load(second + at)), f32x4.mul(f32x4.mul(vO2, g0), g0));
    const v1 = f32x4.add(f32x4.mul(vB2, v128.load(second + at, 16)), f32x4.mul(f32x4.mul(vO2, g1), g1));
    const v2 = f32x4.add(f32x4.mul(vB2, v128.load(second + at, 32)), f32x4.mul(f32x4.mul(vO2, g2), g2));
    const v3 = f32x4.add(f32x4.mul(vB2, v128.load(second + at, 48)), f32x4.mul(f32x4.mul(vO2, g3), g3));
    const r0 = f32x4.sqrt(v0), r1 = f32x4.sqrt(v1), r2 = f32x4.sqrt(v2), r3 = f32x4.sqrt(v3);
    v128.store(first + at, m0);
    v128.store(first + at, m1, 16);
    v128.store(first + at, m2, 32);
    v128.store(first + at, m3, 48);
    v128.store(second + at, v0);
    v128.store(second + at, v1, 16);
    v128.store(second + at, v2, 32);
    v128.store(second + at, v3, 48);
    const q0 = f32x4.div(m0, f32x4.add(f32x4.mul(r0, vRoot), vEps));
    const q1 = f32x4.div(m1, f32x4.add(f32x4.mul(r1, vRoot), vEps));
    const q2 = f32x4.div(m2, f32x4.add(f32x4.mul(r2, vRoot), vEps));
    const q3 = f32x4.div(m3, f32x4.add(f32x4.mul(r3, vRoot), vEps));
    v128.store(params + at, f32x4.sub(v128.load(params + at), f32x4.mul(vStep, q0)));
    v128.store(params + at, f32x4.sub(v128.load(params + at, 16), f32x4.mul(vStep, q1)), 16);
    v128.store(params + at, f32x4.sub(v128.load(params + at, 32), f32x4.mul(vStep, q2)), 32);
    v128.store(params + at, f32x4.sub(v128.load(params + at, 48), f32x4.mul(vStep, q3)), 48);
  }
  for (; i + 4 <= i1; i += 4) {
    const at = <usize>i << 2;
    const g = v128.load(grad + at);
    const m = f32x4.add(f32x4.mul(vB1, v128.load(first + at)), f32x4.mul(vO1, g));
    const v = f32x4.add(f32x4.mul(vB2, v128.load(second + at)), f32x4.mul(f32x4.mul(vO2, g), g));
    v128.store(first + at, m);
    v128.store(second + at, v);
    const denominator = f32x4.add(f32x4.mul(f32x4.sqrt(v), vRoot), vEps);
    const w = f32x4.sub(v128.load(params + at), f32x4.mul(vStep, f32x4.div(m, denominator)));
    v128.store(params + at, w);
  }
  for (; i < i1; i++) {
    const at = <usize>i << 2;
    const g = load<f32>(grad + at);
    const m = beta1 * load<f32>(first + at) + oneMinus1 * g;
    const v = beta2 * load<f32>(second + at) + oneMinus2 * g * g;
    store<f32>(first + at, m);
    store<f32>(second + at, v);
    const denominator = Mathf.sqrt(v) * rootScale + epsilon;
    store<f32>(params + at, load<f32>(params + at) - stepSize * (m / denominator));
  }
}
