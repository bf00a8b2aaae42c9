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
import { type PlanEntry, planPipeline, runPipeline, type StageRecord } from "./run.ts";
import type { DataSplits } from "./samples.ts";
import type { AnyStage, Reporter, Stage } from "./stage.ts";
import { InputError } from "./errors.ts";
import { renderRunReport } from "../report/html.ts";
import { selectDigits, testViews } from "./report_data.ts";

/** The file name of the model inside a run folder. */
export const MODEL_FILE = "model.mnpm";

/** The file name of the self-contained HTML report inside a run folder. */
export const REPORT_FILE = "report.html";

/** The files a run folder holds; `--out` may replace a folder holding nothing else. */
export const RUN_FILES: readonly string[] = [
  "config.json",
  "metrics.json",
  MODEL_FILE,
  REPORT_FILE,
];

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

/**
 * Checks that `dir` is free for a run folder: absent, or an earlier run folder
 * holding only {@linkcode RUN_FILES}, so replacing it loses nothing else.
 */
export async function checkRunFolder(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    if (error instanceof Deno.errors.NotADirectory) {
      throw new InputError(`Cannot write run folder "${dir}" as it must be a folder: it is a file`);
    }
    throw error;
  }
  const foreign = entries.filter((name) => !RUN_FILES.includes(name));
  if (foreign.length > 0) {
    throw new InputError(
      `Cannot write run folder "${dir}" as it must be new or an earlier run folder: it holds ` +
        `${foreign.slice(0, 3).map((n) => `"${n}"`).join(", ")}${
          foreign.length > 3 ? ", …" : ""
        }. ` +
        `Hint: pick another --out`,
    );
  }
}

/**
 * Writes the files into a temp folder beside `dir` and renames it into place,
 * so a run folder is either complete or absent. An existing folder (a repeated
 * `--out`) is replaced only after the new one is complete.
 */
export async function writeRunFolder(
  dir: string,
  files: Record<string, Uint8Array>,
): Promise<void> {
  await checkRunFolder(dir);
  const parent = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(parent, { recursive: true });
  const temp = `${dir}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.mkdir(temp);
  try {
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${temp}/${name}`, bytes);
    }
    let old: string | null = null;
    try {
      await Deno.stat(dir);
      old = `${dir}.${crypto.randomUUID().slice(0, 8)}.old`;
      await Deno.rename(dir, old);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await Deno.rename(temp, dir);
    if (old) await Deno.remove(old, { recursive: true });
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  }
}
