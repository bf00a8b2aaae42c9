import assert from "node:assert/strict";
import { describeArms, type IndexRow, renderRunsIndex, rowDetail } from "../../report/runs_page.ts";

const run: IndexRow = {
  kind: "run",
  folder: "2026-01-01T00-00-00Z-abcd1234",
  date: "2026-01-01 00:00:00",
  key: "abcd1234",
  preset: "default",
  flags: "--epochs 3",
  testAccuracy: 0.9812,
  trainSeconds: 12.5,
  report: "2026-01-01T00-00-00Z-abcd1234/report.html",
};
const comparison: IndexRow = {
  kind: "compare",
  folder: "compare-x",
  date: "2026-01-02 00:00:00",
  key: "compare",
  preset: "default",
  flags: "",
  testAccuracy: null,
  trainSeconds: 30,
  arms: [
    { label: "deskew on", testAccuracy: 0.979 },
    { label: "deskew off", testAccuracy: 0.9741 },
  ],
  pValue: 4.2e-6,
  report: null,
};

Deno.test("rowDetail() gives a run's flags and a comparison's arms with its p-value", () => {
  assert.equal(rowDetail(run), "--epochs 3");
  assert.equal(rowDetail({ ...run, flags: "" }), "(the preset)");
  assert.equal(describeArms(comparison), "deskew on 97.90% vs deskew off 97.41%, p 4.20e-6");
  assert.equal(rowDetail(comparison), "deskew on 97.90% vs deskew off 97.41%, p 4.20e-6");
  assert.equal(describeArms(run), "");
});

Deno.test("renderRunsIndex() links each report, escapes names and lists what it skipped", () => {
  const html = renderRunsIndex([run, { ...comparison, folder: "<b>cmp</b>" }], [
    { folder: "notes", reason: "holds neither config.json with metrics.json nor compare.json" },
  ]);
  assert.match(html, /<a href="2026-01-01T00-00-00Z-abcd1234\/report\.html">/);
  assert.ok(html.includes("&#60;b&#62;cmp&#60;/b&#62;"));
  assert.ok(!html.includes("<b>cmp</b>"));
  assert.ok(html.includes("notes"));
  assert.ok(!/<script/i.test(html));
});
