/**
 * Every command: its entry point, a one-line summary for `--help`, and its
 * help text (whose flags "did you mean" searches).
 *
 * @module
 */
import { CACHE_HELP, cacheCommand } from "./cache.ts";
import { COMPARE_HELP, compareCommand } from "./compare.ts";
import { EXPORT_HELP, exportCommand } from "./export.ts";
import { FUZZ_HELP, fuzzCommand } from "./fuzz.ts";
import { GRADCHECK_HELP, gradcheckCommand } from "./gradcheck.ts";
import type { Command } from "./io.ts";
import { MAKE_DATA_HELP, makeDataCommand } from "./make_data.ts";
import { MODELS_HELP, modelsCommand } from "./models.ts";
import { PIPELINE_HELP, pipelineCommand } from "./pipeline.ts";
import { PREDICT_HELP, predictCommand } from "./predict.ts";
import { RETRAIN_HELP, retrainCommand } from "./retrain.ts";
import { RUNS_HELP, runsCommand } from "./runs.ts";
import { SCHEDULE_HELP, scheduleCommand } from "./schedule.ts";
import { SERVE_HELP, serveCommand } from "./serve.ts";

/** A command: its module's entry point, its one-line summary, and its help. */
export interface CommandEntry {
  /** Runs the command. */
  run: Command;
  /** One line for `main.ts --help`. */
  summary: string;
  /** The command's `--help` text. */
  help: string;
}

/** The commands by name, in the order `--help` lists them. */
export const COMMAND_TABLE: Readonly<Record<string, CommandEntry>> = {
  pipeline: {
    run: pipelineCommand,
    summary: "train and evaluate one configuration; writes runs/<timestamp>-<key>/",
    help: PIPELINE_HELP,
  },
  runs: {
    run: runsCommand,
    summary: "list every run and comparison as a table; writes runs/index.html",
    help: RUNS_HELP,
  },
  compare: {
    run: compareCommand,
    summary: "train two arms that differ in one flag over the same seeds; test the difference",
    help: COMPARE_HELP + PIPELINE_HELP,
  },
  gradcheck: {
    run: gradcheckCommand,
    summary: "check backprop against central differences",
    help: GRADCHECK_HELP,
  },
  predict: {
    run: predictCommand,
    summary: "classify PNG digits or IDX image files with a saved model",
    help: PREDICT_HELP,
  },
  retrain: {
    run: retrainCommand,
    summary: "train a challenger; promote it when it matches the registry's champion",
    help: RETRAIN_HELP + PIPELINE_HELP,
  },
  schedule: {
    run: scheduleCommand,
    summary: "keep running and retrain on a schedule (--every or --cron)",
    help: SCHEDULE_HELP + RETRAIN_HELP + PIPELINE_HELP,
  },
  models: {
    run: modelsCommand,
    summary: "list the registry's model versions; promote or roll back",
    help: MODELS_HELP,
  },
  "make-data": {
    run: makeDataCommand,
    summary: "write an IDX data set whose training set is shifted copies of another's",
    help: MAKE_DATA_HELP,
  },
  export: {
    run: exportCommand,
    summary: "export a model to ONNX or a TensorFlow.js layers model",
    help: EXPORT_HELP,
  },
  fuzz: {
    run: fuzzCommand,
    summary: "feed mutated inputs to the decoders and check each is refused cleanly",
    help: FUZZ_HELP,
  },
  serve: {
    run: serveCommand,
    summary: "serve predictions over HTTP, with a draw-a-digit page; follows the registry",
    help: SERVE_HELP,
  },
  cache: {
    run: cacheCommand,
    summary: "list, prune or clean the stage cache",
    help: CACHE_HELP,
  },
};

/** The commands' entry points by name. */
export const COMMANDS: Readonly<Record<string, Command>> = Object.fromEntries(
  Object.entries(COMMAND_TABLE).map(([name, entry]) => [name, entry.run]),
);
