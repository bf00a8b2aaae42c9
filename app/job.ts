/**
 * The training job: builds the stage chain from a config, runs it through the
 * cache, and writes the run folder (config.json, metrics.json, model.mnpm,
 * report.html).
 *
 * @module
 */
import { provenanceOf } from "./provenance.ts";
import { createWasmKernels, MAX_KERNEL_BYTES, type WasmKernels } from "../kernels/wasm_kernels.ts";
import { ConfigError } from "../engine/errors.ts";
import { trainingFootprint } from "../model/footprint.ts";
import { encodeModel } from "../model/format.ts";
import { renderRunReport } from "../report/html.ts";
import { deskewStage } from "../stages/deskew.ts";
import { evaluateStage, type Evaluation, type Metrics } from "../stages/evaluate.ts";
import {
  type DataFiles,
  decodeStage,
  findDataFiles,
  fingerprintData,
  readIdxHeader,
} from "../stages/idx_decode.ts";
import { minibatchStage } from "../stages/minibatch.ts";
import { normalizeStage } from "../stages/normalize.ts";
import {
  type EpochRecord,
  TRAIN_OPTION_KEYS,
  type TrainOptions,
  type TrainResult,
  trainStage,
} from "../stages/train.ts";
import { type Node, Pipeline, type PlanEntry, type StageRecord } from "../engine/runner.ts";
import type { Reporter } from "../engine/stage.ts";
import { checkRunFolder, MODEL_FILE, REPORT_FILE, writeRunFolder } from "../engine/run_folder.ts";
import { BUNDLED_DATA, bundledDataDir } from "./bundled.ts";
import type { PipelineConfig, TrainingConfig } from "./config.ts";
import { augmentedDigits, reportDigits } from "./report_data.ts";

/** The contents of `metrics.json`. */
export interface RunMetrics extends Metrics {
  /** Per-epoch training history. */
  history: EpochRecord[];
  /** Cost of every minibatch, in order. */
  costs: number[];
  /** Epoch whose weights were kept. */
  bestEpoch: number;
  /** What each stage did. */
  stages: StageRecord[];
  /** Content hash of the four data files. */
  dataFingerprint: string;
}

/** The train stage's options from a config: its own fields, picked by name, and the buffer size. */
export function trainOptionsOf(
  config: Omit<TrainingConfig, "preset" | "data">,
  shuffleBuffer: number | null = null,
): TrainOptions {
  const options = Object.fromEntries(TRAIN_OPTION_KEYS.map((key) => [key, config[key]]));
  return { ...options, shuffleBuffer } as TrainOptions;
}

/**
 * How training holds a set of `count` float32 images of `width` pixels under
 * `memoryMb`: null (all in memory) when they fit, else the rows of the shuffle
 * buffer that fit.
 */
export function shuffleBufferFor(count: number, width: number, memoryMb: number): number | null {
  const rowBytes = width * Float32Array.BYTES_PER_ELEMENT;
  const budget = memoryMb * 2 ** 20;
  return count * rowBytes <= budget ? null : Math.max(1, Math.floor(budget / rowBytes));
}

/** A config's pipeline and the handles on what the job reads. */
export interface JobPipeline {
  /** The pipeline, decode to evaluate. */
  pipeline: Pipeline;
  /** The train stage. */
  trained: Node<TrainResult>;
  /** The evaluate stage. */
  evaluated: Node<Evaluation>;
}

/** Formats bytes as GiB or MiB for messages. */
function sizeOf(bytes: number): string {
  return bytes >= 2 ** 30
    ? `${(bytes / 2 ** 30).toFixed(1)} GiB`
    : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/**
 * Refuses, before any work, a network that cannot be trained in the kernels'
 * memory (WebAssembly's 4 GiB), naming what it would need.
 */
export function checkFits(config: PipelineConfig, trainCount: number, width: number): void {
  const batch = "batchSize" in config.batching
    ? config.batching.batchSize
    : Math.ceil(trainCount / config.batching.minibatches);
  const shuffleBuffer = shuffleBufferFor(trainCount, width, config.memory);
  // In memory the kernels hold the sparse index (8 bytes a non-zero pixel, at most half of them);
  // streamed, one minibatch of float32 rows.
  const rowBytes = shuffleBuffer === null
    ? trainCount * width * 4
    : Math.min(batch, trainCount) * width * 4;
  const sizes = [width, ...config.hidden, 2];
  const need = trainingFootprint({
    sizes,
    batch: Math.min(batch, trainCount),
    optimizer: config.optimizer,
    rowBytes,
    keepsBest: config.patience > 0,
  });
  if (need.kernelBytes > MAX_KERNEL_BYTES) {
    throw new ConfigError(
      `Cannot train a network of ${width} inputs and --hidden ${config.hidden.join(",")} as its ` +
        `${need.parameters}+ parameters, gradients, workspace and training rows need about ` +
        `${sizeOf(need.kernelBytes)} ` +
        `of kernel memory: WebAssembly holds at most ${sizeOf(MAX_KERNEL_BYTES)} ` +
        `(and the optimiser ${sizeOf(need.hostBytes)} more outside it). ` +
        `Hint: fewer or smaller --hidden layers, a smaller --batch-size, or a lower --memory`,
    );
  }
}

/** The pipeline of a config, with handles on what the job reads. */
export function buildPipeline(
  config: PipelineConfig,
  source: { files: DataFiles; fingerprint: string; trainCount: number; width: number },
  reporter: Reporter,
  kernels: () => Promise<WasmKernels>,
): JobPipeline {
  const pipeline = new Pipeline({ cacheDir: config.cacheDir, useCache: config.useCache, reporter });
  const files = pipeline.source("data", source.fingerprint, source.files);
  const decoded = pipeline.add(decodeStage(), files);
  const normalized = pipeline.add(normalizeStage(config.normalize), decoded);
  const samples = config.deskew ? pipeline.add(deskewStage(), normalized) : normalized;
  const plan = pipeline.add(
    minibatchStage({ batching: config.batching, validation: config.validation, seed: config.seed }),
    samples,
  );
  const shuffleBuffer = shuffleBufferFor(source.trainCount, source.width, config.memory);
  const trained = pipeline.add(
    trainStage(trainOptionsOf(config, shuffleBuffer), kernels),
    plan,
    samples,
  );
  const evaluated = pipeline.add(evaluateStage(kernels), trained, samples);
  return { pipeline, trained, evaluated };
}

/** The data folder a config reads. */
export function dataDirOf(config: TrainingConfig): string {
  return config.data ?? bundledDataDir();
}

/** The result of {@linkcode runJob}. */
export type JobResult =
  | { kind: "plan"; plan: PlanEntry[] }
  | {
    kind: "run";
    metrics: RunMetrics;
    runDir: string;
    evaluation: Evaluation;
    trained: TrainResult;
    /** The kernels that computed (their name: native or WebAssembly, threads); absent when all was cached. */
    kernels?: string;
  };

/** Runs (or, with `dryRun`, plans) the pipeline for a config. */
export async function runJob(config: PipelineConfig, reporter: Reporter): Promise<JobResult> {
  const startedAt = new Date();
  const files: DataFiles = await findDataFiles(dataDirOf(config));
  const fingerprint = await fingerprintData(files);
  const [trainCount, rows, cols] = (await readIdxHeader(files.trainImages, 3)).dims;
  checkFits(config, trainCount, rows * cols);
  // Workers start only when a stage computes, so a fully cached run starts none.
  let started: Promise<WasmKernels> | undefined;
  const kernels = () => (started ??= createWasmKernels({ threads: config.threads }));
  const { pipeline, trained: trainNode, evaluated } = buildPipeline(
    config,
    { files, fingerprint, trainCount, width: rows * cols },
    reporter,
    kernels,
  );
  if (config.dryRun) return { kind: "plan", plan: await pipeline.plan([trainNode, evaluated]) };
  if (config.out) await checkRunFolder(config.out);
  let ran, kernelsName: string | undefined;
  try {
    ran = await pipeline.run([trainNode, evaluated]);
  } finally {
    await started?.then((k) => {
      kernelsName = k.name;
      k.close();
    }, () => {});
  }
  const { outputs: [trained, evaluation], records } = ran;
  const metrics: RunMetrics = {
    ...evaluation.metrics,
    history: trained.history,
    costs: trained.costs,
    bestEpoch: trained.bestEpoch,
    stages: records,
    dataFingerprint: fingerprint,
  };
  const evaluateKey = records[records.length - 1].key;
  const runDir = config.out ?? `runs/${timestamp()}-${evaluateKey.slice(0, 8)}`;
  const configJson = {
    ...config,
    dataSet: config.data ?? BUNDLED_DATA,
    provenance: await provenanceOf(startedAt),
  };
  const report = renderRunReport({
    title: `run ${runDir.replace(/\/+$/, "").split("/").pop()}`,
    config: configJson,
    metrics,
    digits: {
      ...await reportDigits(trained.model, files, evaluation.metrics.misclassified),
      augmented: await augmentedDigits(trained.model, files, config.augment, config.seed),
    },
  });
  await writeRunFolder(runDir, {
    "config.json": json(configJson),
    "metrics.json": json(metrics),
    [MODEL_FILE]: encodeModel(trained.model),
    [REPORT_FILE]: new TextEncoder().encode(report),
  });
  return { kind: "run", metrics, runDir, evaluation, trained, kernels: kernelsName };
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
}
