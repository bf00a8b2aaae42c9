/**
 * The PyTorch peer: `bench/torch_peer.py`, run by `/usr/bin/python3` as a
 * subprocess, one process per thread count. We write the data it trains on
 * (the very floats our trainer sees, and the same minibatch orders) to a temp
 * folder; it answers with one JSON line of GFLOP/s and samples/s.
 *
 * @module
 */

/** The interpreter the peer runs on (Debian's, where `apt-get install python3-torch` puts torch). */
export const PYTHON = "/usr/bin/python3";

/** How to get the PyTorch column when the probe fails. */
export const TORCH_HINT = "PyTorch column left out: `" + PYTHON +
  ' -c "import torch"` failed. Hint: `apt-get install python3-torch libopenblas0-pthread` ' +
  "(Debian's 1.13, and the OpenBLAS it does not pull in itself) adds it, then rerun `deno task bench`";

/** What the probe found: PyTorch's version and the BLAS its products run on. */
export interface TorchProbe {
  /** PyTorch's version, e.g. `1.13.0a0`. */
  version: string;
  /** The BLAS as it names itself (OpenBLAS's build configuration), else its library's path. */
  blas: string;
}

/**
 * A warning when PyTorch multiplies with a BLAS that is not a tuned one
 * (OpenBLAS, MKL, BLIS, Accelerate), or one the peer could not identify, else
 * null. Debian's PyTorch takes whatever libblas.so.3 points at, the reference
 * BLAS unless libopenblas0-pthread is installed, and then its products run
 * about 15 times below its best: a peer that slow would flatter every ratio.
 */
export function blasWarning(blas: string): string | null {
  if (/openblas|mkl|blis|accelerate/i.test(blas)) return null;
  const hint = "Hint: `apt-get install libopenblas0-pthread` points Debian's libblas.so.3 at " +
    "OpenBLAS; then rerun `deno task bench`";
  // Without /proc (not Linux), the peer knows only what PyTorch was built against.
  if (/^(BLAS_INFO=generic|unknown)$/.test(blas)) {
    return `Which BLAS PyTorch's products run on could not be told (${blas}): if it is not a ` +
      `tuned one, every ratio against it flatters us. ${hint}`;
  }
  return `PyTorch's products run on an untuned BLAS (${blas}), far below its best, so every ` +
    `ratio against it flatters us. ${hint}`;
}

/** One training workload for the peer: the same network, data and minibatches as ours. */
export interface TorchWorkload {
  /** Units per layer: input, hidden, classes. */
  sizes: [number, number, number];
  /** Hidden activation. */
  activation: "sigmoid" | "relu";
  /** Output units and their loss. */
  output: "sigmoid" | "softmax";
  /** Sum (textbook) or mean of the per-row loss. */
  reduction: "sum" | "mean";
  /** SGD with momentum (and L2 on the weights) or Adam. */
  optimizer: "momentum" | "adam";
  /** Learning rate. */
  eta: number;
  /** Momentum (momentum only). */
  momentum: number;
  /** L2 strength λ in λ/2·Σw² (momentum only). */
  l2: number;
  /** `uniform` (−1, 1) as the textbook, else PyTorch's default. */
  init: "uniform" | "default";
  /** Epochs to time; samples/s from the median after the first. */
  epochs: number;
  /** Minibatch boundaries into each epoch's order. */
  starts: number[];
  /** Row orders, one per epoch (`epochOrder(plan, e)`). */
  orders: Uint32Array[];
  /** Training images (N, width), as our trainer sees them. */
  images: Float32Array;
  /** Their labels. */
  labels: Uint8Array;
  /** Seed of the peer's initialisation. */
  seed: number;
}

/** What one peer process measured. */
export interface TorchResult {
  /** PyTorch's version. */
  version: string;
  /** Threads it ran on. */
  threads: number;
  /** GFLOP/s per matrix product, in the order asked. */
  matmul: number[];
  /** Samples/s per workload, in the order asked. */
  train: number[];
}

const peerScript = new URL("./torch_peer.py", import.meta.url).pathname;

/** PyTorch's version and BLAS when `import torch` works under {@linkcode PYTHON}, else null. */
export async function probeTorch(): Promise<TorchProbe | null> {
  try {
    const out = await new Deno.Command(PYTHON, {
      args: [peerScript, "probe"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return out.success ? JSON.parse(new TextDecoder().decode(out.stdout)) as TorchProbe : null;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Runs the peer once per entry of `threads` on the same products and
 * workloads; returns one result per thread count. Writes the data to a temp
 * folder, removed whatever happens.
 */
export async function runTorch(
  threads: number[],
  matmul: [number, number, number, boolean, boolean][],
  matmulSeconds: number,
  workloads: TorchWorkload[],
): Promise<TorchResult[]> {
  const dir = await Deno.makeTempDir({ prefix: "mnist-bench-torch-" });
  try {
    const written = new Map<Float32Array | Uint8Array, string>();
    const file = async (array: Float32Array | Uint8Array | Uint32Array, name: string) => {
      const known = array instanceof Uint32Array ? undefined : written.get(array);
      if (known) return known;
      const path = `${dir}/${name}`;
      await Deno.writeFile(path, new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      if (!(array instanceof Uint32Array)) written.set(array, path);
      return path;
    };
    const train = [];
    for (const [w, workload] of workloads.entries()) {
      const orders = new Uint32Array(workload.orders.reduce((n, o) => n + o.length, 0));
      let at = 0;
      for (const order of workload.orders) {
        orders.set(order, at);
        at += order.length;
      }
      train.push({
        ...workload,
        images: await file(workload.images, `images-${w}.f32`),
        labels: await file(workload.labels, `labels-${w}.u8`),
        orders: await file(orders, `orders-${w}.u32`),
      });
    }
    const results: TorchResult[] = [];
    for (const count of threads) {
      const job = `${dir}/job-${count}.json`;
      await Deno.writeTextFile(
        job,
        JSON.stringify({ threads: count, matmul, matmulSeconds, train }),
      );
      const out = await new Deno.Command(PYTHON, {
        args: [peerScript, "run", job],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      if (!out.success) {
        throw new Error(
          `Cannot measure PyTorch on ${count} thread(s) as its peer must succeed: it exited ` +
            `with ${out.code}:\n${stderr}`,
        );
      }
      results.push(JSON.parse(new TextDecoder().decode(out.stdout)) as TorchResult);
    }
    return results;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
