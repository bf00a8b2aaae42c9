/**
 * The view types the report pages render. The app builds values of these
 * shapes; the report depends on nothing but them.
 *
 * @module
 */

/** One epoch of training history, as the charts draw it. */
export interface EpochView {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean per-row data loss over the epoch's minibatches. */
  trainLoss: number;
  /** Accuracy over the epoch's minibatches. */
  trainAccuracy: number;
  /** Mean per-row data loss on the validation rows after the epoch. */
  validationLoss?: number;
  /** Accuracy on the validation rows after the epoch. */
  validationAccuracy?: number;
  /** Learning rate used in the epoch. */
  eta: number;
  /** Wall seconds of the epoch. */
  seconds: number;
}

/** What one stage did in a run. */
export interface StageView {
  /** Stage name. */
  name: string;
  /** Cache key (hex SHA-256). */
  key: string;
  /** Whether the cache holds an entry. */
  cached: boolean;
  /** Wall seconds spent on it. */
  seconds: number;
  /** `ran`, `cached`, or `skipped` (not needed). */
  status: "ran" | "cached" | "skipped";
}

/** A misclassified test image. */
export interface MisclassifiedView {
  /** Row in the test set. */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class. */
  predicted: number;
}

/** A run's metrics, as `metrics.json` holds them. */
export interface RunMetricsView {
  /** Fraction of test images classified correctly. */
  testAccuracy: number;
  /** Fraction of training images classified correctly. */
  trainAccuracy: number;
  /** counts[true][predicted] over the test set. */
  confusionMatrix: number[][];
  /** Per-class precision (null when nothing was predicted as the class). */
  precision: (number | null)[];
  /** Per-class recall (null when the class has no test images). */
  recall: (number | null)[];
  /** The first misclassified test images. */
  misclassified: MisclassifiedView[];
  /** Number of test images. */
  testCount: number;
  /** Per-epoch history. */
  history: EpochView[];
  /** Cost of every minibatch, in order. */
  costs: number[];
  /** Epoch whose weights were kept. */
  bestEpoch: number;
  /** What each stage did. */
  stages: StageView[];
}

/** What a comparison varies: one flag and its two values, first arm first. */
export interface Vary {
  /** Flag name without dashes, e.g. `activation`. */
  flag: string;
  /** The two values, e.g. `["sigmoid", "relu"]`; deskew takes `on` and `off`. */
  values: string[];
}

/** The discordant counts of two paired prediction sets and the test's two-sided p-value. */
export interface McNemarResult {
  /** Images only the first model gets right. */
  b: number;
  /** Images only the second model gets right. */
  c: number;
  /** Two-sided exact p-value: min(1, 2·P(X ≤ min(b, c))) with X ~ Bin(b + c, 1/2). */
  pValue: number;
}

/** One arm of one seed. */
export interface ArmResult {
  /** Arm name. */
  label: string;
  /** The varied flag's value. */
  value: string;
  /** Test accuracy, 0..1. */
  testAccuracy: number;
  /** Accuracy (recall) per class; null for a class without test images. */
  perClassAccuracy: (number | null)[];
  /** Seconds spent training (as recorded, also when train came from the cache). */
  trainSeconds: number;
  /** Whether train came from the cache. */
  trainCached: boolean;
  /** The arm's run folder. */
  runDir: string;
}

/** One seed of a comparison: both arms, their difference and McNemar's test. */
export interface SeedRow {
  /** The seed both arms used. */
  seed: number;
  /** The two arms, in `--vary` order. */
  arms: ArmResult[];
  /** First arm's accuracy minus the second's, in percentage points. */
  differencePoints: number;
  /** McNemar's exact test on the paired test predictions. */
  mcnemar: McNemarResult;
}

/** Mean and sample standard deviation (null for one value). */
export interface Spread {
  /** Mean. */
  mean: number;
  /** Standard deviation (n − 1), null when there is one value. */
  sd: number | null;
}

/** An arm over all seeds, as `compare.json` lists it. */
export interface ArmSummary {
  /** Arm name. */
  label: string;
  /** The varied flag's value. */
  value: string;
  /** Test accuracy (mean over seeds), 0..1. */
  testAccuracy: number;
  /** Mean and deviation of test accuracy over seeds. */
  testAccuracySpread: Spread;
  /** Mean per-class accuracy over seeds. */
  perClassAccuracy: (number | null)[];
  /** Mean training seconds over seeds. */
  trainSeconds: number;
  /** The first seed's run folder. */
  runDir: string;
  /** Every seed's run folder, in seed order. */
  runDirs: string[];
}

/** The contents of `compare.json`. */
export interface Comparison {
  /** What differed. */
  vary: Vary;
  /** Seeds, in order. */
  seeds: number[];
  /** The flags shared by both arms. */
  flags: Record<string, string | boolean | undefined>;
  /** Both arms over all seeds. */
  arms: ArmSummary[];
  /** First arm minus second, in points: mean and deviation over seeds. */
  differencePoints: Spread;
  /** McNemar's test of the first seed (each seed's is in `seedRows`). */
  mcnemar: McNemarResult & { seed: number };
  /** One row per seed when several seeds ran. */
  seedRows?: SeedRow[];
}

/** A comparison and what its report draws: each arm's metrics for every seed. */
export interface ComparisonRun {
  /** What `compare.json` holds. */
  comparison: Comparison;
  /** Every seed's row (also with one seed). */
  rows: SeedRow[];
  /** metrics[seedIndex][armIndex]. */
  metrics: RunMetricsView[][];
}
