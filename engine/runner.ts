/**
 * The runner: keys a chain of stages, reads what the cache holds, runs the
 * rest, and reports for each stage whether it ran or came from the cache.
 *
 * @module
 */
import { entryPath, hasEntry, readEntry, writeEntry } from "./cache.ts";
import { type Kernels, referenceKernels } from "../model/kernels.ts";
import { CacheError } from "./errors.ts";
import { hashJson } from "./hash.ts";
import type { AnyStage, Reporter, Stage, StageContext } from "./stage.ts";

/** Options of {@linkcode runPipeline} and {@linkcode planPipeline}. */
export interface RunOptions {
  /** The first stage's input and its key (a content hash of the input files). */
  source: { key: string; value: unknown };
  /** The chain, first to last; each stage's input is the previous stage's output. */
  stages: readonly AnyStage[];
  /** The stages whose outputs the caller needs; the last stage when empty. */
  want?: readonly AnyStage[];
  /** The cache folder. */
  cacheDir: string;
  /** False ignores existing entries and overwrites them (`--no-cache`). @default {true} */
  useCache?: boolean;
  /** Where progress goes. */
  reporter: Reporter;
  /** The kernels stages compute on; the plain TypeScript reference when absent. */
  kernels?: () => Promise<Kernels>;
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
  /** Read from the cache (true) or computed (false). */
  cached: boolean;
  /** Wall seconds spent loading or computing it, upstream work excluded. */
  seconds: number;
  /**
   * `ran`, `cached` (read from the cache), or `skipped`: not needed because a
   * later stage came from the cache (then `cached` says whether an entry exists).
   */
  status: "ran" | "cached" | "skipped";
}

/** The outcome of {@linkcode runPipeline}. */
export interface RunResult {
  /** Output of each stage that was loaded or computed. */
  outputs: Map<AnyStage, unknown>;
  /** One record per stage, in chain order. */
  records: StageRecord[];
}

/** Computes the chained cache key of every stage. */
export async function stageKeys(
  stages: readonly AnyStage[],
  sourceKey: string,
): Promise<string[]> {
  const keys: string[] = [];
  let upstream = sourceKey;
  for (const stage of stages) {
    upstream = await hashJson([stage.name, stage.version, stage.params, upstream]);
    keys.push(upstream);
  }
  return keys;
}

function indexOfStage(stages: readonly AnyStage[], stage: AnyStage): number {
  const index = stages.indexOf(stage);
  if (index < 0) throw new Error(`stage "${stage.name}" is not part of this pipeline`);
  return index;
}

/**
 * Decodes a verified payload; a payload the codec cannot read (say, a format
 * change without a version bump) is treated as a damaged entry.
 */
function decodeEntry(stage: AnyStage, payload: Uint8Array, path: string): unknown {
  try {
    return stage.codec.decode(payload);
  } catch (error) {
    throw new CacheError(
      `Cannot use cache entry "${path}" as stage "${stage.name}" must be able to decode it: ` +
        `${(error as Error).message}; it will be recomputed`,
    );
  }
}

/** Says which stages the cache holds and which would run, without running any. */
export async function planPipeline(options: RunOptions): Promise<PlanEntry[]> {
  const { stages, cacheDir, useCache = true } = options;
  const keys = await stageKeys(stages, options.source.key);
  const cached = await Promise.all(
    stages.map((s, i) => useCache ? hasEntry(cacheDir, s.name, keys[i]) : false),
  );
  const needed = new Set<number>();
  const visit = (i: number) => {
    if (needed.has(i)) return;
    needed.add(i);
    if (cached[i]) return;
    if (i > 0) visit(i - 1);
    for (const used of stages[i].uses ?? []) visit(indexOfStage(stages, used));
  };
  const want = options.want?.length ? options.want : [stages[stages.length - 1]];
  for (const stage of want) visit(indexOfStage(stages, stage));
  return stages.map((s, i) => ({
    name: s.name,
    key: keys[i],
    cached: cached[i],
    willRun: needed.has(i) && !cached[i],
  }));
}

/**
 * Runs the chain: each wanted stage is read from the cache when a verified
 * entry exists, else computed from its (recursively obtained) inputs and
 * written to the cache. A damaged entry is reported and recomputed.
 */
export async function runPipeline(options: RunOptions): Promise<RunResult> {
  const { stages, cacheDir, reporter, useCache = true } = options;
  const keys = await stageKeys(stages, options.source.key);
  const memo = new Map<number, Promise<unknown>>();
  // Cache writes go on while later stages compute; the run ends only when all are on disk.
  const writes: Promise<void>[] = [];
  const records = new Map<number, StageRecord>();

  const compute = async (i: number): Promise<unknown> => {
    const stage = stages[i];
    if (useCache) {
      const started = performance.now();
      try {
        const payload = await readEntry(cacheDir, stage.name, keys[i]);
        if (payload !== null) {
          const value = decodeEntry(stage, payload, entryPath(cacheDir, stage.name, keys[i]));
          finish(i, true, started);
          return value;
        }
      } catch (error) {
        if (!(error instanceof CacheError)) throw error;
        reporter.log(`warning: ${error.message}`);
      }
    }
    const input = i === 0 ? options.source.value : await get(i - 1);
    const used = new Map<AnyStage, unknown>();
    for (const dependency of stage.uses ?? []) {
      used.set(dependency, await get(indexOfStage(stages, dependency)));
    }
    const context: StageContext = {
      reporter,
      kernels: options.kernels ?? (() => Promise.resolve(referenceKernels)),
      outputOf<T>(dependency: Stage<never, T>): T {
        if (!used.has(dependency)) {
          throw new Error(`stage "${stage.name}" must list "${dependency.name}" in uses`);
        }
        return used.get(dependency) as T;
      },
    };
    const started = performance.now();
    const value = await stage.run(input, context);
    const write = writeEntry(cacheDir, stage.name, keys[i], stage.codec.encode(value));
    write.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
    writes.push(write);
    finish(i, false, started);
    return value;
  };

  const finish = (i: number, cached: boolean, started: number) => {
    const seconds = (performance.now() - started) / 1000;
    const status = cached ? "cached" : "ran";
    records.set(i, { name: stages[i].name, key: keys[i], cached, seconds, status });
    reporter.log(
      `${stages[i].name.padEnd(10)} ${cached ? "cached" : "ran   "} ${seconds.toFixed(2)}s`,
    );
  };

  const get = (i: number): Promise<unknown> => {
    let promise = memo.get(i);
    if (!promise) {
      promise = compute(i);
      memo.set(i, promise);
    }
    return promise;
  };

  const want = options.want?.length ? options.want : [stages[stages.length - 1]];
  const outputs = new Map<AnyStage, unknown>();
  try {
    for (const stage of want) {
      outputs.set(stage, await get(indexOfStage(stages, stage)));
    }
    for (const [i, promise] of memo) outputs.set(stages[i], await promise);
  } finally {
    // Even a failed run leaves the entries it computed whole on disk, not half written.
    await Promise.allSettled(writes);
  }
  await Promise.all(writes);
  const ordered = await Promise.all(stages.map(async (stage, i) =>
    records.get(i) ?? {
      name: stage.name,
      key: keys[i],
      cached: await hasEntry(cacheDir, stage.name, keys[i]),
      seconds: 0,
      status: "skipped" as const,
    }
  ));
  return { outputs, records: ordered };
}
