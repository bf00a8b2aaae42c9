import assert from "node:assert/strict";
import { mcnemarExact } from "../../app/mcnemar.ts";
import { renderCompareReport } from "../../report/compare.ts";
import type {
  ArmResult,
  Comparison,
  ComparisonRun,
  RunMetricsView,
  SeedRow,
} from "../../report/views.ts";

const OUT = "/work/cmp";

/** One seed of a comparison: each arm's test accuracy and the discordant counts. */
interface SeedSpec {
  seed: number;
  first: number;
  second: number;
  b: number;
  c: number;
}

const LABELS = ["deskew on", "deskew off"];

function metricsOf(accuracy: number): RunMetricsView {
  return {
    testAccuracy: accuracy,
    trainAccuracy: accuracy,
    confusionMatrix: [[9, 1, 0], [0, 0, 0], [2, 0, 28]],
    precision: [9 / 11, null, 28 / 28],
    recall: [0.9, null, 28 / 30],
    misclassified: [],
    testCount: 40,
    history: [1, 2].map((epoch) => ({
      epoch,
      trainLoss: 1 / epoch,
      trainAccuracy: accuracy - 0.1 / epoch,
      eta: 0.01,
      seconds: 0.5,
    })),
    costs: [1.2, 1, 0.8, 0.6],
    bestEpoch: 2,
    stages: [],
  };
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const sd = (values: number[]) =>
  values.length < 2
    ? null
    : Math.sqrt(values.reduce((a, v) => a + (v - mean(values)) ** 2, 0) / (values.length - 1));

/** A comparison run over the given seeds, its run folders under `OUT` unless `elsewhere`. */
function comparisonRun(seeds: SeedSpec[], elsewhere?: string): ComparisonRun {
  const rows: SeedRow[] = seeds.map((s) => ({
    seed: s.seed,
    arms: [s.first, s.second].map((testAccuracy, i): ArmResult => ({
      label: LABELS[i],
      value: ["on", "off"][i],
      testAccuracy,
      perClassAccuracy: [0.9, null, testAccuracy],
      trainSeconds: 1.25 + i,
      trainCached: false,
      runDir: i === 1 && elsewhere
        ? `${elsewhere}/seed-${s.seed}`
        : `${OUT}/seed-${s.seed}/deskew-${["on", "off"][i]}`,
    })),
    differencePoints: 100 * (s.first - s.second),
    mcnemar: { b: s.b, c: s.c, pValue: mcnemarExact(s.b, s.c) },
  }));
  const arms = [0, 1].map((i) => {
    const accuracies = rows.map((r) => r.arms[i].testAccuracy);
    return {
      label: LABELS[i],
      value: rows[0].arms[i].value,
      testAccuracy: mean(accuracies),
      testAccuracySpread: { mean: mean(accuracies), sd: sd(accuracies) },
      perClassAccuracy: [0.9, null, mean(accuracies)],
      trainSeconds: 1.25 + i,
      runDir: rows[0].arms[i].runDir,
      runDirs: rows.map((r) => r.arms[i].runDir),
    };
  });
  const differences = rows.map((r) => r.differencePoints);
  const comparison: Comparison = {
    vary: { flag: "deskew", values: ["on", "off"] },
    seeds: seeds.map((s) => s.seed),
    flags: {},
    arms,
    differencePoints: { mean: mean(differences), sd: sd(differences) },
    mcnemar: { ...rows[0].mcnemar, seed: rows[0].seed },
    ...(rows.length > 1 ? { seedRows: rows } : {}),
  };
  return {
    comparison,
    rows,
    metrics: seeds.map((s) => [metricsOf(s.first), metricsOf(s.second)]),
  };
}

/** The text of each headline card, value then key. */
function cards(html: string): [string, string][] {
  return [
    ...html.matchAll(
      /<div class="card"><div class="v">([^<]*)<\/div><div class="k">([^<]*)<\/div><\/div>/g,
    ),
  ]
    .map((m) => [m[1], m[2]]);
}

/** The cells of each body row of the table whose header starts with `first`. */
function tableRows(html: string, first: string): string[][] {
  const table = html.split("<table>").find((t) => t.startsWith(`<thead><tr><th>${first}</th>`));
  assert.ok(table, `no table headed "${first}"`);
  const body = table.slice(table.indexOf("<tbody>"), table.indexOf("</tbody>"));
  return [...body.matchAll(/<tr>(.*?)<\/tr>/g)].map((row) =>
    [...row[1].matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((cell) => cell[1])
  );
}

const ONE_SEED: SeedSpec[] = [{ seed: 1, first: 0.975, second: 0.85, b: 5, c: 0 }];
const TWO_SEEDS: SeedSpec[] = [
  { seed: 1, first: 0.975, second: 0.85, b: 5, c: 0 },
  { seed: 2, first: 0.9, second: 0.925, b: 1, c: 2 },
];

Deno.test("renderCompareReport() heads the page with both arms and one card per headline figure", () => {
  const html = renderCompareReport(comparisonRun(ONE_SEED), OUT);
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.match(html, /<title>deskew on vs deskew off<\/title>/);
  assert.match(html, /<h1>deskew on vs deskew off<\/h1>/);
  assert.match(html, /<p class="sub">seed 1; every other flag the same in both arms;/);
  assert.deepEqual(cards(html), [
    ["97.50%", "deskew on test accuracy"],
    ["85.00%", "deskew off test accuracy"],
    ["+12.50 points", "difference (on − off)"],
    ["5 / 0", "only deskew on / only deskew off right"],
    ["0.0625", "McNemar exact p (two-sided)"],
  ]);
});

Deno.test("renderCompareReport() tables accuracy, error and each class, with – for a class without images", () => {
  const html = renderCompareReport(comparisonRun(ONE_SEED), OUT);
  assert.deepEqual(tableRows(html, ""), [
    ["test accuracy", "97.50%", "85.00%"],
    ["test error", "2.50%", "15.00%"],
    ["class 0", "90.00%", "90.00%"],
    ["class 1", "–", "–"],
    ["class 2", "97.50%", "85.00%"],
    ["train seconds", "1.3", "2.3"],
  ]);
});

Deno.test("renderCompareReport() links each seed's run reports relative to the comparison folder", () => {
  const html = renderCompareReport(comparisonRun(ONE_SEED, "/elsewhere/runs"), OUT);
  const [row] = tableRows(html, "seed");
  assert.deepEqual(row.slice(0, 7), ["1", "97.50%", "85.00%", "+12.50 points", "5", "0", "0.0625"]);
  assert.equal(
    row[7],
    '<a href="seed-1/deskew-on/report.html">deskew on</a> · ' +
      '<a href="/elsewhere/runs/seed-1/report.html">deskew off</a>',
  );
});

Deno.test("renderCompareReport() draws training curves, per-class error and both confusion matrices", () => {
  const html = renderCompareReport(comparisonRun(ONE_SEED), OUT);
  assert.equal((html.match(/<svg class="chart"/g) ?? []).length, 6);
  for (
    const title of [
      "cost per minibatch (faint) and per-epoch average",
      "loss per epoch (solid: training, dashed: validation)",
      "accuracy per epoch (solid: training, dashed: validation)",
      "test error per class",
      "deskew on: confusion matrix (rows: true class)",
      "deskew off: confusion matrix (rows: true class)",
    ]
  ) {
    assert.ok(html.includes(`<h3>${title}</h3>`), title);
  }
  assert.doesNotMatch(html, /test accuracy per seed/);
  assert.match(html, /<h2>Training<\/h2>/);
});

Deno.test("renderCompareReport() over seeds shows mean ± sd, a row and a dot per seed", () => {
  const html = renderCompareReport(comparisonRun(TWO_SEEDS), OUT);
  assert.match(html, /<p class="sub">seeds 1, 2; /);
  assert.deepEqual(cards(html).slice(0, 3), [
    ["93.75% ± 5.30", "deskew on test accuracy"],
    ["88.75% ± 5.30", "deskew off test accuracy"],
    ["+5.00 points", "difference (on − off)"],
  ]);
  // McNemar's headline is the first seed's.
  assert.deepEqual(cards(html).slice(3), [
    ["5 / 0", "only deskew on / only deskew off right"],
    ["0.0625", "McNemar exact p (two-sided)"],
  ]);
  const seeds = tableRows(html, "seed").map((row) => row.slice(0, 7));
  assert.deepEqual(seeds, [
    ["1", "97.50%", "85.00%", "+12.50 points", "5", "0", "0.0625"],
    ["2", "90.00%", "92.50%", "−2.50 points", "1", "2", "1.0000"],
  ]);
  assert.match(html, /<h2>Training \(seed 1\)<\/h2>/);
  assert.ok(html.includes("<h3>test accuracy per seed</h3>"));
  assert.equal((html.match(/<svg class="chart"/g) ?? []).length, 7);
});

Deno.test("renderCompareReport() shows a tiny p-value in e-notation", () => {
  const run = comparisonRun([{ seed: 3, first: 0.9, second: 0.4, b: 20, c: 0 }]);
  const html = renderCompareReport(run, OUT);
  assert.deepEqual(cards(html).at(-1), ["1.91e-6", "McNemar exact p (two-sided)"]);
});

Deno.test("renderCompareReport() escapes labels and folders it prints", () => {
  const run = comparisonRun(ONE_SEED);
  for (const arm of [...run.comparison.arms, ...run.rows[0].arms]) {
    arm.label = arm.label.replace("on", `<on & "x">`);
  }
  run.rows[0].arms[0].runDir = `${OUT}/seed-1/a"b`;
  const html = renderCompareReport(run, OUT);
  assert.ok(!html.includes(`<on & "x">`));
  assert.match(html, /<h1>deskew &#60;on &#38; &#34;x&#34;&#62; vs deskew off<\/h1>/);
  assert.ok(html.includes('<a href="seed-1/a&#34;b/report.html">deskew &#60;on'));
});
