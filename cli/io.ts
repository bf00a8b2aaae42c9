/**
 * What every command shares: where its output goes, the reporter it hands the
 * app, the check for stray positional arguments, the rule that a bad flag is a
 * usage error, and the exit codes its help lists.
 *
 * @module
 */
import process from "node:process";
import { checkInterrupted } from "../engine/cleanup.ts";
import { ConfigError, UsageError } from "../engine/errors.ts";
import type { Reporter } from "../engine/stage.ts";
import { liveReporter, plainReporter, type ProgressStream } from "./progress.ts";

/** Where a command writes: `out` for results, `err` for progress and errors. */
export interface Console {
  /** Writes a line of results. */
  out(line: string): void;
  /** Writes a line of progress or an error. */
  err(line: string): void;
  /** The terminal to draw a live training bar on; absent when stderr is not a terminal. */
  progress?: ProgressStream;
}

/** The process's stdout and stderr, with a live bar when stderr is a terminal. */
export const stdio: Console = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  progress: Deno.stderr.isTerminal() ? process.stderr : undefined,
};

/**
 * Wraps a reporter so that each line and progress report first checks for
 * Ctrl-C or SIGTERM ({@linkcode checkInterrupted}): training reports after
 * every minibatch without yielding, and this is where a signal stops it.
 */
export function interruptible<R extends Reporter>(reporter: R): R {
  return {
    ...reporter,
    log(line) {
      checkInterrupted();
      reporter.log(line);
    },
    progress(p) {
      checkInterrupted();
      reporter.progress?.(p);
    },
  };
}

/**
 * A live bar on a terminal, plain per-epoch lines elsewhere; `close` clears the
 * bar, so call it before printing results. Either stops at Ctrl-C or SIGTERM.
 */
export function reporterFor(io: Console): Reporter & { close(): void } {
  if (io.progress) return interruptible(liveReporter(io.progress));
  return interruptible({ ...plainReporter((line) => io.err(line)), close: () => {} });
}

/** The signature of a command: its arguments (after the command name) in, an exit code out. */
export type Command = (args: string[], io: Console) => Promise<number>;

/** True when there are no positionals; else prints the usage error and returns false. */
export function noPositionals(command: string, positionals: string[], io: Console): boolean {
  if (positionals.length === 0) return true;
  io.err(
    `error: ${command} takes no positional arguments: got ${positionals.join(" ")}. ` +
      `Run with --help`,
  );
  return false;
}

/** The "Exit codes" section that ends every command's `--help`. */
export const EXIT_CODES_HELP = `Exit codes
  0    success
  1    a data, model, file, permission or runtime error (one "error: …" line says which, and
       what to do)
  2    a usage error: an unknown command or flag, a missing or bad flag value, flags that clash
  130  stopped by Ctrl-C (SIGINT); 143: stopped by SIGTERM
`;

/**
 * Runs `parse`, the part of a command that reads its flags, and turns a
 * {@linkcode ConfigError} it raises (or its promise rejects with) into a
 * {@linkcode UsageError}, so that a bad flag exits 2 wherever its check lives
 * (app/, registry/).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError, UsageError } from "../engine/errors.ts";
 * assert.throws(() => readFlags(() => {
 *   throw new ConfigError("Cannot use --vary as it must read FLAG=A,B");
 * }), UsageError);
 * ```
 */
export function readFlags<T>(parse: () => T): T {
  const usage = (error: unknown) =>
    error instanceof ConfigError && !(error instanceof UsageError)
      ? new UsageError(error.message, { cause: error })
      : error;
  try {
    const result = parse();
    if (result instanceof Promise) {
      return result.catch((error) => {
        throw usage(error);
      }) as T;
    }
    return result;
  } catch (error) {
    throw usage(error);
  }
}

/**
 * True unless both a flag and its `--no-` form are given (parseArgs would let
 * the later one win silently); else prints the usage error and returns false.
 */
export function noContradictions(
  values: Record<string, unknown>,
  io: Console,
  pairs: readonly (readonly [string, string])[] = [["deskew", "no-deskew"]],
): boolean {
  const both = pairs.find(([on, off]) => values[on] === true && values[off] === true);
  if (!both) return true;
  io.err(
    `error: Cannot use --${both[0]} with --${both[1]} as they contradict each other: ` +
      `give one of them. Run with --help`,
  );
  return false;
}
