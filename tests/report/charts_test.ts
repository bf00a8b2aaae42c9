import assert from "node:assert/strict";
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

/** A `<g aria-label>` group of the chart: its attributes and its markup. */
interface Group {
  attrs: string;
  inner: string;
}

/** Undoes the escaping of text and attribute values (`&#60;` → `<`). */
function unescape(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code)));
}

/** The chart's groups with this aria-label, in document order (mark groups do not nest). */
function groups(html: string, label: string): Group[] {
  return [...html.matchAll(new RegExp(`<g aria-label="${label}"([^>]*)>(.*?)</g>`, "gs"))].map((
    m,
  ) => ({ attrs: m[1], inner: m[2] }));
}

/** Every opening tag of an element in the markup. */
function tags(markup: string, name: string): string[] {
  return [...markup.matchAll(new RegExp(`<${name}\\b[^>]*>`, "g"))].map((m) => m[0]);
}

/** An attribute's value in a tag or a group's attributes, or null. */
function attr(tag: string, name: string): string | null {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`));
  return m === null ? null : unescape(m[1]);
}

/** Texts of the `<text>` elements in the markup. */
function texts(markup: string): string[] {
  return [...markup.matchAll(/<text\b[^>]*>(.*?)<\/text>/gs)].map((m) => unescape(m[1]));
}

/** Texts of the `<title>` tooltips, in document order. */
function titles(html: string): string[] {
  return [...html.matchAll(/<title>(.*?)<\/title>/gs)].map((m) => unescape(m[1]));
}

/** The axis labels, y then x. */
function axes(html: string): string[] {
  return [...groups(html, "y-axis label"), ...groups(html, "x-axis label")].flatMap((g) =>
    texts(g.inner)
  );
}

/** The `d` of every line path, in document order. */
function paths(html: string): string[] {
  return groups(html, "line").flatMap((g) => tags(g.inner, "path").map((p) => attr(p, "d")!));
}

/** Points in an SVG path's `d`: one per move or line command. */
function pointsIn(d: string): number {
  return (d.match(/[ML]/g) ?? []).length;
}

/** Tick labels of an axis. */
function tickLabels(html: string, axis: "x" | "y"): string[] {
  return groups(html, `${axis}-axis tick label`).flatMap((g) => texts(g.inner));
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
  assert.equal(html.match(/<svg/g)?.length, 1);
  const lines = groups(html, "line");
  assert.equal(lines.length, 2);
  assert.equal(attr(lines[0].attrs, "stroke-opacity"), "0.3", "the minibatch line is faint");
  assert.equal(attr(lines[1].attrs, "stroke-width"), "2", "the epoch line is bold");
  const [faint, bold] = paths(html);
  assert.equal(pointsIn(faint), 4, "one point per minibatch");
  assert.equal(pointsIn(bold), 2, "one point per epoch");
  assert.equal(tags(html, "circle").length, 2);
  assert.deepEqual(titles(html), [
    "deskew on\nepoch 1: mean cost 2.500",
    "deskew on\nepoch 2: mean cost 1.250",
  ]);
  assert.deepEqual(axes(html), ["↑ cost (log scale)", "epoch →"]);
});

Deno.test("costChart() draws cost on a log scale, so a first-batch spike leaves the later epochs room", () => {
  // 100× the later costs in the first minibatch: on a linear axis the rest would sit in the bottom 1%.
  const costs = [100, ...Array.from({ length: 23 }, (_, i) => 1 - i / 50)];
  const [faint] = paths(costChart([arm("a", 12, costs)]));
  const ys = [...faint.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
  const top = Math.min(...ys), bottom = Math.max(...ys);
  // log10(100 / 0.56) ≈ 2.25 decades; the later costs span log10(1 / 0.56) ≈ 0.25 of them.
  const laterSpan = Math.max(...ys.slice(1)) - Math.min(...ys.slice(1));
  assert.ok(laterSpan / (bottom - top) > 0.1, `later costs use ${laterSpan / (bottom - top)}`);
});

Deno.test("costChart() labels its log axis 0.03, 0.1, 0.3, 1, 3 with gridlines, not in SI prefixes", () => {
  const html = costChart([arm("a", 2, [2.3, 0.8, 0.2, 0.05])]);
  assert.deepEqual(tickLabels(html, "y"), ["0.03", "0.1", "0.3", "1", "3"]);
  const [grid] = groups(html, "y-axis grid");
  assert.equal(tags(grid.inner, "line").length, 5);
  // Equal ratios sit equal distances apart: 0.1 → 1 spans as much as 0.3 → 3.
  const ys = tags(grid.inner, "line").map((l) => Number(attr(l, "y1")));
  assert.ok(ys[0] > ys[4], "small costs at the bottom");
  assert.ok(Math.abs((ys[1] - ys[3]) - (ys[2] - ys[4])) < 0.05, ys.join(" "));
});

Deno.test("costChart() labels only the powers of ten when the costs span more than three decades", () => {
  const html = costChart([arm("a", 2, [2.3, 0.1, 0.01, 0.0003])]);
  assert.deepEqual(tickLabels(html, "y"), ["0.0001", "0.001", "0.01", "0.1", "1", "10"]);
});

Deno.test("costChart() keeps a cost span under a decade to its extent, with round ticks inside it", () => {
  const html = costChart([arm("a", 3, [1.45, 1.4, 1.35, 1.3])]);
  const ticks = tickLabels(html, "y").map(Number);
  assert.ok(ticks.length >= 2 && ticks.every((t) => t >= 1.3 && t <= 1.45), ticks.join(" "));
});

Deno.test("epochChart() and costChart() tick whole epochs only", () => {
  const three = arm("a", 3, [3, 2, 1.5, 1, 0.9, 0.8]);
  assert.deepEqual(tickLabels(epochChart([three], "loss"), "x"), ["1", "2", "3"]);
  assert.deepEqual(tickLabels(costChart([three]), "x"), ["0", "1", "2", "3"]);
});

Deno.test("costChart() leaves out costs of 0, which a log scale cannot place", () => {
  const [faint] = paths(costChart([arm("a", 2, [2, 0, 1, 0.5])]));
  assert.equal(pointsIn(faint), 3);
});

Deno.test("costChart() puts several arms on one chart with a legend naming each in its colour", () => {
  const html = costChart([arm("deskew on", 2, [3, 2, 1.5, 1]), arm("deskew off", 1, [3, 2.5])]);
  assert.ok(html.startsWith("<figure"), "a legend needs a figure around the chart");
  const swatches = [...html.matchAll(/<span class="chart-swatch".*?<\/span>/g)].map((m) => m[0]);
  assert.deepEqual(swatches.map((s) => s.replace(/<[^>]*>/g, "")), ["deskew on", "deskew off"]);
  const swatchColours = swatches.map((s) => attr(tags(s, "rect")[0], "fill"));
  const [faint] = groups(html, "line");
  const lineColours = tags(faint.inner, "path").map((p) => attr(p, "stroke"));
  assert.deepEqual(lineColours, swatchColours);
  assert.notEqual(swatchColours[0], swatchColours[1]);
  assert.equal(paths(html).length, 4);
  assert.ok(titles(html).includes("deskew off\nepoch 1: mean cost 2.750"));
});

Deno.test("costChart() keeps every k-th minibatch beyond MAX_COST_POINTS, and all the epoch means", () => {
  const costs = Array.from({ length: 10000 }, (_, i) => 2 - i / 10000);
  const [faint, bold] = paths(costChart([arm("a", 2, costs)]));
  // Every ⌈10000 / 3000⌉ = 4th point.
  assert.equal(pointsIn(faint), 2500);
  assert.ok(pointsIn(faint) <= MAX_COST_POINTS);
  assert.equal(pointsIn(bold), 2);
});

Deno.test("costChart() leaves out an arm with no epochs or no costs", () => {
  const html = costChart([arm("a", 0, [1, 2]), arm("b", 2, [])]);
  assert.equal(paths(html).length, 0);
  assert.equal(tags(html, "circle").length, 0);
  assert.ok(tickLabels(html, "y").length > 0, "the axes are still drawn");
});

Deno.test("epochChart() draws training solid and validation dashed, with the metric in the tooltips", () => {
  const html = epochChart([arm("a", 3, [])], "loss");
  const lines = groups(html, "line");
  assert.equal(lines.length, 2);
  assert.equal(attr(lines[0].attrs, "stroke-dasharray"), null);
  assert.equal(attr(lines[1].attrs, "stroke-dasharray"), "5,4");
  assert.deepEqual(paths(html).map(pointsIn), [3, 3]);
  assert.equal(tags(html, "circle").length, 6);
  const hollow = groups(html, "dot").filter((g) => attr(g.attrs, "fill") === "white");
  assert.equal(tags(hollow[0].inner, "circle").length, 3, "validation dots are hollow");
  assert.deepEqual(titles(html), [
    "a\nepoch 1: train loss 1.000",
    "a\nepoch 2: train loss 0.5000",
    "a\nepoch 3: train loss 0.3333",
    "a\nepoch 1: validation loss 2.000",
    "a\nepoch 2: validation loss 1.000",
    "a\nepoch 3: validation loss 0.6667",
  ]);
  assert.deepEqual(axes(html), ["↑ loss per row", "epoch →"]);
});

Deno.test("epochChart() of accuracy labels its axis in percent", () => {
  const html = epochChart([arm("a", 2, [])], "accuracy");
  assert.deepEqual(axes(html), ["↑ accuracy (%)", "epoch →"]);
  const ticks = tickLabels(html, "y").map(Number);
  assert.ok(ticks.length > 2 && ticks.every((t) => t >= 40 && t <= 70), ticks.join(" "));
});

Deno.test("epochChart() draws one solid and one dashed line per arm, with a legend", () => {
  const html = epochChart([arm("a", 2, []), arm("b", 3, [])], "loss");
  assert.ok(html.startsWith("<figure"));
  const [solid, dashed] = groups(html, "line");
  assert.equal(tags(solid.inner, "path").length, 2);
  assert.equal(tags(dashed.inner, "path").length, 2);
  assert.deepEqual(paths(html).map(pointsIn), [2, 3, 2, 3]);
});

Deno.test("epochChart() without validation draws no dashed line", () => {
  const html = epochChart([arm("a", 2, [], false)], "loss");
  assert.ok(!html.includes("stroke-dasharray"));
  assert.equal(tags(html, "circle").length, 2);
});

Deno.test("confusionChart() writes every count in its cell, white on the dark ones", () => {
  const matrix = [[50, 1, 0], [2, 40, 3], [0, 0, 45]];
  const html = confusionChart(matrix);
  const [cells] = groups(html, "cell");
  assert.equal(tags(cells.inner, "rect").length, 9);
  const [text] = groups(html, "text");
  assert.deepEqual(texts(text.inner), ["50", "1", "0", "2", "40", "3", "0", "0", "45"]);
  assert.deepEqual(
    tags(text.inner, "text").map((t) => attr(t, "fill")),
    ["white", "black", "black", "black", "white", "black", "black", "black", "white"],
  );
  assert.equal(titles(html)[5], "true 1, predicted 2: 3");
  assert.deepEqual(axes(html), ["true", "predicted"]);
  assert.deepEqual(tickLabels(html, "x"), ["0", "1", "2"]);
});

Deno.test("confusionChart() shades larger counts darker, with a colour scale from 0 to the largest", () => {
  const html = confusionChart([[50, 1], [0, 20]]);
  const fills = tags(groups(html, "cell")[0].inner, "rect").map((r) => attr(r, "fill")!);
  const lightness = (hex: string) =>
    [1, 3, 5].reduce((sum, i) => sum + parseInt(hex.slice(i, i + 2), 16), 0);
  assert.ok(lightness(fills[0]) < lightness(fills[3]), "50 darker than 20");
  assert.ok(lightness(fills[3]) < lightness(fills[1]), "20 darker than 1");
  assert.ok(lightness(fills[1]) < lightness(fills[2]), "1 darker than 0");
  const [legend] = groups(html, "color legend");
  assert.deepEqual(texts(legend.inner), ["0", "50", "count"]);
});

Deno.test("confusionChart() of an all-zero matrix still draws every cell", () => {
  const html = confusionChart([[0, 0], [0, 0]]);
  assert.equal(tags(groups(html, "cell")[0].inner, "rect").length, 4);
  assert.deepEqual(texts(groups(html, "text")[0].inner), ["0", "0", "0", "0"]);
});

Deno.test("classErrorChart() draws one bar per arm and class with images, titled with its error", () => {
  const html = classErrorChart([
    { label: "on", accuracy: [0.9, null, 0.75] },
    { label: "off", accuracy: [1, null, 0.5] },
  ]);
  const bars = tags(groups(html, "bar")[0].inner, "rect");
  assert.equal(bars.length, 4);
  assert.deepEqual(titles(html), [
    "on\nclass 0: 10.00% wrong",
    "off\nclass 0: 0.00% wrong",
    "on\nclass 2: 25.00% wrong",
    "off\nclass 2: 50.00% wrong",
  ]);
  assert.deepEqual(tickLabels(html, "x"), ["0", "2"], "a class without images gets no slot");
  // Twice the error, twice the height.
  assert.ok(Math.abs(Number(attr(bars[3], "height")) - 2 * Number(attr(bars[2], "height"))) < 0.05);
  assert.equal(Number(attr(bars[1], "height")), 0);
  assert.deepEqual(axes(html), ["↑ test error (%)", "class"]);
});

Deno.test("seedChart() puts one dot per arm and seed, titled with its accuracy", () => {
  const html = seedChart([
    { seed: 1, label: "on", accuracy: 0.975 },
    { seed: 1, label: "off", accuracy: 0.95 },
    { seed: 2, label: "on", accuracy: 0.9 },
    { seed: 2, label: "off", accuracy: 0.925 },
  ]);
  assert.equal(tags(html, "circle").length, 4);
  assert.deepEqual(titles(html), [
    "on, seed 1: 97.50%",
    "off, seed 1: 95.00%",
    "on, seed 2: 90.00%",
    "off, seed 2: 92.50%",
  ]);
  assert.deepEqual(tickLabels(html, "x"), ["1", "2"]);
  // 160 + 60 per seed wide, so two seeds do not spread across the page.
  assert.equal(attr(tags(html, "svg").at(-1)!, "width"), "280");
});

Deno.test("charts escape arm names in legends and tooltips", () => {
  const name = `<b>"a" & 'b'</b>`;
  const charts = [
    costChart([arm(name, 1, [1, 2]), arm("x", 1, [1])]),
    epochChart([arm(name, 1, []), arm("x", 1, [])], "loss"),
    classErrorChart([{ label: name, accuracy: [0.5] }, { label: "x", accuracy: [0.5] }]),
    seedChart([{ seed: 1, label: name, accuracy: 0.5 }, { seed: 1, label: "x", accuracy: 0.5 }]),
  ];
  for (const html of charts) {
    assert.ok(!html.includes("<b>"), html);
    assert.ok(html.includes("&#60;b&#62;&#34;a&#34; &#38; &#39;b&#39;&#60;/b&#62;"));
    assert.ok(titles(html).some((t) => t.startsWith(name)));
  }
});

Deno.test("charts are self-contained SVG: no script, no external reference", () => {
  const html = costChart([arm("a", 2, [3, 2, 1.5, 1]), arm("b", 2, [3, 2, 1.5, 1])]) +
    confusionChart([[1, 2], [3, 4]]);
  assert.ok(!/<script|href=|url\(|@import/i.test(html));
});
