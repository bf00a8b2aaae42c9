/**
 * The command line: dispatches a command name to its module in cli/, turns the
 * project's own errors into one `error: …` line, and is the only place that
 * exits. Ctrl-C (SIGINT) or SIGTERM runs the cleanups registered through
 * engine/cleanup.ts (temp files, the registry lock, the terminal) and exits
 * 130 or 143.
 *
 * @module
 */
import { compareCommand } from "./cli/compare.ts";
import { fuzzCommand } from "./cli/fuzz.ts";
import { gradcheckCommand } from "./cli/gradcheck.ts";
import { type Command, type Console, stdio } from "./cli/io.ts";
import { makeDataCommand } from "./cli/make_data.ts";
import { modelsCommand } from "./cli/models.ts";
import { pipelineCommand } from "./cli/pipeline.ts";
import { predictCommand } from "./cli/predict.ts";
import { retrainCommand } from "./cli/retrain.ts";
import { scheduleCommand } from "./cli/schedule.ts";
import { serveCommand } from "./cli/serve.ts";
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

const COMMANDS: Record<string, Command> = {
  pipeline: pipelineCommand,
  compare: compareCommand,
  gradcheck: gradcheckCommand,
  predict: predictCommand,
  retrain: retrainCommand,
  schedule: scheduleCommand,
  models: modelsCommand,
  "make-data": makeDataCommand,
  fuzz: fuzzCommand,
  serve: serveCommand,
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
      io.err(`error: ${error.message}. Run with --help for the flags`);
      return 2;
    }
    throw error;
  }
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
