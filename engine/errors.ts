/**
 * Typed errors thrown by library code. Only `main.ts` turns them into an
 * `error: …` line and an exit code.
 *
 * @module
 */

/** Base class for every error this project throws on purpose. */
export class PipelineError extends Error {
  /** Creates an error whose message states the action, the rule, the value and a hint. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Input data (an IDX file, a PNG, a data folder) breaks a rule. */
export class InputError extends PipelineError {}

/** A flag or preset value is invalid. */
export class ConfigError extends PipelineError {}

/**
 * A command line is wrong: a flag value breaks its rule, a required flag is
 * missing, two flags clash. `main.ts` exits 2 for it (1 for every other
 * {@linkcode PipelineError}); a {@linkcode ConfigError} raised while a command
 * reads its flags is turned into one.
 */
export class UsageError extends ConfigError {}

/**
 * The process lacks a Deno permission a path the user chose needs (a
 * `--data`, `--out` or `--cache-dir` outside the folders its task may use);
 * the message names the flag to add.
 */
export class AccessError extends PipelineError {}

/** A cache entry failed verification; the runner recomputes it. */
export class CacheError extends PipelineError {}

/** Training produced a NaN or infinite loss. */
export class DivergenceError extends PipelineError {}

/** A model registry is unreadable, or a registry operation breaks a rule. */
export class RegistryError extends PipelineError {}

/** The registry is locked by another live retraining. */
export class LockError extends PipelineError {}
