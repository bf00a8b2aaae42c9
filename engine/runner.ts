/**
 * The runner: a pipeline of stages wired by typed handles. Each stage's key is
 * SHA-256 over its name, version, params and the keys of all its inputs, so a
 * change anywhere upstream of a stage (through any input it uses) changes its
 * key. Running is lazy from the wanted stages: a value stage is read from the
 * cache or computed; a data stage's chunks stream from its cache entry, or are
 * computed as they are pulled and teed into a new entry as they pass. Each
 * value is dropped as soon as no stage that still has to run needs it.
 *
 * @module
 */
import {
  entryPath,
  EntryWriter,
  hasEntry,
  openEntry,
  readValueEntry,
  writeValueEntry,
} from "./cache.ts";
import {
  type Chunk,
  type DataMeta,
  type DataSet,
  decodeChunk,
  encodeChunk,
  type Pixels,
  type Split,
  SPLITS,
} from "./chunk.ts";
import { CacheError } from "./errors.ts";
import { hashJson } from "./hash.ts";
import type { AnyStage, DataStage, Json, Reporter, StageContext, ValueStage } from "./stage.ts";

/** A handle on a pipeline node whose output has type `T`. */
export interface Node<T> {
  /** Position in its pipeline. */
  readonly index: number;
  /** The stage's name, or the source's. */
  readonly name: string;
  /** Carries the output type; never set. */
  readonly output?: T;
}

/** Handles for a tuple of input types. */
export type NodesOf<I extends readonly unknown[]> = { [K in keyof I]: Node<I[K]> };

/** The output types of a tuple of handles. */
export type OutputsOf<W extends readonly Node<unknown>[]> = {
  [K in keyof W]: W[K] extends Node<infer T> ? T : never;
};

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  /** The cache folder. */
  cacheDir: string;
  /** False ignores existing entries and overwrites them (`--no-cache`). @default {true} */
  useCache?: boolean;
  /** Where progress and warnings go. */
  reporter: Reporter;
}

/** One stage of a plan: its key, whether the cache holds it, and whether it would run. */
export interface PlanEntry {
  /** Stage name. */
  name: string;
  /** Cache key (hex SHA-256). */
  key: string;
  /** The cache holds an entry for this key. */
  cached: boolean;
  /** The stage would be computed. */
  willRun: boolean;
}

/** What happened to one stage in a run. */
export interface StageRecord {
  /** Stage name. */
  name: string;
  /** Cache key (hex SHA-256). */
  key: string;
  /** Read from the cache (true) or computed (false); for a skipped stage, whether an entry exists. */
  cached: boolean;
  /** Wall seconds of the stage's own work (reading or computing), upstream work excluded. */
  seconds: number;
  /** `ran`, `cached` (read from the cache), or `skipped`: not needed by what was wanted. */
  status: "ran" | "cached" | "skipped";
}

/** The outcome of {@linkcode Pipeline.run}. */
export interface RunResult<W extends readonly Node<unknown>[]> {
  /** The wanted outputs, in the order asked. */
  outputs: OutputsOf<W>;
  /** One record per stage, in the order they were added. */
  records: StageRecord[];
}

interface SourceNode {
  kind: "source";
  name: string;
  key: string;
  value: unknown;
}

interface StageNode {
  kind: "stage";
  stage: AnyStage;
  inputs: number[];
}

type Entry = SourceNode | StageNode;

/** A chain (or tree) of stages over a source, run lazily through the cache. */
export class Pipeline {
  #options: Required<PipelineOptions>;
  #nodes: Entry[] = [];
  #keys = new Map<number, Promise<string>>();

  /** Creates an empty pipeline. */
  constructor(options: PipelineOptions) {
    this.#options = { useCache: true, ...options };
  }

  /** Adds the source: a value (the data files) whose key is a content hash, never a path. */
  source<T>(name: string, key: string, value: T): Node<T> {
    this.#nodes.push({ kind: "source", name, key, value });
    return { index: this.#nodes.length - 1, name };
  }

  /** Adds a data stage fed by `inputs`. */
  add<I extends readonly unknown[], P extends Pixels, M extends DataMeta>(
    stage: DataStage<I, P, M>,
    ...inputs: NodesOf<I>
  ): Node<DataSet<P, M>>;
  /** Adds a value stage fed by `inputs`. */
  add<I extends readonly unknown[], T>(stage: ValueStage<I, T>, ...inputs: NodesOf<I>): Node<T>;
  add(stage: AnyStage, ...inputs: Node<unknown>[]): Node<unknown> {
    for (const input of inputs) {
      if (this.#nodes[input.index] === undefined) {
        throw new Error(`stage "${stage.name}" takes an input that is not part of this pipeline`);
      }
    }
    this.#nodes.push({ kind: "stage", stage, inputs: inputs.map((n) => n.index) });
    return { index: this.#nodes.length - 1, name: stage.name };
  }

  /** The cache key of a node. */
  key(node: Node<unknown>): Promise<string> {
    return this.#keyOf(node.index);
  }

  #keyOf(index: number): Promise<string> {
    let key = this.#keys.get(index);
    if (!key) {
      const entry = this.#nodes[index];
      key = entry.kind === "source" ? Promise.resolve(entry.key) : (async () => {
        const upstream = await Promise.all(entry.inputs.map((i) => this.#keyOf(i)));
        const { name, version, params } = entry.stage;
        return hashJson([name, version, params, upstream] as Json);
      })();
      this.#keys.set(index, key);
    }
    return key;
  }

  #parts(stage: AnyStage): readonly (string | undefined)[] {
    return stage.kind === "data" ? SPLITS : [undefined];
  }

  async #cached(index: number): Promise<boolean> {
    const entry = this.#nodes[index];
    if (entry.kind === "source") return true;
    const { cacheDir } = this.#options;
    return hasEntry(cacheDir, entry.stage.name, await this.#keyOf(index), this.#parts(entry.stage));
  }

  /** The stages a run would need for `want`, given what the cache holds. */
  async #needed(want: readonly Node<unknown>[]): Promise<{ needed: Set<number>; hits: boolean[] }> {
    const { useCache } = this.#options;
    const hits = await Promise.all(
      this.#nodes.map(async (_, i) => useCache && await this.#cached(i)),
    );
    const needed = new Set<number>();
    const visit = (i: number) => {
      if (needed.has(i)) return;
      needed.add(i);
      const entry = this.#nodes[i];
      if (entry.kind === "source" || hits[i]) return;
      for (const input of entry.inputs) visit(input);
    };
    for (const node of want) visit(node.index);
    return { needed, hits };
  }

  /** Says which stages the cache holds and which would run for `want`, running none. */
  async plan(want: readonly Node<unknown>[]): Promise<PlanEntry[]> {
    const { needed, hits } = await this.#needed(want);
    const plan: PlanEntry[] = [];
    for (const [i, entry] of this.#nodes.entries()) {
      if (entry.kind === "source") continue;
      plan.push({
        name: entry.stage.name,
        key: await this.#keyOf(i),
        cached: await this.#cached(i),
        willRun: needed.has(i) && !hits[i],
      });
    }
    return plan;
  }

  /**
   * Obtains the wanted outputs: each stage read from the cache when a
   * verified entry exists, else computed from its (recursively obtained)
   * inputs and written to the cache. A damaged entry is reported once and
   * recomputed. Waits for every cache write before it returns or throws.
   */
  async run<const W extends readonly Node<unknown>[]>(want: W): Promise<RunResult<W>> {
    const run = new Run(
      this.#nodes,
      this.#options,
      (i) => this.#keyOf(i),
      (i) => this.#cached(i),
    );
    await run.count(want.map((n) => n.index));
    try {
      const outputs = [];
      for (const node of want) {
        outputs.push(await run.get(node.index));
        await run.materialize(node.index);
      }
      await run.settle();
      return {
        outputs: outputs as OutputsOf<W>,
        records: await run.records(),
      };
    } finally {
      await run.settle();
      await run.discardUnpublished();
    }
  }
}

/** Per-stage bookkeeping of one run. */
interface Progress {
  status: "ran" | "cached";
  ms: number;
}

/** One execution of a pipeline: memoised outputs, reference counts, pending writes, records. */
class Run {
  #memo = new Map<number, Promise<unknown>>();
  #consumers = new Map<number, number>();
  #writes = new Set<Promise<void>>();
  #progress = new Map<number, Progress>();
  #warned = new Set<string>();
  #materializers = new Map<number, () => Promise<void>>();
  #unpublished = new Set<EntryWriter>();

  constructor(
    private readonly nodes: Entry[],
    private readonly options: Required<PipelineOptions>,
    private readonly keyOf: (index: number) => Promise<string>,
    private readonly cached: (index: number) => Promise<boolean>,
  ) {}

  /** Counts, for each node, the needed stages that read it (plus one per want), lazily from `want`. */
  async count(want: number[]): Promise<void> {
    const seen = new Set<number>();
    const visit = async (i: number) => {
      if (seen.has(i)) return;
      seen.add(i);
      const entry = this.nodes[i];
      if (entry.kind === "source") return;
      if (this.options.useCache && await this.cached(i)) return;
      for (const input of entry.inputs) {
        this.#consumers.set(input, (this.#consumers.get(input) ?? 0) + 1);
        await visit(input);
      }
    };
    for (const i of want) {
      this.#consumers.set(i, (this.#consumers.get(i) ?? 0) + 1);
      await visit(i);
    }
  }

  /** The output of node `i`, computed once. */
  get(i: number): Promise<unknown> {
    let promise = this.#memo.get(i);
    if (!promise) {
      promise = this.#obtain(i);
      this.#memo.set(i, promise);
    }
    return promise;
  }

  /** Gives up one reader's claim on node `i`; at zero its output is dropped. */
  #release(i: number) {
    const left = (this.#consumers.get(i) ?? 1) - 1;
    this.#consumers.set(i, left);
    if (left <= 0) this.#memo.delete(i);
  }

  #context(i: number): StageContext {
    const progress = this.#progressOf(i, "ran");
    return {
      reporter: this.options.reporter,
      timed: <T>(work: () => T): T => {
        const started = performance.now();
        try {
          return work();
        } finally {
          progress.ms += performance.now() - started;
        }
      },
    };
  }

  #progressOf(i: number, status: Progress["status"]): Progress {
    let progress = this.#progress.get(i);
    if (!progress) {
      progress = { status, ms: 0 };
      this.#progress.set(i, progress);
    }
    progress.status = status;
    return progress;
  }

  #warn(path: string, message: string) {
    if (this.#warned.has(path)) return;
    this.#warned.add(path);
    this.options.reporter.log(`warning: ${message}`);
  }

  /** Keeps a cache write going in the background; a failed one is a warning, never an error. */
  #track(write: Promise<void>, path: string) {
    const tracked = write.catch((error) => {
      this.#warn(path, cacheWriteFailure(path, error));
    }).finally(() => this.#writes.delete(tracked));
    this.#writes.add(tracked);
  }

  /** Streams a freshly built data output once, so its entry is written before anyone reads it. */
  async materialize(i: number): Promise<void> {
    await this.#materializers.get(i)?.();
  }

  /** Waits for every cache write under way. */
  async settle(): Promise<void> {
    while (this.#writes.size > 0) await Promise.allSettled([...this.#writes]);
  }

  /** Removes the entries still waiting for a split that never came (a failed or partial run). */
  async discardUnpublished(): Promise<void> {
    for (const writer of this.#unpublished) await writer.abort();
    this.#unpublished.clear();
  }

  async #inputs(i: number): Promise<unknown[]> {
    const entry = this.nodes[i] as StageNode;
    const values = [];
    for (const input of entry.inputs) values.push(await this.get(input));
    return values;
  }

  #doneWithInputs(i: number) {
    for (const input of (this.nodes[i] as StageNode).inputs) this.#release(input);
  }

  async #obtain(i: number): Promise<unknown> {
    const entry = this.nodes[i];
    if (entry.kind === "source") return entry.value;
    const stage = entry.stage;
    const key = await this.keyOf(i);
    const { cacheDir, useCache } = this.options;
    if (stage.kind === "value") {
      if (useCache) {
        const started = performance.now();
        try {
          const payload = await readValueEntry(cacheDir, stage.name, key);
          if (payload !== null) {
            const value = decodeOrFail(stage, payload, entryPath(cacheDir, stage.name, key));
            const progress = this.#progressOf(i, "cached");
            progress.ms += performance.now() - started;
            this.#log(i, progress);
            return value;
          }
        } catch (error) {
          if (!(error instanceof CacheError)) throw error;
          this.#warn(entryPath(cacheDir, stage.name, key), error.message);
        }
      }
      const inputs = await this.#inputs(i);
      // One pass over each freshly built data input writes its entry (and those of the data
      // stages it pulls through), and surfaces bad data before this stage starts.
      for (const input of entry.inputs) await this.materialize(input);
      const context = this.#context(i);
      const started = performance.now();
      const value = await stage.run(inputs, context);
      const progress = this.#progressOf(i, "ran");
      progress.ms = performance.now() - started;
      this.#doneWithInputs(i);
      this.#track(
        writeValueEntry(cacheDir, stage.name, key, stage.codec.encode(value)),
        entryPath(cacheDir, stage.name, key),
      );
      this.#log(i, progress);
      return value;
    }
    if (useCache) {
      try {
        const cached = await this.#openCached(i, key);
        if (cached) return cached;
      } catch (error) {
        if (!(error instanceof CacheError)) throw error;
        this.#warn(entryPath(cacheDir, stage.name, key), error.message);
      }
    }
    return this.#computeData(i, key);
  }

  #log(i: number, progress: Progress) {
    const name = (this.nodes[i] as StageNode).stage.name;
    const what = progress.status === "cached" ? "cached" : "ran   ";
    this.options.reporter.log(`${name.padEnd(10)} ${what} ${(progress.ms / 1000).toFixed(2)}s`);
  }

  /**
   * A data stage's output computed lazily, each split teed into a new cache
   * entry on its first pass. The entry's splits are renamed into place together,
   * once every split has passed whole, so a run that fails half way leaves none.
   */
  async #computeData(i: number, key: string, kept: readonly Split[] = []): Promise<DataSet> {
    const stage = (this.nodes[i] as StageNode).stage as DataStage<unknown[], Pixels, DataMeta>;
    const inputs = await this.#inputs(i);
    const lazy = await stage.build(inputs, this.#context(i));
    this.#doneWithInputs(i);
    const { cacheDir } = this.options;
    // Splits whose entries are still whole on disk (after another split was found damaged).
    const committed = new Set<Split>(kept);
    const writing = new Set<Split>();
    const finished = new Map<Split, EntryWriter>();
    let failed = false;
    const drop = async (path: string, error: unknown, writer: EntryWriter | null) => {
      failed = true;
      await writer?.abort();
      for (const waiting of finished.values()) await waiting.abort();
      finished.clear();
      this.#warn(path, cacheWriteFailure(path, error));
    };
    const publishAll = async () => {
      for (const [split, writer] of finished) {
        this.#unpublished.delete(writer);
        try {
          await writer.publish();
          committed.add(split);
        } catch (error) {
          await drop(writer.path, error, null);
          return;
        }
      }
      finished.clear();
      this.#log(i, this.#progressOf(i, "ran"));
    };
    const open = (split: Split): ReadableStream<Chunk> => {
      if (committed.has(split)) return this.#readSplit(i, key, split, lazy);
      if (failed || writing.has(split) || finished.has(split)) return lazy.open(split);
      writing.add(split);
      const path = entryPath(cacheDir, stage.name, key, split);
      let source: ReadableStreamDefaultReader<Chunk> | null = null;
      let writer: EntryWriter | null = null;
      let settle = () => {};
      this.#track(new Promise<void>((resolve) => (settle = resolve)), path);
      const stop = async () => {
        writing.delete(split);
        const unfinished = writer;
        writer = null;
        await unfinished?.abort();
        settle();
      };
      return new ReadableStream<Chunk>({
        pull: async (controller) => {
          try {
            if (!source) {
              source = lazy.open(split).getReader();
              try {
                writer = await EntryWriter.create(
                  cacheDir,
                  stage.name,
                  key,
                  lazy.meta as unknown as Json,
                  split,
                );
              } catch (error) {
                await drop(path, error, null);
              }
            }
            const { value, done } = await source.read();
            if (done) {
              writing.delete(split);
              if (writer && !failed) {
                try {
                  await writer.finish();
                  finished.set(split, writer);
                  this.#unpublished.add(writer);
                  if (finished.size + committed.size === SPLITS.length) await publishAll();
                } catch (error) {
                  await drop(path, error, writer);
                }
              }
              writer = null;
              settle();
              return controller.close();
            }
            if (writer) {
              try {
                await writer.append(encodeChunk(value));
              } catch (error) {
                const broken = writer;
                writer = null;
                await drop(path, error, broken);
              }
            }
            controller.enqueue(value);
          } catch (error) {
            // The stage (or its input) failed: the stream errors, and nothing of this pass is kept.
            await stop();
            throw error;
          }
        },
        cancel: async (reason) => {
          await source?.cancel(reason);
          await stop();
        },
      });
    };
    this.#materializers.set(i, async () => {
      this.#materializers.delete(i);
      for (const split of SPLITS) {
        if (committed.has(split) || failed) continue;
        for await (const _ of open(split)) {
          // Draining is the point: the tee writes the entry as the chunks pass.
        }
      }
    });
    return { meta: lazy.meta, open };
  }

  /** A data stage's output streamed from its cache entry, its header verified now. */
  async #openCached(i: number, key: string): Promise<DataSet | null> {
    const stage = (this.nodes[i] as StageNode).stage;
    const { cacheDir } = this.options;
    const started = performance.now();
    let meta: Json | null = null;
    for (const split of SPLITS) {
      const reader = await openEntry(cacheDir, stage.name, key, split);
      if (!reader) return null;
      reader.close();
      meta ??= reader.meta;
    }
    const progress = this.#progressOf(i, "cached");
    progress.ms += performance.now() - started;
    const data: DataSet = {
      meta: meta as unknown as DataMeta,
      open: (split) => this.#readSplit(i, key, split, null),
    };
    return data;
  }

  /**
   * Streams one split from its cache entry, verifying every frame before its
   * chunk is passed on. On damage it warns once, removes the entry, and goes on
   * from the same row with the recomputed stream, so a consumer never sees a
   * short or altered split.
   */
  #readSplit(
    i: number,
    key: string,
    split: Split,
    lazy: DataSet | null,
  ): ReadableStream<Chunk> {
    const stage = (this.nodes[i] as StageNode).stage;
    const { cacheDir } = this.options;
    const path = entryPath(cacheDir, stage.name, key, split);
    // Reading counts as the stage's time only when the stage was read, not computed, this run.
    const reading = this.#progress.get(i)?.status !== "ran";
    const progress = this.#progressOf(i, reading ? "cached" : "ran");
    let delivered = 0;
    let frames: AsyncGenerator<Uint8Array, void, undefined> | null = null;
    let fallback: ReadableStreamDefaultReader<Chunk> | null = null;
    let skip = 0;
    const pull = async (controller: ReadableStreamDefaultController<Chunk>): Promise<void> => {
      if (fallback) {
        while (true) {
          const { value, done } = await fallback.read();
          if (done) return controller.close();
          const n = value.labels.length;
          if (skip >= n) {
            skip -= n;
            continue;
          }
          controller.enqueue(skip > 0 ? sliceChunk(value, skip) : value);
          skip = 0;
          return;
        }
      }
      try {
        if (!frames) {
          const reader = await openEntry(cacheDir, stage.name, key, split);
          if (!reader) {
            throw new CacheError(
              `Cannot use cache entry "${path}" as it must exist: it was removed; it will be recomputed`,
            );
          }
          frames = reader.frames();
        }
        const started = performance.now();
        const next = await frames.next();
        if (reading) progress.ms += performance.now() - started;
        if (next.done) return controller.close();
        const chunk = decodeOrThrow(next.value, path);
        delivered += chunk.labels.length;
        controller.enqueue(chunk);
      } catch (error) {
        if (!(error instanceof CacheError)) throw error;
        this.#warn(path, error.message);
        await Deno.remove(path).catch(() => {});
        const source = lazy ?? await this.#recompute(i, key, split);
        skip = delivered;
        fallback = source.open(split).getReader();
        return pull(controller);
      }
    };
    return new ReadableStream<Chunk>({
      pull,
      async cancel(reason) {
        await frames?.return();
        await fallback?.cancel(reason);
      },
    });
  }

  /**
   * Rebuilds a data stage whose `damaged` split turned out damaged mid-stream;
   * the other splits' entries stay in use, so the rebuilt split alone is written again.
   */
  async #recompute(i: number, key: string, damaged: Split): Promise<DataSet> {
    const entry = this.nodes[i] as StageNode;
    for (const input of entry.inputs) {
      this.#consumers.set(input, (this.#consumers.get(input) ?? 0) + 1);
    }
    const kept: Split[] = [];
    for (const split of SPLITS) {
      if (split === damaged) continue;
      if (await hasEntry(this.options.cacheDir, entry.stage.name, key, [split])) kept.push(split);
    }
    return await this.#computeData(i, key, kept);
  }

  /** One record per stage, in pipeline order. */
  async records(): Promise<StageRecord[]> {
    const records: StageRecord[] = [];
    for (const [i, entry] of this.nodes.entries()) {
      if (entry.kind === "source") continue;
      const key = await this.keyOf(i);
      const progress = this.#progress.get(i);
      records.push(
        progress
          ? {
            name: entry.stage.name,
            key,
            cached: progress.status === "cached",
            seconds: progress.ms / 1000,
            status: progress.status,
          }
          : {
            name: entry.stage.name,
            key,
            cached: await this.cached(i),
            seconds: 0,
            status: "skipped",
          },
      );
    }
    return records;
  }
}

function sliceChunk(chunk: Chunk, from: number): Chunk {
  const width = chunk.rows * chunk.cols;
  return {
    images: chunk.images.subarray(from * width),
    labels: chunk.labels.subarray(from),
    rows: chunk.rows,
    cols: chunk.cols,
  };
}

function decodeOrThrow(bytes: Uint8Array, path: string): Chunk {
  try {
    return decodeChunk(bytes);
  } catch (error) {
    throw new CacheError(
      `Cannot use cache entry "${path}" as its frames must be chunks: ${
        (error as Error).message
      }; it will be recomputed`,
    );
  }
}

/**
 * Decodes a verified payload; a payload the codec cannot read (say, a format
 * change without a version bump) is treated as a damaged entry.
 */
function decodeOrFail<T>(
  stage: ValueStage<readonly unknown[], T>,
  payload: Uint8Array,
  path: string,
): T {
  try {
    return stage.codec.decode(payload);
  } catch (error) {
    throw new CacheError(
      `Cannot use cache entry "${path}" as stage "${stage.name}" must be able to decode it: ` +
        `${(error as Error).message}; it will be recomputed`,
    );
  }
}

/** The warning for a cache write that failed: the run goes on with what it computed. */
function cacheWriteFailure(path: string, error: unknown): string {
  const reason = error instanceof Error ? error.message : String(error);
  return `Cannot write cache entry "${path}" as the cache folder must be writable: ${reason}; ` +
    `the run goes on without caching it. Hint: free disk space or pick another --cache-dir`;
}
