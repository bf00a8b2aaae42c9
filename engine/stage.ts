/**
 * The stage contract: a typed transform with an identity (name, version,
 * params), so the runner can key, cache and skip it. Two kinds:
 *
 * - a **data stage** produces a {@linkcode DataSet}: chunks streamed per split,
 *   cached as framed chunks while they pass. {@linkcode chunkStage} builds the
 *   usual per-row kind from an optional fit (one pass over the training chunks)
 *   and a chunk-to-chunk `TransformStream`;
 * - a **value stage** sees its whole inputs and produces one value (a batch
 *   plan, a model, metrics), cached through its {@linkcode Codec}.
 *
 * @module
 */
import type { Chunk, DataMeta, DataSet, Pixels } from "./chunk.ts";

/** A JSON value: what stage params are made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Turns a value stage's output into bytes and back. */
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

/** What the runner hands a stage besides its inputs. */
export interface StageContext {
  /** Where progress goes. */
  reporter: Reporter;
  /**
   * Runs `work` and counts its wall time as this stage's own; data stages
   * wrap the per-chunk work their streams do later, long after `build` returned.
   */
  timed<T>(work: () => T): T;
}

/** What makes a stage's output: its cache key is SHA-256 over these and its inputs' keys. */
export interface StageIdentity {
  /** Short identifier, also the cache sub-folder. */
  readonly name: string;
  /** Output format and semantics version; bump it when the same input would now give other output. */
  readonly version: number;
  /** Everything that changes the output, the seed included. */
  readonly params: Json;
}

/** A stage that computes one whole value from its inputs. */
export interface ValueStage<I extends readonly unknown[], T> extends StageIdentity {
  /** Tells the runner to cache the output through `codec`. */
  readonly kind: "value";
  /** Computes the output. */
  run(inputs: I, context: StageContext): Promise<T>;
  /** Serialises the output for the cache. */
  readonly codec: Codec<T>;
}

/** A stage whose output is a data set, streamed and cached chunk by chunk. */
export interface DataStage<I extends readonly unknown[], P extends Pixels, M extends DataMeta>
  extends StageIdentity {
  /** Tells the runner to cache the output as framed chunks, one entry per split. */
  readonly kind: "data";
  /** Returns the output lazily: its meta now, its chunks as each split is opened. */
  build(inputs: I, context: StageContext): Promise<DataSet<P, M>>;
}

/** Any stage, as the runner stores them. */
// deno-lint-ignore no-explicit-any
export type AnyStage = ValueStage<any, unknown> | DataStage<any, Pixels, DataMeta>;

/**
 * A `TransformStream` that maps each chunk to one chunk; per-row stages
 * subclass it, and `timer` (the runner's clock) counts the mapping's time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ChunkMapStream } from "./stage.ts";
 * const double = new ChunkMapStream((c: { images: Uint8Array; labels: Uint8Array; rows: number; cols: number }) =>
 *   ({ ...c, images: c.images.map((v) => 2 * v) })
 * );
 * const chunk = { images: Uint8Array.of(1, 2), labels: Uint8Array.of(0), rows: 1, cols: 2 };
 * const [out] = await Array.fromAsync(ReadableStream.from([chunk]).pipeThrough(double));
 * assert.deepEqual([...out.images], [2, 4]);
 * ```
 */
export class ChunkMapStream<A, B> extends TransformStream<A, B> {
  /** Creates a stream applying `map` to every chunk. */
  constructor(map: (chunk: A) => B, timer: <T>(work: () => T) => T = (work) => work()) {
    super({
      transform(chunk, controller) {
        controller.enqueue(timer(() => map(chunk)));
      },
    });
  }
}

/** Options of {@linkcode chunkStage}: an identity, a fit and a per-chunk map. */
export interface ChunkStageOptions<
  In extends Pixels,
  Out extends Pixels,
  MIn extends DataMeta,
  MOut extends DataMeta,
> extends StageIdentity {
  /**
   * Learns what the map needs and returns the output's meta; a stage that
   * learns statistics streams `input.open("train")` once here.
   */
  fit(input: DataSet<In, MIn>, context: StageContext): Promise<MOut>;
  /** The per-chunk map, given the fitted meta; applied to both splits alike. */
  map(meta: MOut): (chunk: Chunk<In>) => Chunk<Out>;
}

/**
 * A per-row data stage: fits once, then pipes every split through a
 * {@linkcode ChunkMapStream} of its map, counting the map's work as the stage's time.
 */
export function chunkStage<
  In extends Pixels,
  Out extends Pixels,
  MIn extends DataMeta,
  MOut extends DataMeta,
>(options: ChunkStageOptions<In, Out, MIn, MOut>): DataStage<[DataSet<In, MIn>], Out, MOut> {
  return {
    kind: "data",
    name: options.name,
    version: options.version,
    params: options.params,
    async build([input], context) {
      const meta = await options.fit(input, context);
      const map = options.map(meta);
      return {
        meta,
        open: (split) => input.open(split).pipeThrough(new ChunkMapStream(map, context.timed)),
      };
    },
  };
}
