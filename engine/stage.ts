/**
 * The stage contract: a typed transform with an identity (name, version,
 * params) and a codec, so the runner can key, cache and skip it.
 *
 * @module
 */

import type { Kernels } from "../model/kernels.ts";

/** A JSON value: what stage params are made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Turns a stage's output into bytes and back. */
export interface Codec<T> {
  /** Serialises an output. */
  encode(value: T): Uint8Array;
  /** Rebuilds an output; throws when the bytes do not describe one. */
  decode(bytes: Uint8Array): T;
}

/** Where training stands after a minibatch; loss and accuracy cover the epoch so far. */
export interface TrainProgress {
  /** 1-based epoch. */
  epoch: number;
  /** Epochs to run at most. */
  epochs: number;
  /** 1-based minibatch within the epoch. */
  batch: number;
  /** Minibatches per epoch. */
  batches: number;
  /** Mean per-row data loss over the epoch's minibatches so far. */
  loss: number;
  /** Accuracy over the epoch's minibatches so far, 0..1. */
  accuracy: number;
}

/** What a stage reports while it works: lines for a log, and training progress. */
export interface Reporter {
  /** A line of progress (stderr in the CLI). */
  log(line: string): void;
  /** Called after every minibatch; throttling is the receiver's job, as calls are cheap here. */
  progress?(p: TrainProgress): void;
}

/** What the runner hands a stage besides its input. */
export interface StageContext {
  /** The output of a stage this one declared in `uses`. */
  outputOf<T>(stage: Stage<never, T>): T;
  /** Where progress goes. */
  reporter: Reporter;
  /** The matrix kernels to compute on, started on first use. */
  kernels(): Promise<Kernels>;
}

/**
 * A stage. Its cache key is SHA-256 over (name, version, canonical params,
 * upstream key); bump `version` whenever the same input would now give other output.
 */
export interface Stage<In, Out> {
  /** Short identifier, also the cache sub-folder. */
  readonly name: string;
  /** Output format and semantics version. */
  readonly version: number;
  /** Everything that changes the output, the seed included. */
  readonly params: Json;
  /** Earlier stages (besides the one just before) whose outputs `run` reads. */
  readonly uses?: readonly Stage<never, unknown>[];
  /** Computes the output. */
  run(input: In, context: StageContext): Promise<Out>;
  /** Serialises the output for the cache. */
  readonly codec: Codec<Out>;
}

/** Any stage, for code that handles a chain of differently typed stages. */
// deno-lint-ignore no-explicit-any
export type AnyStage = Stage<any, any>;
