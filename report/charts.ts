/**
 * The report's charts, drawn with Observable Plot on a linkedom document so
 * they render without a browser: each function returns SVG (or a figure with a
 * legend) as an HTML string. Several arms share one chart, on the same axes.
 *
 * @module
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import type { EpochView as EpochRecord } from "./views.ts";
import { percent } from "./format.ts";

/** One arm's training record: what a curve is drawn from. */
export interface TrainingSeries {
  /** The arm's name in legends, e.g. `deskew on`. */
  label: string;
  /** Per-epoch history. */
  history: EpochRecord[];
  /** Cost of every minibatch, in order. */
  costs: number[];
}

/** Most minibatch points drawn per arm; beyond it every k-th is kept so the file stays small. */
export const MAX_COST_POINTS = 3000;

const WIDTH = 580;
const HEIGHT = 300;

/** A fresh server-side document for Plot, which needs one to build its elements. */
function newDocument(): Plot.PlotOptions["document"] {
  // linkedom's typings lean on DOM lib types Deno does not load; the object is a full document.
  const window = parseHTML("<!DOCTYPE html><html><head></head><body></body></html>") as unknown as {
    document: Plot.PlotOptions["document"];
  };
  return window.document;
}

/** Plot output as HTML; figures (with legends) and bare SVGs both have `outerHTML`. */
function render(options: Plot.PlotOptions): string {
  const element = Plot.plot({ document: newDocument(), ...options }) as unknown as {
    outerHTML: string;
  };
  return element.outerHTML;
}

/** Colour legend only when there is more than one arm to tell apart. */
function armColor(labels: string[]): Plot.ScaleOptions {
  return { domain: labels, legend: labels.length > 1 };
}

/**
 * The cost of every minibatch (faint) and its per-epoch average (bold, with
 * dots), as the textbook plotted them; x is in epochs so arms with other batch
 * counts line up. The cost axis is logarithmic, so the first minibatches'
 * spike does not flatten the later epochs into the bottom of the chart; a cost
 * of 0 or less (which a log scale cannot place) is left out.
 */
export function costChart(series: TrainingSeries[]): string {
  const minibatch: { arm: string; x: number; cost: number }[] = [];
  const average: { arm: string; x: number; cost: number }[] = [];
  for (const s of series) {
    const epochs = s.history.length;
    if (epochs === 0 || s.costs.length === 0) continue;
    const batches = Math.max(1, Math.round(s.costs.length / epochs));
    const stride = Math.max(1, Math.ceil(s.costs.length / MAX_COST_POINTS));
    for (let i = 0; i < s.costs.length; i += stride) {
      if (s.costs[i] > 0) minibatch.push({ arm: s.label, x: (i + 1) / batches, cost: s.costs[i] });
    }
    for (let e = 0; e < epochs; e++) {
      const slice = s.costs.slice(e * batches, (e + 1) * batches);
      if (slice.length === 0) break;
      const mean = slice.reduce((a, b) => a + b, 0) / slice.length;
      if (mean > 0) average.push({ arm: s.label, x: e + 1, cost: mean });
    }
  }
  return render({
    width: WIDTH,
    height: HEIGHT,
    x: { label: "epoch", nice: true },
    y: { label: "cost (log scale)", type: "log", grid: true, tickFormat: "~g" },
    color: armColor(series.map((s) => s.label)),
    marks: [
      Plot.line(minibatch, { x: "x", y: "cost", z: "arm", stroke: "arm", strokeOpacity: 0.3 }),
      Plot.line(average, { x: "x", y: "cost", z: "arm", stroke: "arm", strokeWidth: 2 }),
      Plot.dot(average, {
        x: "x",
        y: "cost",
        fill: "arm",
        r: 2.5,
        title: (d: { arm: string; x: number; cost: number }) =>
          `${d.arm}\nepoch ${d.x}: mean cost ${d.cost.toPrecision(4)}`,
      }),
    ],
  });
}

/**
 * Training (solid) and validation (dashed) loss or accuracy per epoch, one
 * colour per arm.
 */
export function epochChart(series: TrainingSeries[], metric: "loss" | "accuracy"): string {
  const rows: { arm: string; epoch: number; value: number; split: string }[] = [];
  for (const s of series) {
    for (const r of s.history) {
      const train = metric === "loss" ? r.trainLoss : r.trainAccuracy;
      rows.push({ arm: s.label, epoch: r.epoch, value: train, split: "train" });
      const validation = metric === "loss" ? r.validationLoss : r.validationAccuracy;
      if (validation !== undefined) {
        rows.push({ arm: s.label, epoch: r.epoch, value: validation, split: "validation" });
      }
    }
  }
  const train = rows.filter((r) => r.split === "train");
  const validation = rows.filter((r) => r.split === "validation");
  return render({
    width: WIDTH,
    height: HEIGHT,
    x: { label: "epoch", nice: true },
    y: {
      label: metric === "loss" ? "loss per row" : "accuracy (%)",
      grid: true,
      percent: metric === "accuracy",
    },
    color: armColor(series.map((s) => s.label)),
    marks: [
      Plot.line(train, { x: "epoch", y: "value", z: "arm", stroke: "arm", strokeWidth: 2 }),
      Plot.dot(train, {
        x: "epoch",
        y: "value",
        fill: "arm",
        r: 2.5,
        title: (d: { arm: string; epoch: number; value: number }) =>
          `${d.arm}\nepoch ${d.epoch}: train ${metric} ${d.value.toPrecision(4)}`,
      }),
      Plot.line(validation, {
        x: "epoch",
        y: "value",
        z: "arm",
        stroke: "arm",
        strokeWidth: 2,
        strokeDasharray: "5,4",
      }),
      Plot.dot(validation, { x: "epoch", y: "value", stroke: "arm", fill: "white", r: 2.5 }),
    ],
  });
}

/** The confusion matrix as a heat map, the count in every cell; rows are the true class. */
export function confusionChart(matrix: number[][]): string {
  const cells = matrix.flatMap((row, t) => row.map((count, p) => ({ t, p, count })));
  const max = Math.max(1, ...cells.map((c) => c.count));
  const size = Math.max(240, Math.min(480, 36 * matrix.length + 60));
  return render({
    width: size,
    height: size,
    padding: 0.04,
    x: { label: "predicted", axis: "top", type: "band" },
    y: { label: "true", type: "band" },
    // A square-root scale keeps the off-diagonal errors visible next to the large diagonal.
    color: { type: "sqrt", scheme: "blues", domain: [0, max] },
    marks: [
      Plot.cell(cells, { x: "p", y: "t", fill: "count", inset: 0.5 }),
      Plot.text(cells, {
        x: "p",
        y: "t",
        text: (d: { count: number }) => String(d.count),
        fill: (d: { count: number }) => (d.count > max * 0.45 ? "white" : "black"),
        fontSize: matrix.length > 12 ? 7 : 10,
      }),
    ],
  });
}

/** One arm's per-class accuracy, for {@linkcode classErrorChart}. */
export interface ClassAccuracy {
  /** Arm name. */
  label: string;
  /** Accuracy (recall) per class, null for a class without test images. */
  accuracy: (number | null)[];
}

/** Per-class test error as grouped bars, one colour per arm; error shows gaps accuracy hides. */
export function classErrorChart(arms: ClassAccuracy[]): string {
  const rows = arms.flatMap((arm) =>
    arm.accuracy.flatMap((a, c) => (a === null ? [] : [{ arm: arm.label, c, error: 1 - a }]))
  );
  return render({
    width: WIDTH,
    height: HEIGHT,
    x: { axis: null, domain: arms.map((a) => a.label), paddingInner: 0.1 },
    fx: { label: "class", padding: 0.15 },
    y: { label: "test error (%)", grid: true, percent: true },
    color: armColor(arms.map((a) => a.label)),
    marks: [
      Plot.barY(rows, {
        fx: "c",
        x: "arm",
        y: "error",
        fill: "arm",
        title: (d: { arm: string; c: number; error: number }) =>
          `${d.arm}\nclass ${d.c}: ${percent(d.error)} wrong`,
      }),
      Plot.ruleY([0]),
    ],
  });
}

/** One arm's test accuracy for one seed, for {@linkcode seedChart}. */
export interface SeedAccuracy {
  /** The seed. */
  seed: number;
  /** Arm name. */
  label: string;
  /** Test accuracy, 0..1. */
  accuracy: number;
}

/** Test accuracy per seed, one colour per arm, so the spread over seeds shows beside the gap. */
export function seedChart(points: SeedAccuracy[]): string {
  const labels = [...new Set(points.map((p) => p.label))];
  return render({
    width: Math.min(WIDTH, 160 + 60 * new Set(points.map((p) => p.seed)).size),
    height: HEIGHT,
    x: { label: "seed", type: "point", padding: 0.5 },
    y: { label: "test accuracy (%)", grid: true, percent: true, nice: true },
    color: armColor(labels),
    marks: [
      Plot.dot(points, {
        x: (d: SeedAccuracy) => String(d.seed),
        y: "accuracy",
        fill: "label",
        r: 4,
        title: (d: SeedAccuracy) => `${d.label}, seed ${d.seed}: ${percent(d.accuracy)}`,
      }),
    ],
  });
}
