/**
 * The command line: dispatches a command name to its module in cli/ (`--help`
 * or no command lists them, `--version` prints the version, a mistyped
 * command or flag gets a "did you mean"), turns the project's own errors into
 * one `error: …` line, and is the only place that exits. Ctrl-C (SIGINT) or SIGTERM runs the cleanups registered through
 * engine/cleanup.ts (temp files, the registry lock, the terminal) and exits
 * 130 or 143.
 *
 * @module
 */
import { COMPARE_HELP, compareCommand } from "./cli/compare.ts";
import { FUZZ_HELP, fuzzCommand } from "./cli/fuzz.ts";
import { GRADCHECK_HELP, gradcheckCommand } from "./cli/gradcheck.ts";
import { type Command, type Console, stdio } from "./cli/io.ts";
import { MAKE_DATA_HELP, makeDataCommand } from "./cli/make_data.ts";
import { MODELS_HELP, modelsCommand } from "./cli/models.ts";
import { PIPELINE_HELP, pipelineCommand } from "./cli/pipeline.ts";
import { PREDICT_HELP, predictCommand } from "./cli/predict.ts";
import { RETRAIN_HELP, retrainCommand } from "./cli/retrain.ts";
import { RUNS_HELP, runsCommand } from "./cli/runs.ts";
import { SCHEDULE_HELP, scheduleCommand } from "./cli/schedule.ts";
import { closest, flagsInHelp, mainHelp, NAME, VERSION } from "./cli/usage.ts";
import {
  Interrupted,
  interruptExitCode,
  type InterruptSignal,
  interruptSignals,
  runCleanups,
  watchInterrupts,
} from "./engine/cleanup.ts";
import { PipelineError } from "./engine/errors.ts";
import { ModelError } from "./model/errors.ts";

export type { Console } from "./cli/io.ts";

/** A command: its module's entry point, its one-line summary, and its help (for "did you mean"). */
interface CommandEntry {
  run: Command;
  summary: string;
  help: string;
}

const COMMANDS: Record<string, CommandEntry> = {
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
  fuzz: {
    run: fuzzCommand,
    summary: "feed mutated inputs to the decoders and check each is refused cleanly",
    help: FUZZ_HELP,
  },
};

/** Runs a command line and returns its exit code; prints `error: …` for expected failures. */
export async function main(args: string[], io: Console = stdio): Promise<number> {
  const [command, ...rest] = args;
  const summaries = Object.entries(COMMANDS).map(([name, { summary }]) => ({ name, summary }));
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    (command === undefined ? io.err : io.out)(mainHelp(summaries));
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "-V") {
    io.out(`${NAME} ${VERSION}`);
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!entry) {
    const guess = closest(command, Object.keys(COMMANDS));
    io.err(
      `error: the command must be one of ${Object.keys(COMMANDS).join(", ")}: got "${command}"` +
        (guess ? `. Did you mean "${guess}"?` : ". Run with --help for the commands"),
    );
    return 2;
  }
  try {
    return await entry.run(rest, io);
  } catch (error) {
    // Thrown out of work a signal stopped; mainInterruptible cleans up and says so.
    if (error instanceof Interrupted) return error.exitCode;
    if (error instanceof PipelineError || error instanceof ModelError) {
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
      io.err(`error: ${usageMessage(error.message, entry.help)}`);
      return 2;
    }
    throw error;
  }
}

/**
 * parseArgs' message with "did you mean --x?" for an unknown flag close to a
 * documented one (dropping its note on positionals), else the pointer to --help.
 */
function usageMessage(message: string, help: string): string {
  const unknown = /^(Unknown option '--([^'=]+)')/.exec(message);
  const guess = unknown ? closest(unknown[2], flagsInHelp(help)) : null;
  return guess
    ? `${unknown![1]}. Did you mean --${guess}?`
    : `${message}. Run with --help for the flags`;
}

/**
 * Runs a command line as {@linkcode main} does, stopping cleanly on SIGINT or
 * SIGTERM: the cleanups run and the exit code is 130 or 143. A signal that
 * arrives while the command computes without yielding is noted by a watcher
 * thread and honoured at the next check, or when the command returns.
 */
async function mainInterruptible(args: string[], io: Console = stdio): Promise<number> {
  const stop = (signal: InterruptSignal) => () => {
    runCleanups();
    io.err(`stopped by ${signal}`);
    Deno.exit(interruptExitCode(signal));
  };
  const listeners = interruptSignals().map((signal) => [signal, stop(signal)] as const);
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  const watch = watchInterrupts();
  try {
    const code = await main(args, io);
    const signal = watch.signal();
    if (signal === null) return code;
    runCleanups();
    io.err(`stopped by ${signal}`);
    return interruptExitCode(signal);
  } finally {
    watch.close();
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

if (import.meta.main) Deno.exit(await mainInterruptible(Deno.args));
