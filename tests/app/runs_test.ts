import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { flagsDifferingFromPreset, parseSortField, scanRuns, sortRows } from "../../app/runs.ts";
import { ConfigError } from "../../engine/errors.ts";
import type { IndexRow } from "../../report/runs_page.ts";
import { captureConsole, makeDataSet, tempDir } from "../fixtures.ts";

const SMALL = ["--no-deskew", "--epochs", "2", "--hidden", "8", "--batch-size", "16"];

async function run(args: string[]) {
  const c = captureConsole();
  const code = await main(args, c.io);
  return { code, ...c };
}

/** A compare.json in the shape `deno task compare` writes, cut to what the index reads. */
const COMPARISON = {
  vary: { flag: "deskew", values: ["on", "off"] },
  seeds: [1, 2],
  flags: { epochs: "3", preset: "default" },
  arms: [
    { label: "deskew on", value: "on", testAccuracy: 0.979, trainSeconds: 10 },
    { label: "deskew off", value: "off", testAccuracy: 0.9741, trainSeconds: 9 },
  ],
  differencePoints: { mean: 0.49, sd: 0.1 },
  mcnemar: { b: 80, c: 31, pValue: 0.0000042, seed: 1 },
};

/** A runs folder with two runs, a comparison, a foreign folder, a damaged run and a stray file. */
async function runsFolder(): Promise<string> {
  const data = await makeDataSet();
  const cache = await tempDir();
  const runs = await tempDir();
  const common = ["pipeline", "--data", data, "--cache-dir", cache, ...SMALL];
  const a = await run([...common, "--out", `${runs}/2026-01-02T03-04-05Z-aaaaaaaa`]);
  assert.equal(a.code, 0, a.err.join("\n"));
  const b = await run([
    ...common,
    "--eta",
    "0.01",
    "--out",
    `${runs}/2026-01-01T00-00-00Z-bbbbbbbb`,
  ]);
  assert.equal(b.code, 0, b.err.join("\n"));
  await Deno.mkdir(`${runs}/compare-2026-01-03T00-00-00Z`);
  await Deno.writeTextFile(
    `${runs}/compare-2026-01-03T00-00-00Z/compare.json`,
    JSON.stringify(COMPARISON),
  );
  await Deno.writeTextFile(`${runs}/compare-2026-01-03T00-00-00Z/report.html`, "<p>");
  await Deno.mkdir(`${runs}/holiday photos`);
  await Deno.mkdir(`${runs}/damaged`);
  await Deno.writeTextFile(`${runs}/damaged/config.json`, "{ cut off");
  await Deno.writeTextFile(`${runs}/damaged/metrics.json`, "{}");
  await Deno.writeTextFile(`${runs}/notes.txt`, "not a folder");
  return runs;
}

Deno.test("runs lists runs and comparisons by date, skips foreign and damaged folders with a note, and writes index.html", async () => {
  const runs = await runsFolder();
  const { code, out, err } = await run(["runs", "--runs-dir", runs]);
  assert.equal(code, 0, err.join("\n"));
  assert.match(out[0], /^date +key +preset +test acc +train s +flags \/ arms$/);
  assert.equal(out.length, 4, out.join("\n"));
  assert.match(
    out[1],
    /^2026-01-01 00:00:00 {2}bbbbbbbb {2}default +\d+\.\d\d% +\d+\.\d {2}--data \S+ --no-deskew --hidden 8 --epochs 2 --batch-size 16 --eta 0\.01$/,
  );
  assert.match(
    out[2],
    /^2026-01-02 03:04:05 {2}aaaaaaaa {2}default .* --data \S+ --no-deskew --hidden 8 --epochs 2 --batch-size 16$/,
  );
  assert.match(
    out[3],
    /^2026-01-03 00:00:00 {2}compare +default +– +38\.0 {2}deskew on 97\.90% vs deskew off 97\.41%, p 4\.20e-6; --epochs 3$/,
  );
  assert.deepEqual(err.filter((l) => l.startsWith("note:")).map((l) => l.split(":")[1]), [
    ` skipped ${runs}/damaged`,
    ` skipped ${runs}/holiday photos`,
  ]);
  assert.ok(err.some((l) => l.includes("damaged") && l.includes("must be JSON")));
  const html = await Deno.readTextFile(`${runs}/index.html`);
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(!/<script|src="http|href="http/.test(html), "self-contained");
  for (
    const folder of [
      "2026-01-02T03-04-05Z-aaaaaaaa",
      "2026-01-01T00-00-00Z-bbbbbbbb",
      "compare-2026-01-03T00-00-00Z",
    ]
  ) {
    assert.ok(html.includes(`<a href="${folder}/report.html">${folder}</a>`), folder);
    await Deno.stat(`${runs}/${folder}/report.html`);
  }
  assert.ok(html.includes("holiday photos"));
});

Deno.test("runs --sort accuracy puts the best run first and the comparison last; --json gives the rows", async () => {
  const runs = await runsFolder();
  const { code, out } = await run(["runs", "--runs-dir", runs, "--sort", "accuracy", "--json"]);
  assert.equal(code, 0);
  const { runs: rows, skipped } = JSON.parse(out[0]);
  assert.equal(rows.length, 3);
  assert.ok(rows[0].testAccuracy >= rows[1].testAccuracy);
  assert.equal(rows[2].kind, "compare");
  assert.equal(rows[2].pValue, 0.0000042);
  assert.deepEqual(rows[2].arms.map((a: { label: string }) => a.label), [
    "deskew on",
    "deskew off",
  ]);
  assert.deepEqual(skipped.map((s: { folder: string }) => s.folder), ["damaged", "holiday photos"]);
});

Deno.test("runs on an absent folder says there are none and writes nothing; a bad --sort is refused", async () => {
  const dir = await tempDir();
  const empty = await run(["runs", "--runs-dir", `${dir}/runs`]);
  assert.equal(empty.code, 0);
  assert.deepEqual(empty.out, [`no runs in ${dir}/runs/ yet: deno task pipeline makes one`]);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  const bad = await run(["runs", "--runs-dir", dir, "--sort", "acc"]);
  assert.equal(bad.code, 1);
  assert.equal(
    bad.err[0],
    'error: Cannot sort by --sort acc as it must be one of date, key, preset, accuracy, seconds: current value is "acc"',
  );
  assert.throws(() => parseSortField("size"), ConfigError);
});

Deno.test("flagsDifferingFromPreset() names only what differs from the run's own preset", () => {
  assert.equal(flagsDifferingFromPreset({ preset: "default", epochs: "12", deskew: true }), "");
  assert.equal(
    flagsDifferingFromPreset({ preset: "textbook", hidden: "50", l2: "0.1", epochs: "5" }),
    "--epochs 5",
  );
  assert.equal(flagsDifferingFromPreset({ preset: "default", hidden: "" }), '--hidden ""');
});

Deno.test("sortRows() sorts seconds slowest first with unknown last, ties in date order", () => {
  const row = (folder: string, date: string, trainSeconds: number | null): IndexRow => ({
    kind: "run",
    folder,
    date,
    key: folder,
    preset: "default",
    flags: "",
    testAccuracy: 0.9,
    trainSeconds,
    report: null,
  });
  const rows = [
    row("a", "2026-01-03", 5),
    row("b", "2026-01-01", null),
    row("c", "2026-01-02", 5),
    row("d", "2026-01-04", 9),
  ];
  assert.deepEqual(sortRows(rows, "seconds").map((r) => r.folder), ["d", "c", "a", "b"]);
  assert.deepEqual(sortRows(rows, "date").map((r) => r.folder), ["b", "c", "a", "d"]);
});

Deno.test("scanRuns() of a missing folder is empty", async () => {
  assert.deepEqual(await scanRuns(`${await tempDir()}/no-runs`), { rows: [], skipped: [] });
});
