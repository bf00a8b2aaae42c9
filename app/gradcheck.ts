/**
 * The gradcheck task: gradient checks on a few real training rows for every
 * activation and output kind, with and without weight penalties.
 *
 * @module
 */
import { type Activation, ACTIVATIONS } from "../model/activations.ts";
import { gradientCheck, type GradientCheckResult } from "../model/gradcheck.ts";
import { type OutputKind, OUTPUTS, type Reduction } from "../model/network.ts";
import { decodeImagesAndLabels, findDataFiles } from "../stages/idx_decode.ts";
import { seededRandom } from "../model/rng.ts";

/** Options of {@linkcode runGradientChecks}. */
export interface GradcheckTaskOptions {
  /** IDX data folder whose first training rows are used. */
  dataDir: string;
  /** Rows to check on. @default {5} */
  rows: number;
  /** Hidden units of the one hidden layer. @default {10} */
  hidden: number;
  /** Seed of the initial weights. @default {1} */
  seed: number;
  /** Finite-difference step. @default {1e-5} */
  epsilon: number;
}

/** One line of the gradcheck report. */
export interface GradcheckLine extends GradientCheckResult {
  /** Hidden activation. */
  activation: Activation;
  /** Output kind. */
  output: OutputKind;
  /** L1 strength used. */
  l1: number;
  /** L2 strength used. */
  l2: number;
  /** Row reduction. */
  reduction: Reduction;
}

/** Runs every check on the first `rows` training images (pixels ÷ 255), calling `onLine` as each ends. */
export async function runGradientChecks(
  options: GradcheckTaskOptions,
  onLine: (line: GradcheckLine) => void,
): Promise<GradcheckLine[]> {
  const files = await findDataFiles(options.dataDir);
  const train = await decodeImagesAndLabels(files.trainImages, files.trainLabels);
  const width = train.rows * train.cols;
  const rows = Math.min(options.rows, train.labels.length);
  const x = new Float64Array(rows * width);
  for (let i = 0; i < x.length; i++) x[i] = train.images[i] / 255;
  const labels = train.labels.subarray(0, rows);
  let classes = 0;
  for (const label of train.labels) classes = Math.max(classes, label + 1);
  const lines: GradcheckLine[] = [];
  const settings = [
    { l1: 0, l2: 0, reduction: "sum" as const },
    { l1: 0.1, l2: 0.1, reduction: "mean" as const },
  ];
  for (const output of OUTPUTS) {
    for (const activation of ACTIVATIONS) {
      for (const { l1, l2, reduction } of settings) {
        const result = gradientCheck({
          spec: { sizes: [width, options.hidden, classes], activation, output },
          x,
          labels,
          regularization: { l1, l2 },
          reduction,
          init: "xavier",
          random: seededRandom(options.seed, "gradcheck", activation, output),
          epsilon: options.epsilon,
        });
        const line = { ...result, activation, output, l1, l2, reduction };
        lines.push(line);
        onLine(line);
      }
    }
  }
  return lines;
}
