/**
 * Small SVG building blocks for the report's charts: scales (linear, log,
 * band), tick choice, number formatting for tick labels, paths from points,
 * axes and a colour legend. Strings in, strings out; no DOM and no package.
 *
 * @module
 */

/**
 * Escapes text for SVG (XML) content and attribute values.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeXml } from "./svg.ts";
 * assert.equal(escapeXml(`a<b & "c"`), "a&#60;b &#38; &#34;c&#34;");
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A map from data values to pixels, with the ticks that label it. */
export interface Scale {
  /** The pixel position of a value. */
  (value: number): number;
  /** Values worth a tick and a gridline, in increasing order. */
  ticks: number[];
}

/** Rounds away floating point noise (0.30000000000000004 → 0.3). */
function clean(value: number): number {
  return Number(value.toPrecision(12));
}

/** The step between about `count` round ticks over [start, stop]: 1, 2 or 5 times a power of ten. */
function tickStep(start: number, stop: number, count: number): number {
  const raw = Math.abs(stop - start) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const error = raw / power;
  const factor = error >= Math.sqrt(50)
    ? 10
    : error >= Math.sqrt(10)
    ? 5
    : error >= Math.sqrt(2)
    ? 2
    : 1;
  return factor * power;
}

/**
 * Round ticks over [start, stop], about `count` of them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearTicks } from "./svg.ts";
 * assert.deepEqual(linearTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
 * ```
 */
export function linearTicks(start: number, stop: number, count: number): number[] {
  if (!(stop > start)) return [start];
  const step = tickStep(start, stop, count);
  const ticks: number[] = [];
  for (let i = Math.ceil(start / step); i * step <= stop + step * 1e-9; i++) {
    ticks.push(clean(i * step));
  }
  return ticks;
}

/** A domain with some width: a single value (or none) is widened so a scale can place it. */
function widen([min, max]: [number, number]): [number, number] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max > min) return [min, max];
  const pad = min === 0 ? 1 : Math.abs(min) / 10;
  return [min - pad, max + pad];
}

/** The smallest and largest value, or [0, 1] for none. */
export function extent(values: number[]): [number, number] {
  return values.length === 0 ? [0, 1] : [Math.min(...values), Math.max(...values)];
}

/**
 * A linear scale from `domain` to the pixel `range`; with `nice` the domain is
 * widened to the ticks around it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linearScale } from "./svg.ts";
 * const x = linearScale([1, 9], [0, 100], { nice: true, count: 5 });
 * assert.equal(x(0), 0);
 * assert.equal(x(10), 100);
 * assert.deepEqual(x.ticks, [0, 2, 4, 6, 8, 10]);
 * ```
 */
export function linearScale(
  domain: [number, number],
  range: [number, number],
  { nice = false, count = 5 }: { nice?: boolean; count?: number } = {},
): Scale {
  let [d0, d1] = widen(domain);
  if (nice) {
    const step = tickStep(d0, d1, count);
    [d0, d1] = [clean(Math.floor(d0 / step) * step), clean(Math.ceil(d1 / step) * step)];
  }
  const [r0, r1] = range;
  const scale = ((v: number) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0)) as Scale;
  scale.ticks = linearTicks(d0, d1, count);
  return scale;
}

/** Most decades a log axis labels at 1 and 3; beyond it, at powers of ten only. */
const LOG_13_DECADES = 3;

/**
 * Ticks of a log scale over [min, max] (both above 0): 1 and 3 in each decade
 * (… 0.1, 0.3, 1, 3 …), only the powers of ten over more than three decades, and 1, 2, 5
 * or round linear ticks when the span is too short for two of those.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logTicks } from "./svg.ts";
 * assert.deepEqual(logTicks(0.02, 4), [0.03, 0.1, 0.3, 1, 3]);
 * ```
 */
export function logTicks(min: number, max: number): number[] {
  const decades = Math.log10(max / min);
  const pick = (mantissas: number[]) => {
    const ticks: number[] = [];
    for (let p = Math.floor(Math.log10(min)); p <= Math.ceil(Math.log10(max)); p++) {
      for (const m of mantissas) {
        const v = clean(m * 10 ** p);
        if (v >= min * (1 - 1e-9) && v <= max * (1 + 1e-9)) ticks.push(v);
      }
    }
    return ticks;
  };
  if (decades > LOG_13_DECADES) return pick([1]);
  for (const mantissas of [[1, 3], [1, 2, 5]]) {
    const ticks = pick(mantissas);
    if (ticks.length >= 3) return ticks;
  }
  return linearTicks(min, max, 4).filter((t) => t > 0);
}

/** The 1-3 step just below (or at) a value above 0: … 0.3, 1, 3, 10 … */
function logFloor(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  return clean((value / power >= 3 ? 3 : 1) * power);
}

/** The 1-3 step just above (or at) a value above 0. */
function logCeil(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  const m = clean(value / power);
  return clean((m <= 1 ? 1 : m <= 3 ? 3 : 10) * power);
}

/**
 * A log (base 10) scale from `domain` (both above 0) to the pixel `range`;
 * with `nice` a domain of a decade or more widens to the 1-3 steps around it
 * (0.05..2.3 → 0.03..3).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { logScale } from "./svg.ts";
 * const y = logScale([0.1, 10], [100, 0]);
 * assert.equal(y(1), 50);
 * assert.deepEqual(logScale([0.05, 2.3], [100, 0], { nice: true }).ticks, [0.03, 0.1, 0.3, 1, 3]);
 * assert.deepEqual(logScale([0.0003, 2.3], [100, 0], { nice: true }).ticks, [0.0001, 0.001, 0.01, 0.1, 1, 10]);
 * ```
 */
export function logScale(
  domain: [number, number],
  range: [number, number],
  { nice = false }: { nice?: boolean } = {},
): Scale {
  let [d0, d1] = domain;
  if (!(d0 > 0) || !Number.isFinite(d1)) [d0, d1] = [0.1, 1];
  // Less than a decade keeps its extent: widened to 1-3 steps, 1.3..1.45 would fill a sliver of 1..3.
  if (nice && d1 / d0 >= 10) {
    [d0, d1] = [logFloor(d0), logCeil(d1)];
    // Over many decades only powers of ten are labelled, so the ends widen to them.
    if (Math.log10(d1 / d0) > LOG_13_DECADES) {
      d0 = clean(10 ** Math.floor(Math.log10(d0)));
      d1 = clean(10 ** Math.ceil(Math.log10(d1)));
    }
  }
  if (!(d1 > d0)) [d0, d1] = [d0 / 2, d0 * 2];
  const [l0, l1] = [Math.log10(d0), Math.log10(d1)];
  const [r0, r1] = range;
  const scale = ((v: number) => r0 + ((Math.log10(v) - l0) / (l1 - l0)) * (r1 - r0)) as Scale;
  scale.ticks = logTicks(d0, d1);
  return scale;
}

/** Evenly spaced bands for categories, as a bar or heat map cell takes them. */
export interface BandScale {
  /** Start of the i-th band, in pixels. */
  (index: number): number;
  /** Width of every band. */
  bandwidth: number;
}

/**
 * `n` bands over the pixel `range`, with `padding` (a fraction of a step)
 * between them and half of it at both ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bandScale } from "./svg.ts";
 * const x = bandScale(4, [0, 100]);
 * assert.equal(x(1), 25);
 * assert.equal(x.bandwidth, 25);
 * ```
 */
export function bandScale(n: number, [r0, r1]: [number, number], padding = 0): BandScale {
  const step = (r1 - r0) / Math.max(1, n);
  const scale = ((i: number) => r0 + i * step + (step * padding) / 2) as BandScale;
  scale.bandwidth = step * (1 - padding);
  return scale;
}

/**
 * A tick label: as short as the value allows, never an SI prefix (0.3, not 300m).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTick } from "./svg.ts";
 * assert.equal(formatTick(0.30000000000000004), "0.3");
 * assert.equal(formatTick(2000), "2000");
 * assert.equal(formatTick(-1), "−1");
 * ```
 */
export function formatTick(value: number): string {
  return String(clean(value)).replace("-", "−");
}

/** A pixel coordinate with at most two decimals. */
export function px(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/**
 * An SVG path through the points, one `M` then one `L` per further point.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linePath } from "./svg.ts";
 * assert.equal(linePath([[0, 1], [2.5, 3.125]]), "M0,1L2.5,3.13");
 * ```
 */
export function linePath(points: [number, number][]): string {
  return points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${px(x)},${px(y)}`).join("");
}

/** The categorical colours, one per arm in order (Observable's ten). */
export const PALETTE = [
  "#4269d0",
  "#efb118",
  "#ff725c",
  "#6cc5b0",
  "#3ca951",
  "#ff8ab7",
  "#a463f2",
  "#97bbf5",
  "#9c6b4e",
  "#9498a0",
];

/** The colour of the i-th arm; colours repeat after ten arms. */
export function color(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/** The plotting area of a chart: its outer size and the margins around the marks. */
export interface Frame {
  /** Outer width in pixels. */
  width: number;
  /** Outer height in pixels. */
  height: number;
  /** Margin above the marks. */
  top: number;
  /** Margin right of the marks. */
  right: number;
  /** Margin below the marks. */
  bottom: number;
  /** Margin left of the marks (room for the y tick labels). */
  left: number;
}

/** A left y axis: gridlines across the frame, ticks with labels, the label on top with an arrow. */
export function yAxis(
  frame: Frame,
  y: Scale,
  label: string,
  format: (v: number) => string = formatTick,
): string {
  const x0 = frame.left, x1 = frame.width - frame.right;
  const grid = y.ticks.map((t) =>
    `<line x1="${x0}" x2="${x1}" y1="${px(y(t))}" y2="${px(y(t))}"/>`
  );
  const ticks = y.ticks.map((t) =>
    `<line x1="${x0 - 6}" x2="${x0}" y1="${px(y(t))}" y2="${px(y(t))}"/>`
  );
  const labels = y.ticks.map((t) =>
    `<text x="${x0 - 9}" y="${px(y(t))}" dy="0.32em">${escapeXml(format(t))}</text>`
  );
  return `<g aria-label="y-axis grid" stroke="currentColor" stroke-opacity="0.1">${
    grid.join("")
  }</g><g aria-label="y-axis tick" stroke="currentColor">${ticks.join("")}</g>` +
    `<g aria-label="y-axis tick label" text-anchor="end">${labels.join("")}</g>` +
    `<g aria-label="y-axis label" text-anchor="start"><text x="2" y="${frame.top - 10}">↑ ${
      escapeXml(label)
    }</text></g>`;
}

/** A tick on the x axis: where it goes (pixels) and what it says. */
export interface XTick {
  /** Pixel position. */
  x: number;
  /** Label. */
  text: string;
}

/**
 * An x axis along the bottom (or the top), ticks with labels and the label at
 * the right end with an arrow; `centered` puts the label in the middle without one.
 */
export function xAxis(
  frame: Frame,
  ticks: XTick[],
  label: string,
  { top = false, centered = false }: { top?: boolean; centered?: boolean } = {},
): string {
  const y0 = top ? frame.top : frame.height - frame.bottom;
  const dir = top ? -1 : 1;
  const marks = ticks.map((t) =>
    `<line x1="${px(t.x)}" x2="${px(t.x)}" y1="${y0}" y2="${y0 + 6 * dir}"/>`
  );
  const labels = ticks.map((t) =>
    `<text x="${px(t.x)}" y="${y0 + 9 * dir}" dy="${top ? "0" : "0.71em"}">${
      escapeXml(t.text)
    }</text>`
  );
  const x1 = frame.width - frame.right;
  const labelX = centered ? (frame.left + x1) / 2 : x1;
  const labelY = top ? y0 - 24 : y0 + 27;
  const text = centered ? label : `${label} →`;
  return `<g aria-label="x-axis tick" stroke="currentColor">${marks.join("")}</g>` +
    `<g aria-label="x-axis tick label" text-anchor="middle">${labels.join("")}</g>` +
    `<g aria-label="x-axis label" text-anchor="${centered ? "middle" : "end"}"><text x="${
      px(labelX)
    }" y="${labelY}" dy="${top ? "0" : "0.71em"}">${escapeXml(text)}</text></g>`;
}

/** An `<svg>` element of the frame's size holding `body`; text in the page's own sans-serif. */
export function svg(frame: Frame, body: string): string {
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${frame.width}" height="${frame.height}" viewBox="0 0 ${frame.width} ${frame.height}" fill="currentColor" font-family="system-ui, sans-serif" font-size="10" style="background: white; color: #1d1d1f; max-width: 100%; height: auto; overflow: visible">${body}</svg>`;
}

/**
 * A chart with a colour legend above it, naming each arm in its colour; a
 * single arm needs none, and gets the bare chart.
 */
export function withLegend(labels: string[], chart: string): string {
  if (labels.length < 2) return chart;
  const swatches = labels.map((label, i) =>
    `<span class="chart-swatch" style="display: inline-flex; align-items: center; margin-right: 1em"><svg width="15" height="15" aria-hidden="true" style="margin-right: 0.4em"><rect width="15" height="15" fill="${
      color(i)
    }"/></svg>${escapeXml(label)}</span>`
  );
  return `<figure class="chart-figure" style="margin: 0"><div class="chart-legend" style="font: 12px system-ui, sans-serif; min-height: 33px; display: flex; flex-wrap: wrap; align-items: center">${
    swatches.join("")
  }</div>${chart}</figure>`;
}
