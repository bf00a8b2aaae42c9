/**
 * The run report: one self-contained HTML file (inline CSS, SVG charts, PNG
 * digits as data URIs; no script, no network) that opens from disk.
 *
 * @module
 */
import type { RunMetricsView as RunMetrics } from "./views.ts";
import { classErrorChart, confusionChart, costChart, epochChart } from "./charts.ts";
import { digitDataUri, weightDataUri } from "./digits.ts";
import { percent } from "./format.ts";

/** One test image to draw, with what is known about it. */
export interface DigitCard {
  /** Row in the test set. */
  index: number;
  /** The image, (rows·cols) pixels in any scale (drawn min-to-max). */
  pixels: ArrayLike<number>;
  /** True class. */
  label: number;
  /** Predicted class, for misclassified digits. */
  predicted?: number;
  /** The model's probability of the predicted class, 0..1 (misclassified digits). */
  confidence?: number;
  /** The second most probable class and its probability (misclassified digits). */
  runnerUp?: { label: number; probability: number };
}

/** One unit of the first layer: its input weights, drawn as an image of the input's shape. */
export interface WeightImage {
  /** The unit's index in the first layer. */
  unit: number;
  /** Its rows·cols input weights, in pixel order. */
  weights: ArrayLike<number>;
}

/** The test digits a run report shows. */
export interface ReportDigits {
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
  /** The first misclassified test digits (at most 25), as the model saw them. */
  misclassified: DigitCard[];
  /** The first test digit of each class, as the model saw it. */
  samples: DigitCard[];
  /** The same test digits before and after deskew; absent when deskew is off. */
  deskew?: { before: DigitCard; after: DigitCard }[];
  /** The first training digits as preprocessed and as augmented in epoch 1; absent without augmentation. */
  augmented?: { before: DigitCard; after: DigitCard }[];
  /** The first units of the first layer (at most 32); absent or empty draws no panel. */
  firstLayer?: WeightImage[];
}

/** Everything a run report is drawn from. */
export interface RunReportData {
  /** Page title, e.g. the run folder. */
  title: string;
  /** The resolved config, as written to `config.json`. */
  config: Record<string, unknown>;
  /** The run's metrics, as written to `metrics.json`. */
  metrics: RunMetrics;
  /** Digits to draw. */
  digits: ReportDigits;
}

const STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; color: #1d1d1f; }
body { margin: 0 auto; max-width: 1360px; padding: 24px; background: #fafafa; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
h2 { font-size: 1.15rem; margin: 28px 0 10px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 0.95rem; margin: 0 0 6px; color: #444; }
.sub { color: #666; margin: 0 0 16px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: white; border: 1px solid #e3e3e3; border-radius: 8px; padding: 10px 16px; min-width: 120px; }
.card .v { font-size: 1.6rem; font-weight: 600; }
.card .k { color: #666; font-size: 0.8rem; }
.grid { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.panel { background: white; border: 1px solid #e3e3e3; border-radius: 8px; padding: 12px; }
.digits { display: grid; gap: 6px; }
.digit { text-align: center; font-size: 0.75rem; color: #333; white-space: pre-line; }
.digit img { display: block; width: 56px; height: 56px; image-rendering: pixelated; border: 1px solid #eee; margin: 0 auto 2px; }
.arrow { align-self: center; color: #888; }
table { border-collapse: collapse; font-size: 0.85rem; background: white; }
th, td { border: 1px solid #e3e3e3; padding: 3px 8px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.good { color: #1a7f37; } .bad { color: #b42318; }
figure { margin: 0; }
`;

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Seconds the train stage spent training, from the epoch records (cached runs keep them). */
export function trainSeconds(metrics: Pick<RunMetrics, "history">): number {
  return metrics.history.reduce((sum, r) => sum + r.seconds, 0);
}

/** A headline number. */
export function card(value: string, key: string): string {
  return `<div class="card"><div class="v">${escapeHtml(value)}</div><div class="k">${
    escapeHtml(key)
  }</div></div>`;
}

/** A titled chart panel. */
export function panel(title: string, body: string): string {
  return `<div class="panel"><h3>${escapeHtml(title)}</h3>${body}</div>`;
}

function digit(rows: number, cols: number, d: DigitCard, caption: string): string {
  const alt = `test image ${d.index}, true class ${d.label}` +
    (d.predicted === undefined ? "" : `, predicted ${d.predicted}`);
  return `<div class="digit"><img src="${digitDataUri(d.pixels, rows, cols)}" alt="${
    escapeHtml(alt)
  }" width="${cols}" height="${rows}">${escapeHtml(caption)}</div>`;
}

function digitGrid(items: string[], columns: number, width = 64): string {
  return `<div class="digits" style="grid-template-columns: repeat(${columns}, ${width}px)">${
    items.join("")
  }</div>`;
}

/** A table cell: text (escaped here), or markup the caller built and escaped itself. */
export type Cell = string | { html: string };

/** A table from a header row and body rows; cells that look numeric are right-aligned. */
export function table(head: string[], rows: Cell[][]): string {
  const cell = (v: Cell) =>
    typeof v !== "string"
      ? `<td>${v.html}</td>`
      : /^[-+−]?[\d.,]+(%| s| points)?$/.test(v)
      ? `<td class="n">${escapeHtml(v)}</td>`
      : `<td>${escapeHtml(v)}</td>`;
  return `<table><thead><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr></thead>` +
    `<tbody>${rows.map((r) => `<tr>${r.map(cell).join("")}</tr>`).join("")}</tbody></table>`;
}

/** Wraps a body in the self-contained page. */
export function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
${body}
</body>
</html>
`;
}

function configTable(config: Record<string, unknown>): string {
  const rows = Object.entries(config).map(([k, v]) => [
    k,
    typeof v === "string" ? v : JSON.stringify(v),
  ]);
  return table(["setting", "value"], rows);
}

/** The stage timings with cache hits. */
export function stageTable(metrics: Pick<RunMetrics, "stages">): string {
  return table(
    ["stage", "result", "seconds", "key"],
    metrics.stages.map((s) => [
      s.name,
      s.status === "skipped" ? (s.cached ? "cached, not needed" : "not needed") : s.status,
      s.seconds.toFixed(2),
      s.key.slice(0, 12),
    ]),
  );
}

/** Per-class precision and recall of one run. */
function classTable(metrics: RunMetrics): string {
  return table(
    ["class", "images", "recall (accuracy)", "precision"],
    metrics.confusionMatrix.map((row, c) => [
      String(c),
      String(row.reduce((a, b) => a + b, 0)),
      percent(metrics.recall[c]),
      percent(metrics.precision[c]),
    ]),
  );
}

/** One off-diagonal cell of a confusion matrix. */
export interface ConfusedPair {
  /** True class. */
  label: number;
  /** Class predicted instead. */
  predicted: number;
  /** Test images of `label` predicted as `predicted`. */
  count: number;
  /** count / images of `label`, 0..1. */
  share: number;
}

/**
 * The `n` largest off-diagonal cells of a confusion matrix (counts[true][predicted]),
 * most first, ties in (true, predicted) order; cells of 0 are left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { confusedPairs } from "./html.ts";
 * const pairs = confusedPairs([[8, 2, 0], [0, 9, 1], [5, 0, 5]], 2);
 * assert.deepEqual(pairs.map((p) => [p.label, p.predicted, p.count]), [[2, 0, 5], [0, 1, 2]]);
 * ```
 */
export function confusedPairs(matrix: number[][], n: number): ConfusedPair[] {
  const pairs: ConfusedPair[] = [];
  matrix.forEach((row, label) => {
    const images = row.reduce((a, b) => a + b, 0);
    row.forEach((count, predicted) => {
      if (predicted !== label && count > 0) {
        pairs.push({ label, predicted, count, share: count / images });
      }
    });
  });
  return pairs.sort((a, b) => b.count - a.count).slice(0, n);
}

/** How many confused pairs the report lists. */
export const CONFUSED_PAIRS_SHOWN = 10;

function confusedTable(matrix: number[][]): string {
  const pairs = confusedPairs(matrix, CONFUSED_PAIRS_SHOWN);
  if (pairs.length === 0) return "<p>none: every test digit was classified correctly</p>";
  return table(
    ["true", "predicted as", "images", "share of the true class"],
    pairs.map((p) => [String(p.label), String(p.predicted), String(p.count), percent(p.share)]),
  );
}

/** The caption of a misclassified digit: true, predicted with its confidence, and the runner-up. */
function mistakeCaption(d: DigitCard): string {
  const confidence = d.confidence === undefined ? "" : ` ${Math.round(100 * d.confidence)}%`;
  const second = d.runnerUp === undefined
    ? ""
    : `\n2nd: ${d.runnerUp.label} ${Math.round(100 * d.runnerUp.probability)}%`;
  return `t: ${d.label} p: ${d.predicted}${confidence}${second}`;
}

function weightGrid(rows: number, cols: number, units: WeightImage[]): string {
  const items = units.map((u) =>
    `<div class="digit"><img src="${weightDataUri(u.weights, rows, cols)}" alt="${
      escapeHtml(`first-layer unit ${u.unit}'s input weights`)
    }" width="${cols}" height="${rows}">unit ${u.unit}</div>`
  );
  return digitGrid(items, Math.min(8, items.length));
}

/** Renders a run's report page. */
export function renderRunReport(data: RunReportData): string {
  const { metrics, digits, config } = data;
  const series = [{ label: "run", history: metrics.history, costs: metrics.costs }];
  const hasValidation = metrics.history.some((r) => r.validationLoss !== undefined);
  const headline = [
    card(percent(metrics.testAccuracy), "test accuracy"),
    card(percent(1 - metrics.testAccuracy), "test error"),
    card(percent(metrics.trainAccuracy), "train accuracy"),
    card(
      `${metrics.history.length}${
        metrics.bestEpoch !== metrics.history.length ? ` (best ${metrics.bestEpoch})` : ""
      }`,
      "epochs",
    ),
    card(`${trainSeconds(metrics).toFixed(1)} s`, "training time"),
    card(String(metrics.testCount), "test images"),
  ].join("");
  const misclassified = digits.misclassified.map((d) =>
    digit(digits.rows, digits.cols, d, mistakeCaption(d))
  );
  const firstLayer = digits.firstLayer?.length
    ? panel(
      `first layer: the input weights of units 0–${
        digits.firstLayer.length - 1
      } (red positive, blue negative)`,
      weightGrid(digits.rows, digits.cols, digits.firstLayer),
    )
    : "";
  const samples = digits.samples.map((d) => digit(digits.rows, digits.cols, d, `${d.label}`));
  const deskew = digits.deskew
    ? panel(
      "before and after deskew (top: normalized, bottom: deskewed)",
      digitGrid(
        [
          ...digits.deskew.map((p) => digit(digits.rows, digits.cols, p.before, "before")),
          ...digits.deskew.map((p) => digit(digits.rows, digits.cols, p.after, "after")),
        ],
        digits.deskew.length,
      ),
    )
    : "";
  const augmented = digits.augmented?.length
    ? panel(
      "augmentation: the first training digits (top) as epoch 1 trained on them (bottom)",
      digitGrid(
        [
          ...digits.augmented.map((p) =>
            digit(digits.rows, digits.cols, p.before, `${p.before.label}`)
          ),
          ...digits.augmented.map((p) => digit(digits.rows, digits.cols, p.after, "augmented")),
        ],
        digits.augmented.length,
      ),
    )
    : "";
  const body = `
<h1>${escapeHtml(data.title)}</h1>
<p class="sub">${escapeHtml(describeConfig(config))}</p>
<div class="cards">${headline}</div>
<h2>Training</h2>
<div class="grid">
${panel("cost per minibatch (faint) and its per-epoch average", costChart(series))}
${
    panel(
      hasValidation
        ? "loss per epoch: training (solid) vs validation (dashed)"
        : "training loss per epoch",
      epochChart(series, "loss"),
    )
  }
${
    panel(
      hasValidation
        ? "accuracy per epoch: training (solid) vs validation (dashed)"
        : "training accuracy per epoch",
      epochChart(series, "accuracy"),
    )
  }
</div>
<h2>Test set</h2>
<div class="grid">
${panel("confusion matrix (rows: true class)", confusionChart(metrics.confusionMatrix))}
${
    panel(
      "test error per class",
      classErrorChart([{ label: "run", accuracy: metrics.recall }]),
    )
  }
${panel("per class", classTable(metrics))}
${panel("most confused pairs", confusedTable(metrics.confusionMatrix))}
</div>
<h2>Digits</h2>
<div class="grid">
${
    panel(
      `the first ${misclassified.length} misclassified test digits (true, predicted with ` +
        `its probability, runner-up)`,
      misclassified.length ? digitGrid(misclassified, 5, 84) : "<p>none</p>",
    )
  }
${panel("one test digit of each class", digitGrid(samples, Math.min(10, samples.length)))}
${deskew}
${augmented}
${firstLayer}
</div>
<h2>Run</h2>
<div class="grid">
${panel("stages", stageTable(metrics))}
${panel("config", configTable(config))}
</div>
`;
  return page(`${data.title}: ${percent(metrics.testAccuracy)}`, body);
}

/** A one-line summary of a config for a subtitle. */
export function describeConfig(config: Record<string, unknown>): string {
  const hidden = Array.isArray(config.hidden) ? config.hidden.join("-") : "";
  const batching = config.batching as { batchSize?: number; minibatches?: number } | undefined;
  const batch = batching?.batchSize !== undefined
    ? `batch ${batching.batchSize}`
    : batching?.minibatches !== undefined
    ? `${batching.minibatches} minibatches`
    : "";
  return [
    `preset ${config.preset}`,
    `deskew ${config.deskew ? "on" : "off"}`,
    `normalize ${config.normalize}`,
    `hidden ${hidden || "none"} ${config.activation}`,
    `${config.output} output`,
    `${config.optimizer} η ${config.eta}`,
    `${config.epochs} epochs`,
    batch,
    augmentOf(config.augment),
    typeof config.dropout === "number" && config.dropout > 0 ? `dropout ${config.dropout}` : "",
    `seed ${config.seed}`,
  ].filter(Boolean).join(" · ");
}

/** `augment both` for a config's augmentation, or nothing when it has none. */
function augmentOf(augment: unknown): string {
  const kind = (augment as { kind?: unknown } | undefined)?.kind;
  return typeof kind === "string" && kind !== "none" ? `augment ${kind}` : "";
}
