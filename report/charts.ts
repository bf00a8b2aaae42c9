/**
 * The report's charts, as hand-written SVG: each function returns an `<svg>`
 * (or a `<figure>` with a colour legend above it when several arms share the
 * chart) as an HTML string, with axes, gridlines and a `<title>` tooltip on
 * every point or bar. No script, no fonts, no package.
 *
 * @module
 */
import type { EpochView as EpochRecord } from "./views.ts";
import { percent } from "./format.ts";
import {
  bandScale,
  color,
  escapeXml,
  extent,
  formatTick,
  type Frame,
  linearScale,
  linePath,
  logScale,
  px,
  svg,
  withLegend,
  xAxis,
  yAxis,
} from "./svg.ts";

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

/** A frame whose left margin fits the longest y tick label. */
function frame(width: number, height: number, yLabels: string[], top = 20): Frame {
  const longest = Math.max(0, ...yLabels.map((l) => l.length));
  return { width, height, top, right: 20, bottom: 30, left: Math.max(40, 12 + 6 * longest) };
}

/** A point with its tooltip. */
interface Dot {
  x: number;
  y: number;
  title?: string;
}

/** One line per arm in a group; `attrs` (stroke width, opacity, dashes) apply to all of them. */
function lines(paths: { color: string; points: [number, number][] }[], attrs: string): string {
  const drawn = paths.filter((p) => p.points.length > 0);
  if (drawn.length === 0) return "";
  return `<g aria-label="line" fill="none" stroke-linejoin="round" stroke-linecap="round" ${attrs}>${
    drawn.map((p) => `<path stroke="${p.color}" d="${linePath(p.points)}"/>`).join("")
  }</g>`;
}

/** Dots, filled in the arm's colour or hollow (`fill="white"` on the group, stroke per dot). */
function dots(groups: { color: string; dots: Dot[] }[], hollow = false, r = 2.5): string {
  const circles = groups.flatMap((g) =>
    g.dots.map((d) => {
      const paint = hollow ? `stroke="${g.color}"` : `fill="${g.color}"`;
      const title = d.title === undefined ? "" : `<title>${escapeXml(d.title)}</title>`;
      return `<circle cx="${px(d.x)}" cy="${px(d.y)}" r="${r}" ${paint}>${title}</circle>`;
    })
  );
  if (circles.length === 0) return "";
  return `<g aria-label="dot"${hollow ? ` fill="white" stroke-width="1.5"` : ""}>${
    circles.join("")
  }</g>`;
}

/** An x scale of epochs over [first, last], round ticks about every 80 pixels, whole epochs only. */
function epochAxis(f: Frame, first: number, last: number) {
  const x = linearScale([first, Math.max(first, last)], [f.left, f.width - f.right], {
    count: Math.round((f.width - f.left - f.right) / 80),
  });
  const whole = x.ticks.filter(Number.isInteger);
  if (whole.length >= 2) x.ticks = whole;
  return x;
}

/** Percent tick labels for a 0..1 axis. */
const percentTick = (v: number) => formatTick(v * 100);

/**
 * The cost of every minibatch (faint) and its per-epoch average (bold, with
 * dots), as the textbook plotted them; x is in epochs so arms with other batch
 * counts line up. The cost axis is logarithmic, so the first minibatches'
 * spike does not flatten the later epochs into the bottom of the chart; a cost
 * of 0 or less (which a log scale cannot place) is left out.
 */
export function costChart(series: TrainingSeries[]): string {
  const arms: { color: string; minibatch: Dot[]; average: Dot[] }[] = [];
  series.forEach((s, index) => {
    const epochs = s.history.length;
    if (epochs === 0 || s.costs.length === 0) return;
    const batches = Math.max(1, Math.round(s.costs.length / epochs));
    const stride = Math.max(1, Math.ceil(s.costs.length / MAX_COST_POINTS));
    const minibatch: Dot[] = [];
    for (let i = 0; i < s.costs.length; i += stride) {
      if (s.costs[i] > 0) minibatch.push({ x: (i + 1) / batches, y: s.costs[i] });
    }
    const average: Dot[] = [];
    for (let e = 0; e < epochs; e++) {
      const slice = s.costs.slice(e * batches, (e + 1) * batches);
      if (slice.length === 0) break;
      const mean = slice.reduce((a, b) => a + b, 0) / slice.length;
      if (mean > 0) {
        average.push({
          x: e + 1,
          y: mean,
          title: `${s.label}\nepoch ${e + 1}: mean cost ${mean.toPrecision(4)}`,
        });
      }
    }
    arms.push({ color: color(index), minibatch, average });
  });
  const all = arms.flatMap((a) => [...a.minibatch, ...a.average]);
  const ys = extent(all.map((d) => d.y));
  const probe = logScale(ys, [HEIGHT - 30, 20], { nice: true });
  const f = frame(WIDTH, HEIGHT, probe.ticks.map(formatTick));
  const y = logScale(ys, [f.height - f.bottom, f.top], { nice: true });
  const x = epochAxis(f, 0, Math.max(1, ...all.map((d) => d.x)));
  const at = (d: Dot): [number, number] => [x(d.x), y(d.y)];
  const body = yAxis(f, y, "cost (log scale)") +
    xAxis(f, x.ticks.map((t) => ({ x: x(t), text: formatTick(t) })), "epoch") +
    lines(
      arms.map((a) => ({ color: a.color, points: a.minibatch.map(at) })),
      'stroke-width="1.5" stroke-opacity="0.3"',
    ) +
    lines(arms.map((a) => ({ color: a.color, points: a.average.map(at) })), 'stroke-width="2"') +
    dots(
      arms.map((a) => ({
        color: a.color,
        dots: a.average.map((d) => ({ ...d, x: x(d.x), y: y(d.y) })),
      })),
    );
  return withLegend(series.map((s) => s.label), svg(f, body));
}

/**
 * Training (solid) and validation (dashed) loss or accuracy per epoch, one
 * colour per arm; accuracy reads in percent.
 */
export function epochChart(series: TrainingSeries[], metric: "loss" | "accuracy"): string {
  const arms = series.map((s, index) => {
    const train: Dot[] = [];
    const validation: Dot[] = [];
    for (const r of s.history) {
      const value = metric === "loss" ? r.trainLoss : r.trainAccuracy;
      train.push({
        x: r.epoch,
        y: value,
        title: `${s.label}\nepoch ${r.epoch}: train ${metric} ${value.toPrecision(4)}`,
      });
      const held = metric === "loss" ? r.validationLoss : r.validationAccuracy;
      if (held !== undefined) {
        validation.push({
          x: r.epoch,
          y: held,
          title: `${s.label}\nepoch ${r.epoch}: validation ${metric} ${held.toPrecision(4)}`,
        });
      }
    }
    return { color: color(index), train, validation };
  });
  const all = arms.flatMap((a) => [...a.train, ...a.validation]);
  const accuracy = metric === "accuracy";
  const format = accuracy ? percentTick : formatTick;
  const count = Math.round((HEIGHT - 50) / 35);
  const probe = linearScale(extent(all.map((d) => d.y)), [0, 1], { nice: true, count });
  const f = frame(WIDTH, HEIGHT, probe.ticks.map(format));
  const y = linearScale(extent(all.map((d) => d.y)), [f.height - f.bottom, f.top], {
    nice: true,
    count,
  });
  const x = epochAxis(f, 1, Math.max(1, ...all.map((d) => d.x)));
  const place = (d: Dot): Dot => ({ ...d, x: x(d.x), y: y(d.y) });
  const at = (d: Dot): [number, number] => [x(d.x), y(d.y)];
  const body = yAxis(f, y, accuracy ? "accuracy (%)" : "loss per row", format) +
    xAxis(f, x.ticks.map((t) => ({ x: x(t), text: formatTick(t) })), "epoch") +
    lines(arms.map((a) => ({ color: a.color, points: a.train.map(at) })), 'stroke-width="2"') +
    dots(arms.map((a) => ({ color: a.color, dots: a.train.map(place) }))) +
    lines(
      arms.map((a) => ({ color: a.color, points: a.validation.map(at) })),
      'stroke-width="2" stroke-dasharray="5,4"',
    ) +
    dots(arms.map((a) => ({ color: a.color, dots: a.validation.map(place) })), true);
  return withLegend(series.map((s) => s.label), svg(f, body));
}

/** The "blues" colour ramp, light to dark, that {@linkcode blue} interpolates. */
const BLUES = [
  [247, 251, 255],
  [222, 235, 247],
  [198, 219, 239],
  [158, 202, 225],
  [107, 174, 214],
  [66, 146, 198],
  [33, 113, 181],
  [8, 81, 156],
  [8, 48, 107],
];

/** A colour on the blues ramp for t in 0..1. */
function blue(t: number): string {
  const at = Math.min(1, Math.max(0, t)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(at));
  const f = at - i;
  const channel = (c: number) => Math.round(BLUES[i][c] + f * (BLUES[i + 1][c] - BLUES[i][c]));
  return `#${[0, 1, 2].map((c) => channel(c).toString(16).padStart(2, "0")).join("")}`;
}

/**
 * The confusion matrix as a heat map, the count in every cell; rows are the
 * true class, columns the predicted one. A colour scale under the map reads
 * from 0 to the largest count.
 */
export function confusionChart(matrix: number[][]): string {
  const n = matrix.length;
  const max = Math.max(1, ...matrix.flat());
  const size = Math.max(240, Math.min(480, 36 * n + 60));
  const f: Frame = {
    width: size,
    height: size + 34,
    top: 40,
    right: 10,
    bottom: 34 + 10,
    left: 40,
  };
  const x = bandScale(n, [f.left, f.width - f.right], 0.04);
  const y = bandScale(n, [f.top, f.height - f.bottom], 0.04);
  const fontSize = n > 12 ? 7 : 10;
  // A square-root scale keeps the off-diagonal errors visible next to the large diagonal.
  const shade = (count: number) => Math.sqrt(count / max);
  const cells: string[] = [];
  const texts: string[] = [];
  matrix.forEach((row, t) =>
    row.forEach((count, p) => {
      cells.push(
        `<rect x="${px(x(p) + 0.5)}" y="${px(y(t) + 0.5)}" width="${px(x.bandwidth - 1)}" height="${
          px(y.bandwidth - 1)
        }" fill="${blue(shade(count))}"><title>true ${t}, predicted ${p}: ${count}</title></rect>`,
      );
      texts.push(
        `<text x="${px(x(p) + x.bandwidth / 2)}" y="${
          px(y(t) + y.bandwidth / 2)
        }" dy="0.32em" fill="${count > max * 0.45 ? "white" : "black"}">${count}</text>`,
      );
    })
  );
  const yTicks = matrix.map((_, t) =>
    `<line x1="${f.left - 6}" x2="${f.left}" y1="${px(y(t) + y.bandwidth / 2)}" y2="${
      px(y(t) + y.bandwidth / 2)
    }"/>`
  );
  const yLabels = matrix.map((_, t) =>
    `<text x="${f.left - 9}" y="${px(y(t) + y.bandwidth / 2)}" dy="0.32em">${t}</text>`
  );
  const rampY = f.height - f.bottom + 14;
  const rampWidth = Math.min(160, f.width - f.left - f.right);
  const steps = 16;
  const ramp = Array.from(
    { length: steps },
    (_, i) =>
      `<rect x="${px(f.left + (i * rampWidth) / steps)}" y="${rampY}" width="${
        px(rampWidth / steps + 0.5)
      }" height="10" fill="${blue((i + 0.5) / steps)}"/>`,
  );
  const body = `<g aria-label="y-axis tick" stroke="currentColor">${yTicks.join("")}</g>` +
    `<g aria-label="y-axis tick label" text-anchor="end">${yLabels.join("")}</g>` +
    `<g aria-label="y-axis label" text-anchor="middle"><text transform="translate(12,${
      px((f.top + f.height - f.bottom) / 2)
    }) rotate(-90)">true</text></g>` +
    xAxis(
      f,
      matrix.map((_, p) => ({ x: x(p) + x.bandwidth / 2, text: String(p) })),
      "predicted",
      { top: true, centered: true },
    ) +
    `<g aria-label="cell">${cells.join("")}</g>` +
    `<g aria-label="text" text-anchor="middle" font-size="${fontSize}">${texts.join("")}</g>` +
    `<g aria-label="color legend"><title>count (square-root colour scale)</title>${
      ramp.join("")
    }<text x="${f.left}" y="${rampY + 22}">0</text><text x="${px(f.left + rampWidth)}" y="${
      rampY + 22
    }" text-anchor="end">${max}</text><text x="${px(f.left + rampWidth + 8)}" y="${
      rampY + 9
    }">count</text></g>`;
  return svg(f, body);
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
  const classes = Math.max(0, ...arms.map((a) => a.accuracy.length));
  const shown = Array.from({ length: classes }, (_, c) => c).filter((c) =>
    arms.some((a) => a.accuracy[c] !== null && a.accuracy[c] !== undefined)
  );
  const errors = arms.flatMap((a) => a.accuracy.flatMap((v) => (v === null ? [] : [1 - v])));
  const count = Math.round((HEIGHT - 50) / 35);
  const top = Math.max(...errors, 0) > 0 ? Math.max(...errors) : 0.01;
  const probe = linearScale([0, top], [0, 1], { nice: true, count });
  const f = frame(WIDTH, HEIGHT, probe.ticks.map(percentTick));
  const y = linearScale([0, top], [f.height - f.bottom, f.top], { nice: true, count });
  const fx = bandScale(shown.length, [f.left, f.width - f.right], 0.15);
  const x = bandScale(arms.length, [0, fx.bandwidth], 0.1);
  const bars: string[] = [];
  shown.forEach((c, i) =>
    arms.forEach((arm, j) => {
      const a = arm.accuracy[c];
      if (a === null || a === undefined) return;
      const error = 1 - a;
      const y0 = y(0), y1 = y(error);
      bars.push(
        `<rect x="${px(fx(i) + x(j))}" y="${px(Math.min(y0, y1))}" width="${
          px(x.bandwidth)
        }" height="${px(Math.abs(y0 - y1))}" fill="${color(j)}"><title>${
          escapeXml(`${arm.label}\nclass ${c}: ${percent(error)} wrong`)
        }</title></rect>`,
      );
    })
  );
  const body = yAxis(f, y, "test error (%)", percentTick) +
    xAxis(f, shown.map((c, i) => ({ x: fx(i) + fx.bandwidth / 2, text: String(c) })), "class", {
      centered: true,
    }) +
    `<g aria-label="bar">${bars.join("")}</g>` +
    `<g aria-label="rule" stroke="currentColor"><line x1="${f.left}" x2="${
      f.width - f.right
    }" y1="${px(y(0))}" y2="${px(y(0))}"/></g>`;
  return withLegend(arms.map((a) => a.label), svg(f, body));
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
  const seeds = [...new Set(points.map((p) => p.seed))];
  const count = Math.round((HEIGHT - 50) / 35);
  const probe = linearScale(extent(points.map((p) => p.accuracy)), [0, 1], { nice: true, count });
  const f = frame(
    Math.min(WIDTH, 160 + 60 * seeds.length),
    HEIGHT,
    probe.ticks.map(percentTick),
  );
  const y = linearScale(extent(points.map((p) => p.accuracy)), [f.height - f.bottom, f.top], {
    nice: true,
    count,
  });
  // A point scale: seeds evenly spaced, half a step of padding at both ends.
  const step = (f.width - f.left - f.right) / Math.max(1, seeds.length);
  const x = (seed: number) => f.left + step * (seeds.indexOf(seed) + 0.5);
  const groups = labels.map((label, i) => ({
    color: color(i),
    dots: points.filter((p) => p.label === label).map((p) => ({
      x: x(p.seed),
      y: y(p.accuracy),
      title: `${p.label}, seed ${p.seed}: ${percent(p.accuracy)}`,
      order: points.indexOf(p),
    })),
  }));
  // Dots in the order given, so each seed's arms sit together in the markup as on the chart.
  const ordered = groups
    .flatMap((g) => g.dots.map((d) => ({ color: g.color, dots: [d], order: d.order })))
    .sort((a, b) => a.order - b.order);
  const body = yAxis(f, y, "test accuracy (%)", percentTick) +
    xAxis(f, seeds.map((s) => ({ x: x(s), text: String(s) })), "seed") +
    dots(ordered, false, 4);
  return withLegend(labels, svg(f, body));
}
