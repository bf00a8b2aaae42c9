/**
 * The comparison report: both arms side by side on the same axes (training
 * curves, per-class error, confusion matrices), the accuracy table, McNemar's
 * test, per-seed rows, and links to each arm's own run report.
 *
 * @module
 */
import type { ComparisonRun } from "./views.ts";
import {
  classErrorChart,
  confusionChart,
  costChart,
  epochChart,
  seedChart,
  type TrainingSeries,
} from "./charts.ts";
import { percent, percentSpread, points, pValue } from "./format.ts";
import { card, escapeHtml, page, panel, table } from "./html.ts";

/** Renders the comparison page; `outDir` turns run folders into relative links. */
export function renderCompareReport(run: ComparisonRun, outDir: string): string {
  const { comparison: c, rows, metrics } = run;
  const [a, b] = c.arms;
  const relative = (dir: string) =>
    dir.startsWith(`${outDir}/`) ? dir.slice(outDir.length + 1) : dir;
  const first = metrics[0];
  const series: TrainingSeries[] = c.arms.map((arm, i) => ({
    label: arm.label,
    history: first[i].history,
    costs: first[i].costs,
  }));
  const several = rows.length > 1;
  const headline = [
    card(percentSpread(a.testAccuracySpread), `${a.label} test accuracy`),
    card(percentSpread(b.testAccuracySpread), `${b.label} test accuracy`),
    card(points(c.differencePoints.mean), `difference (${a.value} − ${b.value})`),
    card(`${c.mcnemar.b} / ${c.mcnemar.c}`, `only ${a.label} / only ${b.label} right`),
    card(pValue(c.mcnemar.pValue), "McNemar exact p (two-sided)"),
  ].join("");
  const summary = table(["", a.label, b.label], [
    ["test accuracy", percent(a.testAccuracy), percent(b.testAccuracy)],
    ["test error", percent(1 - a.testAccuracy), percent(1 - b.testAccuracy)],
    ...a.perClassAccuracy.map((v, k) => [
      `class ${k}`,
      percent(v),
      percent(b.perClassAccuracy[k]),
    ]),
    ["train seconds", a.trainSeconds.toFixed(1), b.trainSeconds.toFixed(1)],
  ]);
  const seedTable = table(
    ["seed", a.label, b.label, "difference", "b", "c", "p", "run reports"],
    rows.map((r) => [
      String(r.seed),
      percent(r.arms[0].testAccuracy),
      percent(r.arms[1].testAccuracy),
      points(r.differencePoints),
      String(r.mcnemar.b),
      String(r.mcnemar.c),
      pValue(r.mcnemar.pValue),
      {
        html: r.arms.map((arm) =>
          `<a href="${escapeHtml(relative(arm.runDir))}/report.html">${escapeHtml(arm.label)}</a>`
        ).join(" · "),
      },
    ]),
  );
  const body = `
<h1>${escapeHtml(`${a.label} vs ${b.label}`)}</h1>
<p class="sub">${
    escapeHtml(
      `${several ? `seeds ${c.seeds.join(", ")}` : `seed ${c.seeds[0]}`}; every other flag the ` +
        `same in both arms; shared stages ran once through one cache`,
    )
  }</p>
<div class="cards">${headline}</div>
<h2>Training${several ? ` (seed ${rows[0].seed})` : ""}</h2>
<div class="grid">
${panel("cost per minibatch (faint) and per-epoch average", costChart(series))}
${panel("loss per epoch (solid: training, dashed: validation)", epochChart(series, "loss"))}
${
    panel(
      "accuracy per epoch (solid: training, dashed: validation)",
      epochChart(series, "accuracy"),
    )
  }
</div>
<h2>Test set</h2>
<div class="grid">
${panel("accuracy", summary)}
${
    panel(
      "test error per class",
      classErrorChart(c.arms.map((arm) => ({ label: arm.label, accuracy: arm.perClassAccuracy }))),
    )
  }
${
    several
      ? panel(
        "test accuracy per seed",
        seedChart(
          rows.flatMap((r) =>
            r.arms.map((arm) => ({ seed: r.seed, label: arm.label, accuracy: arm.testAccuracy }))
          ),
        ),
      )
      : ""
  }
</div>
<div class="grid" style="margin-top: 18px">
${
    c.arms.map((arm, i) =>
      panel(
        `${arm.label}: confusion matrix (rows: true class)`,
        confusionChart(first[i].confusionMatrix),
      )
    ).join("\n")
  }
</div>
<h2>Seeds and runs</h2>
<div class="grid">
${panel("per seed (b: only the first arm right, c: only the second; McNemar exact p)", seedTable)}
</div>
`;
  return page(`${a.label} vs ${b.label}`, body);
}
