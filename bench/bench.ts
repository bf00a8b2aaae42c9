/**
 * `deno task bench [--quick] [--threads N]`: our kernels and trainer against
 * TensorFlow.js (WebAssembly and pure-JS backends, side by side in this
 * process) and PyTorch (bench/torch_peer.py, a subprocess per thread count, when
 * `import torch` works) on real MNIST, printed as one table of samples/s,
 * GFLOP/s and ratios, then ablation rows (our defaults with one thing off); then
 * the default pipeline, cold, as a subprocess (run first): wall time, data
 * stages, peak RSS; then peak RSS against data size: one epoch on MNIST and on
 * make-data sets 5 and 10 times its size, each in a fresh subprocess.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { percent } from "../report/format.ts";
import { median } from "d3-array";
import { createWasmKernels, defaultThreads, type WasmKernels } from "../kernels/wasm_kernels.ts";
import { NATIVE_LIBRARY } from "../kernels/native.ts";
import type { Kernels } from "../model/kernels.ts";
import { bundledDataDir } from "../app/bundled.ts";
import { PRESET_VALUES } from "../app/config.ts";
import { trainOptionsOf } from "../app/job.ts";
import { type Chunk, collectSplit, type DataSet, memoryDataSet } from "../engine/chunk.ts";
import { DATA_FILE_NAMES, decodeDataSet, findDataFiles } from "../stages/idx_decode.ts";
import { type BatchPlan, epochOrder, planBatches } from "../stages/minibatch.ts";
import {
  fitNormalization,
  type NormalizedMeta,
  type NormalizeMode,
  normalizePixels,
} from "../stages/normalize.ts";
import { trainNetwork, type TrainOptions } from "../stages/train.ts";
import {
  withoutBiasFusion,
  withoutGateFusion,
  withoutLossBesidePenalty,
  withoutPairs,
} from "./ablations.ts";
import {
  type PeerBackend,
  peerMatMul,
  peerName,
  type PeerNetwork,
  peerTrain,
  timePerCall,
  usePeer,
} from "./peers.ts";
import {
  blasWarning,
  probeTorch,
  runTorch,
  TORCH_HINT,
  type TorchProbe,
  type TorchWorkload,
} from "./torch.ts";

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean" },
    threads: { type: "string" },
    "skip-pipeline": { type: "boolean" },
    "skip-torch": { type: "boolean" },
    "skip-memory": { type: "boolean" },
    "memory-only": { type: "boolean" },
    rounds: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});
const quick = flags.quick === true;
const threads = flags.threads ? Number(flags.threads) : defaultThreads();
const rounds = flags.rounds ? Number(flags.rounds) : quick ? 1 : 2;
const PEERS: PeerBackend[] = ["cpu", "wasm"];
/** PyTorch's thread counts: its best of them is what our defaults must beat. */
const TORCH_THREADS = [1, 2];

const log = (line: string) => console.error(line);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(
    `Cannot bench as --rounds must be a whole number of at least 1: got ${flags.rounds}. ` +
      "Hint: --rounds 2 (the default) keeps each column's best of two",
  );
  Deno.exit(2);
}

/**
 * Extra pipeline flags of the memory-against-data-size rows, and only of them:
 * one training-memory bound below every set's size, so all three stream their
 * training split through the same 128 MB shuffle buffer and the rows show how
 * memory grows with the data alone. (Under a bound the 60 000-image set fits,
 * it is held as the kernels' sparse index, about 92 MB, not as the bound.)
 */
const MEMORY_ROW_PIPELINE_ARGS: readonly string[] = ["--memory", "128"];

/**
 * The memory rows, as make-data `--copies` of the bundled training set: 1 is
 * the bundled set itself (no make-data). `--quick` keeps the two smallest.
 */
const MEMORY_ROW_COPIES: readonly number[] = quick ? [1, 2] : [1, 5, 10];

/** make-data `--shift` of the memory rows' data sets. */
const MEMORY_ROW_SHIFT = 2;

/**
 * Runs its arguments as a command and, every 50 ms while it runs, reads its
 * peak resident set (VmHWM) from /proc; prints `peak-rss-kib N` on stderr and
 * exits with the command's status. Stopped by SIGTERM, it stops the command too.
 */
const PEAK_RSS_WATCHER = `"$@" & pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid"; exit 143' TERM
peak=0
while kill -0 "$pid" 2>/dev/null; do
  hwm=$(sed -n 's/^VmHWM:[[:space:]]*\\([0-9]*\\).*/\\1/p' "/proc/$pid/status" 2>/dev/null)
  if [ -n "$hwm" ] && [ "$hwm" -gt "$peak" ]; then peak=$hwm; fi
  sleep 0.05
done
wait "$pid"; code=$?
echo "peak-rss-kib $peak" >&2
exit $code`;

/** The watched child now running, for an interrupt to stop. */
let watchedChild: Deno.ChildProcess | null = null;

const HELP =
  `deno task bench [--quick] [--threads N] [--skip-pipeline] [--skip-memory] [--memory-only]

  --quick           fewer minibatches and repetitions, a 1-epoch pipeline (about 30 s), and
                    memory rows for 60 000 and 120 000 images only (about a minute more)
  --threads N       threads for our kernels (default: every core, ${defaultThreads()})
  --rounds N        train every epoch workload N times, ours then PyTorch's in turn, and keep
                    each column's best round (default 2; 1 with --quick)
  --skip-torch      leave out the PyTorch column (${"bench/torch_peer.py"} on /usr/bin/python3)
  --skip-pipeline   leave out the whole-pipeline run
  --skip-memory     leave out the memory rows: peak RSS of a 1-epoch pipeline for 60 000,
                    300 000 and 600 000 training images (make-data copies 5 and 10, shift 2)
  --memory-only     run the memory rows and nothing else`;

/** One row of the table: a workload, its unit, and each contender's figure. */
interface Row {
  workload: string;
  unit: string;
  figures: Map<string, number>;
  /** Our defaults against the best peer thread count must reach this ratio. */
  target?: number;
}

/** One ablation row: a workload trained by our defaults with one thing changed. */
interface Ablation {
  workload: string;
  variant: string;
  samples: number;
  /** Our defaults' samples/s, the mean of the trainings just before and just after the variant's. */
  defaults: number;
}

/** Runs every workload, prints the table, then the pipeline figures. */
async function runBench(): Promise<void> {
  // The pipeline runs first, in a fresh process, before this one fills its memory: new pages come
  // slower on this VM while another process holds gigabytes, which would blur the data stages.
  if (flags["memory-only"]) {
    for (const line of await benchMemory()) console.log(line);
    return;
  }
  const pipelineLines = flags["skip-pipeline"] ? [] : await benchPipeline();
  // Fresh processes too, so their peak RSS is their own; run before this one fills its memory.
  const memoryLines = flags["skip-memory"] ? [] : await benchMemory();
  log(`loading MNIST (${quick ? "quick" : "full"} run, ours on ${threads} thread(s))`);
  const torch = flags["skip-torch"] ? null : await probeTorch();
  const torchWarning = torch && blasWarning(torch.blas);
  if (torchWarning) log(torchWarning);
  // Each workload trains on the pixels its recipe uses: raw 0..255 for the textbook, as its preset.
  const rawPixels = await loadMnist("none");
  const scaledPixels = await loadMnist("scale");
  const width = rawPixels.train.rows * rawPixels.train.cols;

  const ours1 = await createWasmKernels({ threads: 1 });
  const oursN = await createWasmKernels({ threads });
  const ourKernels: [string, WasmKernels][] = [["ours ×1", ours1], [`ours ×${threads}`, oursN]];

  const rows: Row[] = [];
  const torchWork: TorchWorkload[] = [];
  const trainingRows: Row[] = [];
  const ablations: Ablation[] = [];
  /** Trains our side of each epoch workload again, keeping the better figure: the later rounds. */
  const oursAgain: (() => Promise<void>)[] = [];

  // Matrix products: the textbook layer at 1200 rows and the wide layer at 128, forward and both gradients.
  const shapes: [string, number, number, number, boolean, boolean][] = [
    ["(1200×785)·(785×50)", 1200, 50, 785, false, false],
    ["(785×1200)·(1200×50) dW", 785, 50, 1200, true, false],
    ["(1200×50)·(50×785) dX", 1200, 785, 50, false, true],
    ["(128×784)·(784×800)", 128, 800, 784, false, false],
    ["(784×128)·(128×800) dW", 784, 800, 128, true, false],
    ["(128×800)·(800×784) dX", 128, 784, 800, false, true],
  ];
  const matmulSeconds = quick ? 0.15 : 0.5;
  for (const [label, m, n, k, transA, transB] of shapes) {
    const figures = new Map<string, number>();
    for (const backend of PEERS) {
      await usePeer(backend);
      figures.set(`tfjs-${backend}`, peerMatMul(m, n, k, transA, transB, matmulSeconds));
    }
    for (const [name, kernels] of ourKernels) {
      const a = kernels.alloc(m * k), b = kernels.alloc(k * n), c = kernels.alloc(m * n);
      a.forEach((_, i) => a[i] = Math.sin(i));
      b.forEach((_, i) => b[i] = Math.cos(i));
      const perCall = timePerCall(
        () => kernels.gemm({ m, n, k, a, b, c, transA, transB }),
        matmulSeconds,
      );
      figures.set(name, (2 * m * n * k) / perCall / 1e9);
      for (const buffer of [a, b, c]) kernels.free(buffer);
    }
    rows.push({ workload: `matmul ${label}`, unit: "GFLOP/s", figures });
    log(`measured matmul ${label}`);
  }

  // The textbook epoch: 784-50-10 sigmoid, logistic cost summed, L2, momentum, 50 minibatches of 1200.
  const textbookOptions: TrainOptions = {
    ...trainOptionsOf(PRESET_VALUES.textbook),
    epochs: quick ? 2 : 6,
  };
  const textbookPeer: PeerNetwork = {
    hidden: 50,
    activation: "sigmoid",
    output: "sigmoid",
    optimizer: "momentum",
    eta: 0.001,
    momentum: 0.001,
    l2: 0.1,
  };
  await trainingRow(
    "textbook epoch 784-50-10 sigmoid, raw pixels, 50 batches of 1200",
    rawPixels,
    textbookOptions,
    { minibatches: 50 },
    rawPixels.train.labels.length,
    textbookPeer,
    { cpu: quick ? 3 : 8, wasm: quick ? 5 : 15 },
  );

  // The wide epoch: 784-800-10 ReLU, softmax, Adam, batch 128.
  const wideRows = quick ? 12800 : scaledPixels.train.labels.length;
  await trainingRow(
    `wide epoch 784-800-10 ReLU softmax Adam, batch 128${quick ? ` (${wideRows} rows)` : ""}`,
    scaledPixels,
    {
      ...textbookOptions,
      hidden: [800],
      activation: "relu",
      output: "softmax",
      init: "he",
      optimizer: "adam",
      momentum: 0,
      decay: 0,
      decaySchedule: "inverse",
      l2: 0,
      reduction: "mean",
      epochs: quick ? 2 : 3,
    },
    { batchSize: 128 },
    wideRows,
    {
      ...textbookPeer,
      hidden: 800,
      activation: "relu",
      output: "softmax",
      optimizer: "adam",
      l2: 0,
    },
    { cpu: quick ? 4 : 12, wasm: quick ? 10 : 40 },
  );

  // PyTorch after ours, in its own processes, once ours and TensorFlow.js are done: nothing shares
  // the cores. This host's speed drifts by a quarter over minutes, for both sides alike, so later
  // rounds train both sides' epochs again, in turn, and each column keeps its best round.
  for (let round = 1; round <= rounds; round++) {
    if (round > 1) {
      log(`round ${round} of ${rounds}`);
      for (const again of oursAgain) await again();
    }
    if (!torch) continue;
    log(`measuring PyTorch ${torch.version} on ${TORCH_THREADS.join(" and ")} thread(s)`);
    const results = await runTorch(
      TORCH_THREADS,
      round > 1 ? [] : shapes.map(([, m, n, k, transA, transB]) => [m, n, k, transA, transB]),
      matmulSeconds,
      torchWork,
    );
    for (const result of results) {
      const name = `torch ×${result.threads}`;
      if (round === 1) rows.forEach((row, i) => row.figures.set(name, result.matmul[i]));
      trainingRows.forEach((row, i) => keepBest(row.figures, name, result.train[i]));
    }
  }
  ours1.close();
  oursN.close();
  rows.push(...trainingRows);

  printTable(rows, torch);
  console.log(
    ours1.native
      ? `ours: native ${ours1.native} kernels for the matrix products and Adam ` +
        "(kernels/native/, through FFI), WebAssembly SIMD for the rest"
      : "ours: WebAssembly SIMD only (the native kernels need Linux x86-64 and " +
        "--allow-ffi=kernels/native/libkernels-linux-x86_64.so, as deno task bench grants)",
  );
  printAblations(ablations);
  for (const line of pipelineLines) console.log(line);
  for (const line of memoryLines) console.log(line);

  /**
   * Trains with our kernels on every row of `rowsUsed` (samples/s from the
   * median epoch after the first), with each TensorFlow.js backend on the
   * first minibatches of the same plan, and queues the same epochs for
   * PyTorch; then the ablations: our defaults with one thing off.
   */
  async function trainingRow(
    workload: string,
    data: Mnist,
    options: TrainOptions,
    batching: { minibatches: number } | { batchSize: number },
    rowsUsed: number,
    peer: PeerNetwork,
    peerBatches: Record<PeerBackend, number>,
  ): Promise<void> {
    const figures = new Map<string, number>();
    const plan = planBatches(rowsUsed, { batching, validation: 0, seed: 1 });
    const order = epochOrder(plan, 0);
    const batches: Uint32Array[] = [];
    for (let b = 0; b + 1 < plan.starts.length; b++) {
      batches.push(order.slice(plan.starts[b], plan.starts[b + 1]));
    }
    for (const backend of PEERS) {
      await usePeer(backend);
      figures.set(
        `tfjs-${backend}`,
        peerTrain(peer, {
          images: data.train.images,
          labels: data.train.labels,
          width,
          classes: data.classes,
          batches: batches.slice(0, peerBatches[backend]),
        }),
      );
      log(`measured tfjs-${peerName()}: ${workload}`);
    }
    const measureOurs = async () => {
      for (const [name, kernels] of ourKernels) {
        keepBest(figures, name, await oursPerSecond(data, plan, options, kernels));
      }
      log(`measured ours: ${workload}`);
    };
    await measureOurs();
    oursAgain.push(measureOurs);
    torchWork.push({
      sizes: [width, peer.hidden, data.classes],
      activation: peer.activation,
      output: peer.output,
      reduction: options.reduction,
      optimizer: peer.optimizer,
      eta: peer.eta,
      momentum: peer.momentum,
      l2: peer.l2,
      init: options.init === "uniform" ? "uniform" : "default",
      epochs: options.epochs,
      starts: Array.from(plan.starts),
      orders: Array.from({ length: options.epochs }, (_, e) => epochOrder(plan, e)),
      images: data.train.images,
      labels: data.train.labels,
      seed: 1,
    });
    trainingRows.push({ workload, unit: "samples/s", figures, target: 1.5 });

    // Ablations, on all threads: fewer epochs, each against the defaults trained just before and
    // just after it (this host's speed drifts by more than most fusions are worth, so defaults
    // measured minutes earlier made a fusion look 9% harmful that alternate trainings in one
    // process showed 0-3% useful).
    const short = { ...options, epochs: Math.min(options.epochs, quick ? 2 : 3) };
    const variants: [string, () => Promise<Kernels>][] = [
      [
        "dense input (no sparse products)",
        () => createWasmKernels({ threads, sparseZeros: 2 }),
      ],
      [
        "WebAssembly only (no native kernels)",
        () => createWasmKernels({ threads, native: false }),
      ],
      [
        "optimiser in TypeScript (no update kernel)",
        async () => ({ ...(await createWasmKernels({ threads })), update: undefined }),
      ],
      [
        "activations, their gradients, bias sums in TypeScript",
        // The gradients too, which the products otherwise store (see withoutGateFusion).
        async () =>
          withoutGateFusion({
            ...(await createWasmKernels({ threads })),
            activate: undefined,
            sigmoid: undefined,
            activateBackward: undefined,
            columnSums: undefined,
          }),
      ],
      // Each fusion undone alone, with the same bits (bench/ablations.ts).
      [
        `${
          options.activation === "relu" ? "ReLU" : "sigmoid"
        } backward a pass of its own, not in dz·Wᵀ`,
        async () => withoutGateFusion(await createWasmKernels({ threads })),
      ],
      [
        "biases a pass of their own, not added as C is stored",
        async () => withoutBiasFusion(await createWasmKernels({ threads })),
      ],
    ];
    if (threads > 1) {
      variants.push([
        "gradient products one after the other, not in pairs",
        async () => withoutPairs(await createWasmKernels({ threads })),
      ]);
    }
    if (threads > 1 && options.output === "sigmoid" && (options.l1 !== 0 || options.l2 !== 0)) {
      variants.push([
        "logistic costs' pass at once, not beside the weight penalty",
        async () => withoutLossBesidePenalty(await createWasmKernels({ threads })),
      ]);
    }
    let before = await oursPerSecond(data, plan, short, oursN);
    for (const [variant, make] of variants) {
      const kernels = await make();
      let samples: number;
      try {
        samples = await oursPerSecond(data, plan, short, kernels);
      } finally {
        (kernels as WasmKernels).close();
      }
      const after = await oursPerSecond(data, plan, short, oursN);
      const defaults = (before + after) / 2;
      ablations.push({ workload: workload.split(",")[0], variant, samples, defaults });
      before = after;
      log(`measured ablation: ${variant}`);
    }
  }
}

/** Sets figure `name` to `value` unless it already holds a larger one. */
function keepBest(figures: Map<string, number>, name: string, value: number): void {
  figures.set(name, Math.max(figures.get(name) ?? -Infinity, value));
}

/** Our samples/s: the median epoch after the first of a whole training. */
async function oursPerSecond(
  data: Mnist,
  plan: BatchPlan,
  options: TrainOptions,
  kernels: Kernels,
): Promise<number> {
  const result = await trainNetwork(data.set, plan, options, { log() {} }, kernels);
  const epochs = result.history.map((h) => h.seconds);
  const seconds = epochs.length > 1 ? median(epochs.slice(1))! : epochs[0];
  return plan.trainIndices.length / seconds;
}

if (flags.help) console.log(HELP);
else await runBench();

/** Real MNIST in memory: both splits, and the same as a data set for our trainer. */
interface Mnist {
  /** Training images, normalized. */
  train: Chunk<Float32Array>;
  /** Test images, normalized. */
  test: Chunk<Float32Array>;
  /** Number of classes. */
  classes: number;
  /** The same images as a data set. */
  set: DataSet<Float32Array, NormalizedMeta>;
}

/** Real MNIST, decoded and normalized as `mode` says (the peers get the very same floats). */
async function loadMnist(mode: NormalizeMode): Promise<Mnist> {
  const raw = await decodeDataSet(await findDataFiles(bundledDataDir()));
  const rawTrain = await collectSplit(raw, "train");
  const rawTest = await collectSplit(raw, "test");
  const normalization = fitNormalization(mode, rawTrain.images);
  const train = { ...rawTrain, images: normalizePixels(rawTrain.images, normalization) };
  const test = { ...rawTest, images: normalizePixels(rawTest.images, normalization) };
  const meta = { ...raw.meta, pixels: "float32" as const, normalization };
  return { train, test, classes: raw.meta.classes, set: memoryDataSet(meta, { train, test }) };
}

/**
 * Prints the table: every contender's figure; ours on one thread against each
 * peer on one, and our defaults against each peer's best thread count. For
 * products the last column is our best against PyTorch's best on the same
 * shape: the native yardstick, measured.
 */
function printTable(table: Row[], torchPeer: TorchProbe | null): void {
  const ours = `ours ×${threads}`;
  const torch = TORCH_THREADS.map((t) => `torch ×${t}`);
  const contenders = ["tfjs-cpu", "tfjs-wasm", "ours ×1", ours, ...torch];
  const ratios: [string, (f: (name: string) => number) => number][] = [
    ["×1/wasm", (f) => f("ours ×1") / f("tfjs-wasm")],
    ["×1/torch×1", (f) => f("ours ×1") / f("torch ×1")],
    [`×${threads}/torch best`, (f) => f(ours) / Math.max(...torch.map(f))],
  ];
  const header = [
    "workload".padEnd(58),
    "unit".padEnd(9),
    ...contenders.map((c) => c.padStart(10)),
    ...ratios.map(([name]) => name.padStart(name.length > 10 ? 14 : 10)),
    "target".padStart(7),
  ].join(" ");
  console.log(header);
  console.log("-".repeat(header.length));
  for (const row of table) {
    const f = (name: string) => row.figures.get(name) ?? NaN;
    const format = (v: number) =>
      (Number.isNaN(v) ? "—" : v >= 100 ? v.toFixed(0) : v.toFixed(1)).padStart(10);
    console.log([
      row.workload.padEnd(58),
      row.unit.padEnd(9),
      ...contenders.map((c) => format(f(c))),
      ...ratios.map(([name, ratio]) => {
        const v = ratio(f);
        return (Number.isNaN(v) ? "—" : `${v.toFixed(2)}×`).padStart(name.length > 10 ? 14 : 10);
      }),
      (row.target ? `≥${row.target}×` : "").padStart(7),
    ].join(" "));
  }
  console.log(
    torchPeer
      ? `PyTorch ${torchPeer.version} on /usr/bin/python3 with ${torchPeer.blas}, free to pick ` +
        "AVX-512 (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for the peer alone), glibc keeping " +
        "freed memory (MALLOC_MMAP_THRESHOLD_ and friends), denormals flushed"
      : TORCH_HINT,
  );
  const warning = torchPeer && blasWarning(torchPeer.blas);
  if (warning) console.log(`WARNING: ${warning}`);
  if (rounds > 1) {
    console.log(
      `epoch rows: each column's best of ${rounds} rounds, ours and PyTorch's trained in turn`,
    );
  }
}

/** Prints the ablation rows: our defaults on all threads with one thing off. */
function printAblations(ablations: Ablation[]): void {
  if (ablations.length === 0) return;
  console.log("");
  console.log(
    `ablations (ours ×${threads}, one thing off; samples/s; defaults trained just before and after each)`,
  );
  const width = Math.max(...ablations.map((a) => a.variant.length));
  for (const a of ablations) {
    console.log(
      [
        a.workload.padEnd(40),
        a.variant.padEnd(width),
        a.samples.toFixed(0).padStart(9),
        `defaults ${a.defaults.toFixed(0)}`.padStart(17),
        `${(a.defaults / a.samples).toFixed(2)}× faster with it`.padStart(22),
      ].join(" "),
    );
  }
}

/** Runs the default pipeline cold in a subprocess; returns lines with wall time, data stages, peak RSS. */
async function benchPipeline(): Promise<string[]> {
  const scratch = await Deno.makeTempDir({ prefix: "mnist-bench-" });
  try {
    const args = [
      "run",
      "--allow-read",
      "--allow-write",
      `--allow-ffi=${NATIVE_LIBRARY.pathname}`,
      new URL("../main.ts", import.meta.url).pathname,
      "pipeline",
      "--cache-dir",
      `${scratch}/cache`,
      "--out",
      `${scratch}/run`,
      "--json",
      "--threads",
      String(threads),
      ...(quick ? ["--epochs", "1"] : []),
    ];
    const { stdout, wall, peakKiB } = await runWatched("the pipeline", args);
    const metrics = JSON.parse(stdout);
    const stages = metrics.stages as { name: string; seconds: number; status: string }[];
    const dataStages = stages.filter((s) => ["decode", "normalize", "deskew"].includes(s.name));
    const dataSeconds = dataStages.reduce((sum, s) => sum + s.seconds, 0);
    return [
      "",
      `pipeline (default preset${quick ? ", 1 epoch" : ""}, cold cache, ${threads} thread(s)): ` +
      `wall ${wall.toFixed(1)} s, peak RSS ${
        Number.isNaN(peakKiB) || peakKiB === 0 ? "unknown" : `${(peakKiB / 1024).toFixed(0)} MiB`
      }, ` +
      `test accuracy ${percent(metrics.testAccuracy)}`,
      `  data stages ${dataSeconds.toFixed(2)} s (target < 5 s): ` +
      dataStages.map((s) => `${s.name} ${s.seconds.toFixed(2)}`).join(", ") + "; " +
      stages.filter((s) => !dataStages.includes(s)).map((s) => `${s.name} ${s.seconds.toFixed(2)}`)
        .join(", "),
    ];
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
}

/** What {@linkcode runWatched} measured of a child. */
interface WatchedRun {
  /** The child's stdout. */
  stdout: string;
  /** Wall seconds from spawn to exit. */
  wall: number;
  /** Peak resident set in KiB; NaN or 0 when /proc could not be read. */
  peakKiB: number;
}

/** Runs `deno ...args` in a fresh process watched by {@linkcode PEAK_RSS_WATCHER}; throws unless it succeeds. */
async function runWatched(what: string, args: string[]): Promise<WatchedRun> {
  log(`running: deno ${args.join(" ")}`);
  const started = performance.now();
  // Deno may read /proc only with --allow-all, so a shell watches the child's high-water mark.
  const child = new Deno.Command("bash", {
    args: ["-c", PEAK_RSS_WATCHER, "bash", Deno.execPath(), ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  watchedChild = child;
  const output = await child.output().finally(() => watchedChild = null);
  const wall = (performance.now() - started) / 1000;
  const stderr = new TextDecoder().decode(output.stderr);
  if (!output.success) {
    throw new Error(
      `Cannot measure ${what} as it must succeed: it exited with ${output.code}:\n${stderr}`,
    );
  }
  const peakKiB = Number(/peak-rss-kib (\d+)/.exec(stderr)?.[1] ?? NaN);
  return { stdout: new TextDecoder().decode(output.stdout), wall, peakKiB };
}

/** Peak RSS in MB (10^6 bytes), or "unknown" when the watcher could not read it. */
function megabytes(peakKiB: number): string {
  return Number.isNaN(peakKiB) || peakKiB === 0 ? "unknown" : (peakKiB * 1024 / 1e6).toFixed(0);
}

/** The training-image count in an IDX labels file's header. */
async function labelCount(path: string): Promise<number> {
  const file = await Deno.open(path);
  try {
    const head = new Uint8Array(8);
    let filled = 0;
    while (filled < 8) {
      const n = await file.read(head.subarray(filled));
      if (n === null) throw new Error(`Cannot read the count of "${path}": it is truncated`);
      filled += n;
    }
    return new DataView(head.buffer).getUint32(4);
  } finally {
    file.close();
  }
}

/**
 * Peak RSS against data size: makes the larger sets with make-data in a temp
 * folder, then trains one epoch on each (fresh process, `--no-cache`, a temp
 * cache) and returns a table of images, peak RSS, its ratio to the bundled
 * set's, and wall seconds. The temp folder goes whatever happens.
 */
async function benchMemory(): Promise<string[]> {
  const scratch = await Deno.makeTempDir({ prefix: "mnist-bench-memory-" });
  const removeScratch = () => {
    try {
      Deno.removeSync(scratch, { recursive: true });
    } catch {
      // Already gone: nothing to clean.
    }
  };
  // An interrupt stops the child first, so nothing writes into the folder once it is removed.
  const onInterrupt = async () => {
    const child = watchedChild;
    if (child) {
      child.kill("SIGTERM");
      await child.status;
    }
    removeScratch();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    const main = new URL("../main.ts", import.meta.url).pathname;
    const source = bundledDataDir();
    const perCopy = await labelCount(`${source}/${DATA_FILE_NAMES.trainLabels}`);
    const rows: { images: number; peakKiB: number; wall: number }[] = [];
    for (const copies of MEMORY_ROW_COPIES) {
      let data: string[] = [];
      if (copies > 1) {
        const dir = `${scratch}/data-${copies}`;
        const made = await runWatched("make-data", [
          "run",
          "--allow-read",
          "--allow-write",
          main,
          "make-data",
          "--copies",
          String(copies),
          "--shift",
          String(MEMORY_ROW_SHIFT),
          "--out",
          dir,
        ]);
        log(
          `made ${copies * perCopy} images in ${made.wall.toFixed(1)} s, ` +
            `make-data peak RSS ${megabytes(made.peakKiB)} MB`,
        );
        data = ["--data", dir];
      }
      const run = await runWatched("the pipeline", [
        "run",
        "--allow-read",
        "--allow-write",
        `--allow-ffi=${NATIVE_LIBRARY.pathname}`,
        main,
        "pipeline",
        ...data,
        "--epochs",
        "1",
        "--no-cache",
        "--cache-dir",
        `${scratch}/cache-${copies}`,
        "--out",
        `${scratch}/run-${copies}`,
        "--json",
        "--threads",
        String(threads),
        ...MEMORY_ROW_PIPELINE_ARGS,
      ]);
      rows.push({ images: copies * perCopy, peakKiB: run.peakKiB, wall: run.wall });
      // Each data set and cache goes once measured, so the disk holds one at a time.
      await Deno.remove(scratch, { recursive: true });
      await Deno.mkdir(scratch);
    }
    const base = rows[0].peakKiB;
    const extra = MEMORY_ROW_PIPELINE_ARGS.length ? MEMORY_ROW_PIPELINE_ARGS.join(" ") : "none";
    return [
      "",
      `peak RSS against data size (default preset, 1 epoch, --no-cache, ${threads} thread(s), ` +
      `extra pipeline flags: ${extra}; make-data --shift ${MEMORY_ROW_SHIFT})` +
      (quick ? ` [--quick: ${rows.map((r) => r.images).join(" and ")} images only]` : ""),
      `${"images".padStart(9)} ${"peak RSS MB".padStart(12)} ${`× ${perCopy}`.padStart(9)} ${
        "wall s".padStart(8)
      }`,
      ...rows.map((row) =>
        [
          String(row.images).padStart(9),
          megabytes(row.peakKiB).padStart(12),
          `${(row.peakKiB / base).toFixed(2)}×`.padStart(9),
          row.wall.toFixed(1).padStart(8),
        ].join(" ")
      ),
    ];
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    removeScratch();
  }
}
