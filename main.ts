/**
 * The command line: dispatches a command name to its module in cli/ (`--help`
 * or no command lists them, `--version` prints the version, a mistyped command
 * or flag gets a "did you mean"), turns the project's own errors, and those of
 * the operating system and of Deno's permissions, into one `error: …` line, and
 * is the only place that exits. Exit codes: 0 success; 1 a data, model, file,
 * permission or runtime error; 2 a usage error; 130 or 143 when Ctrl-C
 * (SIGINT) or SIGTERM stopped it, after the cleanups registered through
 * engine/cleanup.ts (temp files, the registry lock, the terminal) ran.
 *
 * @module
 */
import { COMMAND_TABLE, COMMANDS } from "./cli/commands.ts";
import { describeSystemError, isSystemError } from "./cli/failures.ts";
import { type Command, type Console, stdio } from "./cli/io.ts";
import { closest, flagsInHelp, mainHelp, NAME, VERSION } from "./cli/usage.ts";
import {
  Interrupted,
  interruptExitCode,
  type InterruptSignal,
  interruptSignals,
  runCleanups,
  watchInterrupts,
} from "./engine/cleanup.ts";
import { PipelineError, UsageError } from "./engine/errors.ts";
import { ModelError } from "./model/errors.ts";

export { COMMANDS } from "./cli/commands.ts";
export type { Console } from "./cli/io.ts";

/**
 * Runs a command line and returns its exit code; prints `error: …` for
 * expected failures. `commands` replaces the command table (tests hand in
 * commands that fail on cue).
 */
export async function main(
  args: string[],
  io: Console = stdio,
  commands: Readonly<Record<string, Command>> = COMMANDS,
): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const summaries = Object.entries(COMMAND_TABLE).map(([name, { summary }]) => ({
      name,
      summary,
    }));
    if (command !== undefined) {
      io.out(mainHelp(summaries));
      return 0;
    }
    io.err(mainHelp(summaries));
    io.err("error: a command must be given: got none. Run with --help for the commands");
    return 2;
  }
  if (command === "--version" || command === "-V") {
    io.out(`${NAME} ${VERSION}`);
    return 0;
  }
  const run = Object.hasOwn(commands, command) ? commands[command] : undefined;
  if (!run) {
    const guess = closest(command, Object.keys(commands));
    io.err(
      `error: the command must be one of ${Object.keys(commands).join(", ")}: got "${command}"` +
        (guess ? `. Did you mean "${guess}"?` : ". Run with --help for the commands"),
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
      return error instanceof UsageError ? 2 : 1;
    }
    if (
      error instanceof TypeError && "code" in error &&
      String(error.code).startsWith("ERR_PARSE_ARGS")
    ) {
      io.err(`error: ${usageMessage(error.message, COMMAND_TABLE[command]?.help ?? "")}`);
      return 2;
    }
    // The system's failures (a full disk, a folder not writable, a path that is a file, a
    // permission the task lacks) are the user's to fix: the path, the rule and a hint per kind.
    if (isSystemError(error)) {
      io.err(describeSystemError(error, command, rest));
      return 1;
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
