/**
 * Compare: runs one configuration twice, differing in one flag (deskew by
 * default), with the same seeds and one shared cache, so the stages both arms
 * have in common run once; then pairs their test predictions for McNemar's
 * exact test and writes `compare.json` and a side-by-side report.
 *
 * @module
 */
import { deviation, mean } from "d3-array";
import { renderCompareReport } from "../report/compare.ts";
import { percent, percentSpread, points, pointsSpread, pValue } from "../report/format.ts";
import { buildConfig, numberFlag, type PipelineConfig, type RawFlags } from "./config.ts";
import { ConfigError, InputError } from "../engine/errors.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { checkOutputFolder } from "../engine/run_folder.ts";
import { runJob, type RunMetrics } from "./job.ts";
import { mcnemar } from "./mcnemar.ts";
import type {
  ArmResult,
  ArmSummary,
  Comparison,
  ComparisonRun,
  SeedRow,
  Spread,
  Vary,
} from "../report/views.ts";

export type { ArmResult, ArmSummary, Comparison, ComparisonRun, SeedRow, Spread, Vary };
import type { Reporter } from "../engine/stage.ts";

/** The flags `--vary` accepts: every training flag but the seed (that is `--seeds`). */
export const VARIABLE_FLAGS: readonly string[] = [
  "deskew",
  "preset",
  "normalize",
  "hidden",
  "activation",
  "output",
  "epochs",
  "batch-size",
  "minibatches",
  "eta",
  "momentum",
  "decay",
  "decay-schedule",
  "l1",
  "l2",
  "optimizer",
  "init",
  "validation",
  "patience",
  "reduction",
  "augment",
  "rotate",
  "scale",
  "shear",
  "shift",
  "elastic-alpha",
  "elastic-sigma",
  "dropout",
];

/** What `--vary` means when it is not given: deskew on against deskew off. */
export const DEFAULT_VARY: Vary = { flag: "deskew", values: ["on", "off"] };

/** The files a comparison folder holds besides its `seed-N` folders. */
export const COMPARE_FILES: readonly string[] = ["compare.json", "report.html"];

/**
 * Parses `--vary FLAG=A,B` (values split on `;` instead when one holds a comma,
 * as `hidden=100,50;300`); rejects unknown flags and anything but two distinct values.
 */
export function parseVary(raw: string | undefined): Vary {
  if (raw === undefined) return DEFAULT_VARY;
  const hint = "Hint: --vary activation=sigmoid,relu";
  const eq = raw.indexOf("=");
  if (eq <= 0) {
    throw new ConfigError(
      `Cannot compare as --vary must read FLAG=A,B: current value of --vary is "${raw}". ${hint}`,
    );
  }
  const flag = raw.slice(0, eq).replace(/^--/, "");
  if (!VARIABLE_FLAGS.includes(flag)) {
    throw new ConfigError(
      `Cannot vary --${flag} as the flag must be one of ${VARIABLE_FLAGS.join(", ")}: ` +
        `current value of --vary is "${raw}". Hint: ${
          flag === "seed"
            ? "use --seeds 1,2,3 to repeat over seeds"
            : "--vary activation=sigmoid,relu"
        }`,
    );
  }
  const list = raw.slice(eq + 1);
  const values = list.split(list.includes(";") ? ";" : ",").map((v) => v.trim());
  if (values.length !== 2 || values.some((v) => v === "") || values[0] === values[1]) {
    throw new ConfigError(
      `Cannot compare as --vary must name exactly two different values: current value of --vary ` +
        `is "${raw}". Hint: --vary ${flag}=${flag === "deskew" ? "on,off" : "A,B"}`,
    );
  }
  if (flag === "deskew" && !values.every((v) => v === "on" || v === "off")) {
    throw new ConfigError(
      `Cannot vary --deskew as its values must be on and off: current value of --vary is "${raw}". ` +
        `Hint: --vary deskew=on,off`,
    );
  }
  return { flag, values };
}

/** Parses `--seeds 1,2,3`: distinct seeds, each an integer in 0..2³²−1. */
export function parseSeeds(raw: string): number[] {
  const seeds = raw.split(",").map((part) =>
    numberFlag("seeds", part.trim(), { integer: true, min: 0, max: 2 ** 32 - 1 })
  );
  if (new Set(seeds).size !== seeds.length) {
    throw new ConfigError(
      `Cannot compare over --seeds as each seed must appear once: current value of --seeds is ` +
        `"${raw}". Hint: --seeds 1,2,3`,
    );
  }
  return seeds;
}

/** An arm's human name, e.g. `deskew on` or `activation=relu`. */
export function armLabel(vary: Vary, value: string): string {
  return vary.flag === "deskew" ? `deskew ${value}` : `${vary.flag}=${value}`;
}

/** An arm's folder name inside a seed folder, e.g. `deskew-on`, `hidden-100-50`. */
export function armSlug(vary: Vary, value: string): string {
  return `${vary.flag}-${value}`.replace(/[^A-Za-z0-9.]+/g, "-");
}

/** The flags of one arm: the shared flags with the varied one set to this arm's value. */
export function armFlags(flags: RawFlags, vary: Vary, value: string, seed: number): RawFlags {
  const arm: RawFlags = { ...flags, seed: String(seed) };
  delete arm.seeds;
  delete arm.vary;
  if (vary.flag === "deskew") {
    arm.deskew = value === "on";
    arm["no-deskew"] = value === "off";
  } else {
    arm[vary.flag] = value;
  }
  return arm;
}

/** Options of {@linkcode runComparison}. */
export interface CompareOptions {
  /** The pipeline flags given (they apply to both arms), as `parseArgs` returns them. */
  flags: RawFlags;
  /** What differs between the arms. */
  vary: Vary;
  /** Seeds to repeat the comparison over; empty for the config's own seed. */
  seeds: number[];
  /** The comparison folder. */
  out: string;
}

/** Mean and sample deviation via d3-array. */
export function spread(values: number[]): Spread {
  return { mean: mean(values) ?? NaN, sd: deviation(values) ?? null };
}

/**
 * Checks that `dir` is free for a comparison: absent, or an earlier comparison
 * (compare.json, report.html, seed-N folders), so replacing it loses nothing else.
 */
export function checkCompareFolder(dir: string): Promise<void> {
  return checkOutputFolder(
    dir,
    "comparison folder",
    (e) => COMPARE_FILES.includes(e.name) || (e.isDirectory && /^seed-\d+$/.test(e.name)),
  );
}

/** The arm configs for every seed, all checked before anything runs. */
export function armConfigs(options: CompareOptions): { seed: number; configs: PipelineConfig[] }[] {
  const { flags, vary } = options;
  if (flags["dry-run"] === true) {
    throw new ConfigError(
      "Cannot compare with --dry-run as compare always runs both arms: current value of --dry-run " +
        "is true. Hint: run deno task pipeline --dry-run for each arm",
    );
  }
  if (flags.seed !== undefined && options.seeds.length > 0) {
    throw new ConfigError(
      `Cannot use --seed with --seeds as a comparison takes its seeds from one of them: current ` +
        `value of --seed is "${flags.seed}". Hint: drop --seed`,
    );
  }
  const fixed = vary.flag === "deskew"
    ? (["deskew", "no-deskew"] as const).find((f) => flags[f] === true)
    : flags[vary.flag] !== undefined
    ? vary.flag
    : undefined;
  if (fixed !== undefined) {
    throw new ConfigError(
      `Cannot vary --${vary.flag} as it is also set on its own: current value of --${fixed} is ` +
        `${JSON.stringify(flags[fixed])}. Hint: drop --${fixed}${
          vary.flag === "deskew" ? ", or pass --vary FLAG=A,B to compare something else" : ""
        }`,
    );
  }
  const seeds = options.seeds.length > 0 ? options.seeds : [buildConfig(flags).seed];
  return seeds.map((seed) => ({
    seed,
    configs: vary.values.map((value) => ({
      ...buildConfig(armFlags(flags, vary, value, seed)),
      out: `${options.out}/seed-${seed}/${armSlug(vary, value)}`,
      json: false,
    })),
  }));
}

/** Per-class accuracy (recall) of a run. */
function perClass(metrics: RunMetrics): (number | null)[] {
  return metrics.recall;
}

/** Mean of each class's accuracy over seeds, ignoring classes without images. */
function meanPerClass(rows: (number | null)[][]): (number | null)[] {
  return rows[0].map((_, c) => mean(rows.map((r) => r[c])) ?? null);
}

/**
 * Runs both arms for every seed through {@linkcode runJob} with one cache, then
 * writes `compare.json` and `report.html` into `options.out`.
 */
export async function runComparison(
  options: CompareOptions,
  reporter: Reporter,
): Promise<ComparisonRun> {
  const plan = armConfigs(options);
  await checkCompareFolder(options.out);
  const rows: SeedRow[] = [];
  const metrics: RunMetrics[][] = [];
  for (const { seed, configs } of plan) {
    const arms: ArmResult[] = [];
    const runs: RunMetrics[] = [];
    const predictions: { labels: Uint8Array; predicted: Uint8Array }[] = [];
    for (const [i, config] of configs.entries()) {
      const value = options.vary.values[i];
      reporter.log(`compare: seed ${seed}, ${armLabel(options.vary, value)}`);
      const result = await runJob(config, reporter);
      if (result.kind !== "run") throw new Error("compare must run, not plan");
      const m = result.metrics;
      runs.push(m);
      predictions.push({
        labels: result.evaluation.testLabels,
        predicted: result.evaluation.testPredictions,
      });
      arms.push({
        label: armLabel(options.vary, value),
        value,
        testAccuracy: m.testAccuracy,
        perClassAccuracy: perClass(m),
        trainSeconds: m.history.reduce((sum, r) => sum + r.seconds, 0),
        trainCached: m.stages.some((s) => s.name === "train" && s.status === "cached"),
        runDir: result.runDir,
      });
    }
    const [first, second] = predictions;
    if (
      first.labels.length !== second.labels.length ||
      !first.labels.every((label, i) => label === second.labels[i])
    ) {
      throw new InputError(
        `Cannot pair the arms' test predictions as both must score the same test set: ` +
          `the arms saw ${first.labels.length} and ${second.labels.length} test labels that differ`,
      );
    }
    rows.push({
      seed,
      arms,
      differencePoints: 100 * (arms[0].testAccuracy - arms[1].testAccuracy),
      mcnemar: mcnemar(first.labels, first.predicted, second.predicted),
    });
    metrics.push(runs);
  }
  const comparison = summarize(options, rows);
  const html = renderCompareReport({ comparison, rows, metrics }, options.out);
  await writeFileAtomic(
    `${options.out}/compare.json`,
    new TextEncoder().encode(JSON.stringify(comparison, null, 2) + "\n"),
  );
  await writeFileAtomic(`${options.out}/report.html`, new TextEncoder().encode(html));
  return { comparison, rows, metrics };
}

/** Folds the seed rows into `compare.json`'s shape. */
export function summarize(options: CompareOptions, rows: SeedRow[]): Comparison {
  const flags = { ...options.flags };
  delete flags.seeds;
  delete flags.vary;
  const arms: ArmSummary[] = options.vary.values.map((value, i) => {
    const runs = rows.map((r) => r.arms[i]);
    const accuracy = spread(runs.map((a) => a.testAccuracy));
    return {
      label: runs[0].label,
      value,
      testAccuracy: accuracy.mean,
      testAccuracySpread: accuracy,
      perClassAccuracy: meanPerClass(runs.map((a) => a.perClassAccuracy)),
      trainSeconds: mean(runs.map((a) => a.trainSeconds)) ?? 0,
      runDir: runs[0].runDir,
      runDirs: runs.map((a) => a.runDir),
    };
  });
  return {
    vary: options.vary,
    seeds: rows.map((r) => r.seed),
    flags,
    arms,
    differencePoints: spread(rows.map((r) => r.differencePoints)),
    mcnemar: { ...rows[0].mcnemar, seed: rows[0].seed },
    ...(rows.length > 1 ? { seedRows: rows } : {}),
  };
}

/** The comparison as the table `deno task compare` prints, one string per line. */
export function formatComparison(run: ComparisonRun): string[] {
  const { comparison: c, rows } = run;
  const [a, b] = c.arms;
  const lines: string[] = [];
  const width = Math.max(16, a.label.length + 2, b.label.length + 2);
  const head = 28;
  const row = (name: string, x: string, y: string) =>
    `${name.padEnd(head)}${x.padStart(width)}${y.padStart(width)}`;
  const seedText = c.seeds.length === 1 ? `seed ${c.seeds[0]}` : `seeds ${c.seeds.join(", ")}`;
  lines.push(`compare ${a.label} vs ${b.label} (${seedText}; every other flag the same)`);
  lines.push(row("", a.label, b.label));
  const several = rows.length > 1;
  lines.push(row(
    several ? "test accuracy (mean ± sd)" : "test accuracy",
    several ? percentSpread(a.testAccuracySpread) : percent(a.testAccuracy),
    several ? percentSpread(b.testAccuracySpread) : percent(b.testAccuracy),
  ));
  lines.push(row("test error", percent(1 - a.testAccuracy), percent(1 - b.testAccuracy)));
  for (let k = 0; k < a.perClassAccuracy.length; k++) {
    lines.push(row(`  class ${k}`, percent(a.perClassAccuracy[k]), percent(b.perClassAccuracy[k])));
  }
  lines.push(row("train seconds", a.trainSeconds.toFixed(1), b.trainSeconds.toFixed(1)));
  lines.push(
    `difference (${a.value} − ${b.value})`.padEnd(head) +
      pointsSpread(c.differencePoints),
  );
  if (several) {
    lines.push("");
    const cols = [6, width, width, 16, 8, 8, 12];
    const line = (cells: string[]) =>
      cells.map((cell, i) => i === 0 ? cell.padEnd(cols[i]) : cell.padStart(cols[i])).join("");
    lines.push(line(["seed", a.label, b.label, "difference", "b", "c", "p"]));
    for (const r of rows) {
      lines.push(line([
        String(r.seed),
        percent(r.arms[0].testAccuracy),
        percent(r.arms[1].testAccuracy),
        points(r.differencePoints),
        String(r.mcnemar.b),
        String(r.mcnemar.c),
        pValue(r.mcnemar.pValue),
      ]));
    }
  }
  const m = c.mcnemar;
  lines.push("");
  lines.push(
    `McNemar exact test${several ? ` (seed ${m.seed})` : ""}: ${m.b} test images only ${a.label} ` +
      `gets right, ${m.c} only ${b.label}; two-sided p = ${pValue(m.pValue)}`,
  );
  return lines;
}
