/**
 * The peers our speed is measured against: TensorFlow.js 4.22 on its
 * WebAssembly backend (SIMD; Deno gives it no threads) and on its pure
 * JavaScript `cpu` backend, training the same networks on the same minibatches.
 * Benchmark-only: nothing outside bench/ imports TensorFlow.js.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

/** The TensorFlow.js backends we compare with. */
export type PeerBackend = "wasm" | "cpu";

let wasmPathsSet = false;

/** Switches TensorFlow.js to `backend`, pointing the WebAssembly one at the files its package ships. */
export async function usePeer(backend: PeerBackend): Promise<void> {
  if (backend === "wasm" && !wasmPathsSet) {
    // bench/deno.json's nodeModulesDir "auto" puts the package here; its .wasm files sit in dist/.
    setWasmPaths(
      new URL("./node_modules/@tensorflow/tfjs-backend-wasm/dist/", import.meta.url).href,
    );
    wasmPathsSet = true;
  }
  if (!(await tf.setBackend(backend))) {
    throw new Error(`Cannot start the TensorFlow.js ${backend} backend`);
  }
  await tf.ready();
}

/** A short description of the active backend, e.g. `wasm (SIMD)`. */
export function peerName(): string {
  const backend = tf.getBackend();
  if (backend !== "wasm") return backend;
  const simd = tf.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD";
  const threads = tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT") ? ", threads" : "";
  return `wasm (${simd}${threads})`;
}

/** GFLOP/s of `tf.matMul` on random (m, k)·(k, n) operands stored as the flags say. */
export function peerMatMul(
  m: number,
  n: number,
  k: number,
  transA: boolean,
  transB: boolean,
  seconds: number,
): number {
  const a = tf.randomUniform(transA ? [k, m] : [m, k], -1, 1, "float32", 1);
  const b = tf.randomUniform(transB ? [n, k] : [k, n], -1, 1, "float32", 2);
  const once = () => {
    const c = tf.matMul(a, b, transA, transB);
    c.dataSync();
    c.dispose();
  };
  const perCall = timePerCall(once, seconds);
  a.dispose();
  b.dispose();
  return (2 * m * n * k) / perCall / 1e9;
}

/** Calls `f` until `seconds` have passed (after two warm-up calls); returns seconds per call. */
export function timePerCall(f: () => void, seconds: number): number {
  f();
  f();
  let calls = 0;
  const started = performance.now();
  let elapsed = 0;
  do {
    f();
    calls++;
    elapsed = (performance.now() - started) / 1000;
  } while (elapsed < seconds);
  return elapsed / calls;
}

/** A one-hidden-layer network and how to train it, in TensorFlow.js terms. */
export interface PeerNetwork {
  /** Hidden units. */
  hidden: number;
  /** Hidden activation. */
  activation: "sigmoid" | "relu";
  /** Output units and loss: summed logistic cost (textbook) or mean softmax cross-entropy. */
  output: "sigmoid" | "softmax";
  /** SGD with momentum (textbook) or Adam. */
  optimizer: "momentum" | "adam";
  /** Learning rate. */
  eta: number;
  /** Momentum (momentum optimizer only). */
  momentum: number;
  /** L2 strength λ in `λ/2·Σw²`. */
  l2: number;
}

/** Training images and labels, and the row order of each minibatch. */
export interface PeerBatches {
  /** (N, width) pixels. */
  images: Float32Array;
  /** (N) labels. */
  labels: Uint8Array;
  /** Pixels per image. */
  width: number;
  /** Classes. */
  classes: number;
  /** Row indices of every minibatch, in order. */
  batches: Uint32Array[];
}

/**
 * Trains `network` on the given minibatches with the active backend (two
 * untimed warm-up minibatches first) and returns samples per second.
 */
export function peerTrain(network: PeerNetwork, data: PeerBatches): number {
  const { width, classes } = data;
  const w1 = tf.variable(tf.randomUniform([width, network.hidden], -0.1, 0.1, "float32", 3));
  const b1 = tf.variable(tf.zeros([network.hidden]));
  const w2 = tf.variable(tf.randomUniform([network.hidden, classes], -0.1, 0.1, "float32", 4));
  const b2 = tf.variable(tf.zeros([classes]));
  const optimizer = network.optimizer === "adam"
    ? tf.train.adam(network.eta)
    : tf.train.momentum(network.eta, network.momentum);
  const largest = Math.max(...data.batches.map((b) => b.length));
  const x = new Float32Array(largest * width);
  const y = new Float32Array(largest * classes);

  const step = (rows: Uint32Array) => {
    y.fill(0);
    rows.forEach((row, i) => {
      x.set(data.images.subarray(row * width, (row + 1) * width), i * width);
      y[i * classes + data.labels[row]] = 1;
    });
    tf.tidy(() => {
      const xs = tf.tensor2d(x.subarray(0, rows.length * width), [rows.length, width]);
      const ys = tf.tensor2d(y.subarray(0, rows.length * classes), [rows.length, classes]);
      optimizer.minimize(
        () => {
          const hidden = network.activation === "relu"
            ? tf.relu(tf.add(tf.matMul(xs, w1), b1))
            : tf.sigmoid(tf.add(tf.matMul(xs, w1), b1));
          const scores = tf.add(tf.matMul(hidden, w2), b2);
          let loss: tf.Scalar = network.output === "softmax"
            ? tf.losses.softmaxCrossEntropy(ys, scores)
            : tf.losses.sigmoidCrossEntropy(ys, scores, undefined, 0, tf.Reduction.SUM);
          if (network.l2 > 0) {
            const squares = tf.add(tf.sum(tf.square(w1)), tf.sum(tf.square(w2)));
            loss = tf.add(loss, tf.mul(squares, network.l2 / 2));
          }
          return loss;
        },
        false,
        [w1, b1, w2, b2],
      );
    });
  };

  step(data.batches[0]);
  step(data.batches[1 % data.batches.length]);
  let rows = 0;
  const started = performance.now();
  for (const batch of data.batches) {
    step(batch);
    rows += batch.length;
  }
  // The backends compute eagerly; reading a weight back makes sure the last step finished.
  w1.dataSync();
  const seconds = (performance.now() - started) / 1000;
  for (const v of [w1, b1, w2, b2]) v.dispose();
  optimizer.dispose();
  return rows / seconds;
}
