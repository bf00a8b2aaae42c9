import assert from "node:assert/strict";
import { parseHTML } from "linkedom";
import {
  classErrorChart,
  confusionChart,
  costChart,
  epochChart,
  MAX_COST_POINTS,
  seedChart,
  type TrainingSeries,
} from "../../report/charts.ts";
import type { EpochView } from "../../report/views.ts";

/** The little of a DOM element the tests read (Deno loads no DOM types). */
interface Element {
  /** The element's text. */
  textContent: string | null;
  /** An attribute's value, or null. */
  getAttribute(name: string): string | null;
}

interface Chart {
  /** Elements matching a selector. */
  all(selector: string): Element[];
  /** Texts of the `<title>` tooltips, in document order. */
  titles: string[];
  /** Texts of the axis labels. */
  axes: string[];
}

/** Parses a chart's HTML so tests can look at its marks. */
function parse(html: string): Chart {
  const { document } = parseHTML(`<!DOCTYPE html><html><body>${html}</body></html>`) as unknown as {
    document: { querySelectorAll(selector: string): Iterable<Element> };
  };
  const all = (selector: string) => [...document.querySelectorAll(selector)];
  return {
    all,
    titles: all("title").map((t) => t.textContent ?? ""),
    axes: all('[aria-label$="axis label"] text').map((t) => t.textContent ?? ""),
  };
}

/** Points in an SVG path's `d`: one per move or line command. */
function pointsIn(path: Element): number {
  return (path.getAttribute("d")?.match(/[ML]/g) ?? []).length;
}

function epoch(n: number, validation = true): EpochView {
  return {
    epoch: n,
    trainLoss: 1 / n,
    trainAccuracy: 0.5 + n / 10,
    eta: 0.1,
    seconds: 1,
    ...(validation ? { validationLoss: 2 / n, validationAccuracy: 0.4 + n / 20 } : {}),
  };
}

const arm = (
  label: string,
  epochs: number,
  costs: number[],
  validation = true,
): TrainingSeries => ({
  label,
  history: Array.from({ length: epochs }, (_, i) => epoch(i + 1, validation)),
  costs,
});

Deno.test("costChart() draws every minibatch faintly and each epoch's mean cost with a dot", () => {
  const html = costChart([arm("deskew on", 2, [3, 2, 1.5, 1])]);
  assert.ok(html.startsWith("<svg"), "one arm needs no legend around the chart");
  const chart = parse(html);
  const lines = chart.all('g[aria-label="line"] path');
  assert.equal(lines.length, 2);
  const groups = chart.all('g[aria-label="line"]');
  assert.equal(groups[0].getAttribute("stroke-opacity"), "0.3", "the minibatch line is faint");
  assert.equal(groups[1].getAttribute("stroke-width"), "2", "the epoch line is bold");
  assert.equal(pointsIn(lines[0]), 4, "one point per minibatch");
  assert.equal(pointsIn(lines[1]), 2, "one point per epoch");
  assert.equal(chart.all('g[aria-label="dot"] circle').length, 2);
  assert.deepEqual(chart.titles, [
    "deskew on\nepoch 1: mean cost 2.500",
    "deskew on\nepoch 2: mean cost 1.250",
  ]);
  assert.deepEqual(chart.axes, ["↑ cost (log scale)", "epoch →"]);
});

Deno.test("costChart() draws cost on a log scale, so a first-batch spike leaves the later epochs room", () => {
  // 100× the later costs in the first minibatch: on a linear axis the rest would sit in the bottom 1%.
  const costs = [100, ...Array.from({ length: 23 }, (_, i) => 1 - i / 50)];
  const chart = parse(costChart([arm("a", 12, costs)]));
  const [faint] = chart.all('g[aria-label="line"] path');
  const ys = [...faint.getAttribute("d")!.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) =>
    Number(m[1])
  );
  const top = Math.min(...ys), bottom = Math.max(...ys);
  // log10(100 / 0.56) ≈ 2.25 decades; the later costs span log10(1 / 0.56) ≈ 0.25 of them.
  const laterSpan = Math.max(...ys.slice(1)) - Math.min(...ys.slice(1));
  assert.ok(laterSpan / (bottom - top) > 0.1, `later costs use ${laterSpan / (bottom - top)}`);
});

Deno.test("costChart() leaves out costs of 0, which a log scale cannot place", () => {
  const chart = parse(costChart([arm("a", 2, [2, 0, 1, 0.5])]));
  const [faint] = chart.all('g[aria-label="line"] path');
  assert.equal(pointsIn(faint), 3);
});

Deno.test("costChart() puts several arms on one chart with a legend naming each", () => {
  const html = costChart([arm("deskew on", 2, [3, 2, 1.5, 1]), arm("deskew off", 1, [3, 2.5])]);
  assert.ok(html.startsWith("<figure"), "a legend needs a figure around the chart");
  const chart = parse(html);
  assert.deepEqual(
    chart.all('[class$="-swatch"]').map((s) => s.textContent),
    ["deskew on", "deskew off"],
  );
  assert.equal(chart.all('g[aria-label="line"] path').length, 4);
  assert.ok(chart.titles.includes("deskew off\nepoch 1: mean cost 2.750"));
});

Deno.test("costChart() keeps every k-th minibatch beyond MAX_COST_POINTS, and all the epoch means", () => {
  const costs = Array.from({ length: 10000 }, (_, i) => 2 - i / 10000);
  const chart = parse(costChart([arm("a", 2, costs)]));
  const [faint, bold] = chart.all('g[aria-label="line"] path');
  // Every ⌈10000 / 3000⌉ = 4th point.
  assert.equal(pointsIn(faint), 2500);
  assert.ok(pointsIn(faint) <= MAX_COST_POINTS);
  assert.equal(pointsIn(bold), 2);
});

Deno.test("costChart() leaves out an arm with no epochs or no costs", () => {
  const chart = parse(costChart([arm("a", 0, [1, 2]), arm("b", 2, [])]));
  assert.equal(chart.all('g[aria-label="line"] path').length, 0);
  assert.equal(chart.all("circle").length, 0);
});

Deno.test("epochChart() draws training solid and validation dashed, with the metric in the tooltips", () => {
  const chart = parse(epochChart([arm("a", 3, [])], "loss"));
  const lines = chart.all('g[aria-label="line"]');
  assert.equal(lines.length, 2);
  assert.equal(lines[0].getAttribute("stroke-dasharray"), null);
  assert.equal(lines[1].getAttribute("stroke-dasharray"), "5,4");
  assert.equal(chart.all('g[aria-label="line"] path').length, 2);
  assert.equal(chart.all("circle").length, 6);
  assert.equal(chart.all('g[fill="white"] circle').length, 3, "validation dots are hollow");
  assert.deepEqual(chart.titles, [
    "a\nepoch 1: train loss 1.000",
    "a\nepoch 2: train loss 0.5000",
    "a\nepoch 3: train loss 0.3333",
  ]);
  assert.deepEqual(chart.axes, ["↑ loss per row", "epoch →"]);
});

Deno.test("epochChart() of accuracy labels its axis in percent", () => {
  const chart = parse(epochChart([arm("a", 2, [])], "accuracy"));
  assert.deepEqual(chart.axes, ["↑ accuracy (%)", "epoch →"]);
  const ticks = chart.all('[aria-label="y-axis tick label"] text').map((t) =>
    Number(t.textContent)
  );
  assert.ok(ticks.length > 0 && ticks.every((t) => t >= 40 && t <= 70), ticks.join(" "));
});

Deno.test("epochChart() without validation draws no dashed line", () => {
  const chart = parse(epochChart([arm("a", 2, [], false)], "loss"));
  assert.equal(chart.all("path[stroke-dasharray]").length, 0);
  assert.equal(chart.all("circle").length, 2);
});

Deno.test("confusionChart() writes every count in its cell, white on the dark ones", () => {
  const matrix = [[50, 1, 0], [2, 40, 3], [0, 0, 45]];
  const chart = parse(confusionChart(matrix));
  assert.equal(chart.all('g[aria-label="cell"] rect').length, 9);
  const texts = chart.all('g[aria-label="text"] text');
  assert.deepEqual(texts.map((t) => t.textContent), [
    "50",
    "1",
    "0",
    "2",
    "40",
    "3",
    "0",
    "0",
    "45",
  ]);
  assert.deepEqual(
    texts.map((t) => t.getAttribute("fill")),
    ["white", "black", "black", "black", "white", "black", "black", "black", "white"],
  );
  assert.deepEqual(chart.axes, ["true", "predicted"]);
});

Deno.test("confusionChart() of an all-zero matrix still draws every cell", () => {
  const chart = parse(confusionChart([[0, 0], [0, 0]]));
  assert.equal(chart.all('g[aria-label="cell"] rect').length, 4);
  assert.deepEqual(chart.all('g[aria-label="text"] text').map((t) => t.textContent), [
    "0",
    "0",
    "0",
    "0",
  ]);
});

Deno.test("classErrorChart() draws one bar per arm and class with images, titled with its error", () => {
  const chart = parse(classErrorChart([
    { label: "on", accuracy: [0.9, null, 0.75] },
    { label: "off", accuracy: [1, null, 0.5] },
  ]));
  assert.equal(chart.all('g[aria-label="bar"] rect').length, 4);
  assert.deepEqual(chart.titles, [
    "on\nclass 0: 10.00% wrong",
    "off\nclass 0: 0.00% wrong",
    "on\nclass 2: 25.00% wrong",
    "off\nclass 2: 50.00% wrong",
  ]);
  assert.ok(chart.axes.includes("↑ test error (%)"), chart.axes.join(", "));
});

Deno.test("seedChart() puts one dot per arm and seed, titled with its accuracy", () => {
  const html = seedChart([
    { seed: 1, label: "on", accuracy: 0.975 },
    { seed: 1, label: "off", accuracy: 0.95 },
    { seed: 2, label: "on", accuracy: 0.9 },
    { seed: 2, label: "off", accuracy: 0.925 },
  ]);
  const chart = parse(html);
  assert.equal(chart.all("circle").length, 4);
  assert.deepEqual(chart.titles, [
    "on, seed 1: 97.50%",
    "off, seed 1: 95.00%",
    "on, seed 2: 90.00%",
    "off, seed 2: 92.50%",
  ]);
  assert.deepEqual(
    chart.all('[aria-label="x-axis tick label"] text').map((t) => t.textContent),
    ["1", "2"],
  );
  // 160 + 60 per seed wide, so two seeds do not spread across the page.
  assert.equal(chart.all("svg").at(-1)?.getAttribute("width"), "280");
});
