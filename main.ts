/**
 * The command line: dispatches a command name to its module in cli/, turns the
 * project's own errors into one `error: …` line, and is the only place that exits.
 *
 * @module
 */
import { compareCommand } from "./cli/compare.ts";
import { fuzzCommand } from "./cli/fuzz.ts";
import { gradcheckCommand } from "./cli/gradcheck.ts";
import { type Command, type Console, stdio } from "./cli/io.ts";
import { modelsCommand } from "./cli/models.ts";
import { pipelineCommand } from "./cli/pipeline.ts";
import { predictCommand } from "./cli/predict.ts";
import { retrainCommand } from "./cli/retrain.ts";
import { scheduleCommand } from "./cli/schedule.ts";
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
  fuzz: fuzzCommand,
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

if (import.meta.main) Deno.exit(await main(Deno.args));
