/**
 * The training job: builds the stage chain from a config, runs it through the
 * cache, and writes the run folder (config.json, metrics.json, model.mnpm,
 * report.html).
 *
 * @module
 */
import { createWasmKernels, type WasmKernels } from "../kernels/wasm_kernels.ts";
import { encodeModel } from "../model/format.ts";
import { deskewStage } from "../stages/deskew.ts";
import { evaluateStage, type Evaluation, type Metrics } from "../stages/evaluate.ts";
import {
  type DataFiles,
  findDataFiles,
  fingerprintData,
  idxDecodeStage,
} from "../stages/idx_decode.ts";
import { minibatchStage } from "../stages/minibatch.ts";
import { normalizeStage } from "../stages/normalize.ts";
import {
  type EpochRecord,
  type TrainOptions,
  type TrainResult,
  trainStage,
} from "../stages/train.ts";
import { BUNDLED_DATA, bundledDataDir } from "./bundled.ts";
import type { PipelineConfig, TrainingConfig } from "./config.ts";
import { type PlanEntry, planPipeline, runPipeline, type StageRecord } from "../engine/runner.ts";
import type { DataSplits } from "../engine/chunk.ts";
import type { AnyStage, Reporter, Stage } from "../engine/stage.ts";
import { checkRunFolder, MODEL_FILE, REPORT_FILE, writeRunFolder } from "../engine/run_folder.ts";
import { renderRunReport } from "../report/html.ts";
import { selectDigits, testViews } from "./report_data.ts";

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

/** The stages of a config, in order, with handles on the ones callers read. */
export interface StageChain {
  /** Every stage, first to last. */
  stages: AnyStage[];
  /** The normalize stage (the report's "before deskew" images). */
  normalize: Stage<never, DataSplits<Float32Array>>;
  /** The stage whose samples train and evaluate see. */
  samples: Stage<never, DataSplits<Float32Array>>;
  /** The train stage. */
  train: Stage<never, TrainResult>;
  /** The evaluate stage. */
  evaluate: Stage<never, Evaluation>;
}

/** The train stage's options from a config: everything that shapes training. */
export function trainOptionsOf(config: Omit<TrainingConfig, "preset" | "data">): TrainOptions {
  return {
    hidden: config.hidden,
    activation: config.activation,
    output: config.output,
    init: config.init,
    optimizer: config.optimizer,
    eta: config.eta,
    momentum: config.momentum,
    decay: config.decay,
    decaySchedule: config.decaySchedule,
    l1: config.l1,
    l2: config.l2,
    reduction: config.reduction,
    epochs: config.epochs,
    patience: config.patience,
    seed: config.seed,
    deskew: config.deskew,
  };
}

/** Builds the stage chain; deskew is left out of the chain when it is off. */
export function buildStages(config: TrainingConfig): StageChain {
  const decode = idxDecodeStage();
  const normalize = normalizeStage(config.normalize);
  const samples = config.deskew ? deskewStage() : normalize;
  const minibatch = minibatchStage({
    batching: config.batching,
    validation: config.validation,
    seed: config.seed,
  });
  const train = trainStage(trainOptionsOf(config), samples);
  const evaluate = evaluateStage(samples);
  const stages: AnyStage[] = config.deskew
    ? [decode, normalize, samples, minibatch, train, evaluate]
    : [decode, normalize, minibatch, train, evaluate];
  return { stages, normalize, samples, train, evaluate };
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
    /** Test labels, in order (to pair with `evaluation.testPredictions`). */
    testLabels: Uint8Array;
  };

/** Runs (or, with `dryRun`, plans) the pipeline for a config. */
export async function runJob(config: PipelineConfig, reporter: Reporter): Promise<JobResult> {
  const files: DataFiles = await findDataFiles(dataDirOf(config));
  const fingerprint = await fingerprintData(files);
  const chain = buildStages(config);
  const options = {
    source: { key: fingerprint, value: files },
    stages: chain.stages,
    want: [chain.train, chain.evaluate],
    cacheDir: config.cacheDir,
    useCache: config.useCache,
    reporter,
  };
  if (config.dryRun) return { kind: "plan", plan: await planPipeline(options) };
  if (config.out) await checkRunFolder(config.out);
  // Workers start only when a stage computes, so a fully cached run starts none.
  let started: Promise<WasmKernels> | undefined;
  const kernels = () => (started ??= createWasmKernels({ threads: config.threads }));
  let ran: Awaited<ReturnType<typeof runPipeline>>;
  try {
    ran = await runPipeline({ ...options, kernels });
  } finally {
    await started?.then((k) => k.close(), () => {});
  }
  const { outputs, records } = ran;
  const trained = outputs.get(chain.train) as TrainResult;
  const evaluation = outputs.get(chain.evaluate) as Evaluation;
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
  const configJson = { ...config, dataSet: config.data ?? BUNDLED_DATA };
  const loaded = (stage: AnyStage) =>
    (outputs.get(stage) as DataSplits<Float32Array> | undefined)?.test;
  const views = await testViews(
    trained.model,
    files,
    loaded(chain.normalize),
    config.deskew ? loaded(chain.samples) : undefined,
  );
  const report = renderRunReport({
    title: `run ${runDir.replace(/\/+$/, "").split("/").pop()}`,
    config: configJson,
    metrics,
    digits: selectDigits(views, evaluation.metrics.misclassified, config.deskew),
  });
  await writeRunFolder(runDir, {
    "config.json": json(configJson),
    "metrics.json": json(metrics),
    [MODEL_FILE]: encodeModel(trained.model),
    [REPORT_FILE]: new TextEncoder().encode(report),
  });
  return {
    kind: "run",
    metrics,
    runDir,
    evaluation,
    trained,
    testLabels: views.normalized.labels,
  };
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n");
}

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-").replace(/-\d{3}Z$/, "Z");
}
