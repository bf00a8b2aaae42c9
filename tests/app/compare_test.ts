import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { armSlug, parseSeeds, parseVary } from "../../app/compare.ts";
import { mcnemarExact } from "../../app/mcnemar.ts";
import { ConfigError } from "../../engine/errors.ts";
import { percent, points, pValue } from "../../report/format.ts";
import { captureConsole, makeDataSet, tempDir } from "../fixtures.ts";

const SMALL = ["--epochs", "3", "--hidden", "8", "--batch-size", "16"];

async function compare(args: string[]) {
  const c = captureConsole();
  const code = await main(["compare", ...args], c.io);
  return { code, ...c };
}

async function readJson(path: string) {
  return JSON.parse(await Deno.readTextFile(path));
}

/** `text` as a regular expression that matches exactly it. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

interface Misclassified {
  misclassified: { index: number }[];
  testAccuracy: number;
}

/**
 * McNemar's discordant pairs, from two runs' misclassified test images: b only the
 * first run gets right, c only the second.
 */
function discordant(first: Misclassified, second: Misclassified): { b: number; c: number } {
  const wrong = (m: Misclassified) => {
    const indices = new Set(m.misclassified.map((x) => x.index));
    // metrics.json lists up to 100: with 40 test images, every one the run got wrong.
    assert.equal(indices.size, Math.round(40 * (1 - m.testAccuracy)));
    return indices;
  };
  const a = wrong(first), d = wrong(second);
  return {
    b: [...d].filter((i) => !a.has(i)).length,
    c: [...a].filter((i) => !d.has(i)).length,
  };
}

Deno.test("compare runs deskew on and off through one cache and pairs their predictions", async () => {
  const data = await makeDataSet();
  const cache = await tempDir();
  const out = `${await tempDir()}/cmp`;
  const r = await compare(["--data", data, "--cache-dir", cache, "--out", out, ...SMALL]);
  assert.equal(r.code, 0, r.err.join("\n"));
  const result = await readJson(`${out}/compare.json`);
  assert.deepEqual(result.vary, { flag: "deskew", values: ["on", "off"] });
  assert.deepEqual(result.arms.map((a: { label: string }) => a.label), ["deskew on", "deskew off"]);
  assert.equal(result.seedRows, undefined);
  const on = await readJson(`${out}/seed-1/deskew-on/metrics.json`);
  const off = await readJson(`${out}/seed-1/deskew-off/metrics.json`);
  assert.equal(result.arms[0].testAccuracy, on.testAccuracy);
  assert.equal(result.arms[1].testAccuracy, off.testAccuracy);
  assert.equal(result.arms[0].runDir, `${out}/seed-1/deskew-on`);
  assert.equal((await readJson(`${out}/seed-1/deskew-off/config.json`)).deskew, false);
  // McNemar's counts are the pairs the two arms' test predictions imply.
  const { b, c, pValue: p } = result.mcnemar;
  assert.deepEqual({ b, c }, discordant(on, off));
  assert.equal(p, mcnemarExact(b, c));
  assert.equal(result.mcnemar.seed, 1);
  // Accuracy differs by exactly the discordant pairs: accA − accB = (b − c) / n.
  assert.equal(b - c, Math.round(40 * (on.testAccuracy - off.testAccuracy)));
  // Decode and normalize ran once: the second arm found them in the cache (or did not need them).
  const ran = (m: { stages: { name: string; status: string }[] }) =>
    m.stages.filter((s) => s.status === "ran").map((s) => s.name);
  assert.deepEqual(ran(on), ["decode", "normalize", "deskew", "minibatch", "train", "evaluate"]);
  assert.deepEqual(ran(off), ["minibatch", "train", "evaluate"]);
  // Both arms start from the same seed.
  assert.equal((await readJson(`${out}/seed-1/deskew-on/config.json`)).seed, 1);
  assert.equal((await readJson(`${out}/seed-1/deskew-off/config.json`)).seed, 1);
  // The printed table.
  const text = r.out.join("\n");
  assert.match(text, /^compare deskew on vs deskew off \(seed 1;/);
  assert.match(text, new RegExp(`test accuracy +${(100 * on.testAccuracy).toFixed(2)}%`));
  assert.match(text, /^ {2}class 3 +\d+\.\d\d% +\d+\.\d\d%$/m);
  assert.match(text, /^difference \(on − off\) +[+−]\d+\.\d\d points$/m);
  const mcnemarLine = `McNemar exact test: ${b} test images only deskew on gets right, ` +
    `${c} only deskew off; two-sided p = ${pValue(p)}`;
  assert.ok(r.out.includes(mcnemarLine), text);
  const report = await Deno.readTextFile(`${out}/report.html`);
  assert.match(report, /deskew on vs deskew off/);
  assert.ok((report.match(/<svg/g) ?? []).length >= 5);
  assert.match(report, /href="seed-1\/deskew-on\/report.html"/);
  await Deno.stat(`${out}/seed-1/deskew-off/report.html`);

  // Again into the same folder, now from the cache: --json prints what compare.json holds.
  const again = await compare([
    "--data",
    data,
    "--cache-dir",
    cache,
    "--out",
    out,
    "--json",
    ...SMALL,
  ]);
  assert.equal(again.code, 0, again.err.join("\n"));
  assert.equal(again.out.length, 1);
  const printed = JSON.parse(again.out[0]);
  assert.deepEqual(printed, await readJson(`${out}/compare.json`));
  assert.equal(printed.mcnemar.b, b);
  assert.equal(printed.arms[0].testAccuracy, on.testAccuracy);
});

Deno.test("compare refuses an --out folder that holds other files", async () => {
  const out = await tempDir();
  await Deno.writeTextFile(`${out}/notes.txt`, "mine");
  const r = await compare([
    "--data",
    await makeDataSet(),
    "--out",
    out,
    "--cache-dir",
    await tempDir(),
    ...SMALL,
  ]);
  assert.equal(r.code, 1);
  assert.match(
    r.err[0],
    /Cannot write comparison folder ".*" as it must be new or an earlier comparison folder: it holds "notes.txt"/,
  );
  assert.deepEqual([...Deno.readDirSync(out)].map((e) => e.name), ["notes.txt"]);
});

Deno.test("compare --vary and --seeds repeat another flag over seeds, with mean ± sd", async () => {
  const data = await makeDataSet();
  const cache = await tempDir();
  const out = `${await tempDir()}/cmp`;
  const r = await compare([
    "--data",
    data,
    "--cache-dir",
    cache,
    "--out",
    out,
    ...SMALL,
    "--vary",
    "activation=sigmoid,relu",
    "--seeds",
    "1,2",
    "--no-deskew",
  ]);
  assert.equal(r.code, 0, r.err.join("\n"));
  const result = await readJson(`${out}/compare.json`);
  assert.deepEqual(result.arms.map((a: { label: string }) => a.label), [
    "activation=sigmoid",
    "activation=relu",
  ]);
  assert.deepEqual(result.seeds, [1, 2]);
  assert.equal(result.seedRows.length, 2);
  for (const [i, row] of result.seedRows.entries()) {
    assert.equal(row.seed, i + 1);
    const config = await readJson(`${out}/seed-${i + 1}/activation-relu/config.json`);
    assert.equal(config.activation, "relu");
    assert.equal(config.seed, i + 1);
    assert.equal(config.deskew, false);
  }
  const accuracies = result.seedRows.map((row: { arms: { testAccuracy: number }[] }) =>
    row.arms[0].testAccuracy
  );
  assert.equal(result.arms[0].testAccuracy, (accuracies[0] + accuracies[1]) / 2);
  // Two values: sample sd = |a − b| / √2.
  const sd = Math.abs(accuracies[0] - accuracies[1]) / Math.SQRT2;
  assert.ok(Math.abs(result.arms[0].testAccuracySpread.sd - sd) < 1e-12);
  assert.deepEqual(
    result.arms[0].runDirs,
    [1, 2].map((s) => `${out}/seed-${s}/activation-sigmoid`),
  );
  const text = r.out.join("\n");
  assert.match(text, /test accuracy \(mean ± sd\) +\d+\.\d\d% ± \d+\.\d\d/);
  // Each seed's McNemar test pairs that seed's two runs.
  for (const row of result.seedRows) {
    const dir = (slug: string) => `${out}/seed-${row.seed}/activation-${slug}/metrics.json`;
    const counts = discordant(await readJson(dir("sigmoid")), await readJson(dir("relu")));
    assert.deepEqual({ b: row.mcnemar.b, c: row.mcnemar.c }, counts, `seed ${row.seed}`);
    assert.equal(row.mcnemar.pValue, mcnemarExact(counts.b, counts.c));
    const [first, second] = row.arms.map((a: { testAccuracy: number }) => a.testAccuracy);
    const cells = [
      String(row.seed),
      percent(first),
      percent(second),
      points(row.differencePoints),
      String(counts.b),
      String(counts.c),
      pValue(row.mcnemar.pValue),
    ];
    assert.match(text, new RegExp(`^${cells.map(escapeRegExp).join(" +")}$`, "m"));
  }
  assert.deepEqual(result.mcnemar, { ...result.seedRows[0].mcnemar, seed: 1 });
});

Deno.test("parseVary() reads FLAG=A,B and rejects unknown flags and anything but two values", () => {
  assert.deepEqual(parseVary(undefined), { flag: "deskew", values: ["on", "off"] });
  assert.deepEqual(parseVary("activation=sigmoid,relu"), {
    flag: "activation",
    values: ["sigmoid", "relu"],
  });
  assert.deepEqual(parseVary("hidden=100,50;300").values, ["100,50", "300"]);
  assert.equal(armSlug(parseVary("hidden=100,50;300"), "100,50"), "hidden-100-50");
  assert.throws(() => parseVary("colour=red,blue"), {
    name: "ConfigError",
    message:
      /^Cannot vary --colour as the flag must be one of deskew, preset, .*: current value of --vary is "colour=red,blue"\. Hint: --vary activation=sigmoid,relu$/,
  });
  assert.throws(() => parseVary("seed=1,2"), { message: /Hint: use --seeds 1,2,3/ });
  assert.throws(() => parseVary("activation=relu"), {
    message: "Cannot compare as --vary must name exactly two different values: current value of " +
      '--vary is "activation=relu". Hint: --vary activation=A,B',
  });
  assert.throws(() => parseVary("activation=relu,relu"), ConfigError);
  assert.throws(() => parseVary("eta=0.1,0.2,0.3"), { message: /exactly two different values/ });
  assert.throws(() => parseVary("activation"), { message: /must read FLAG=A,B/ });
  assert.throws(() => parseVary("deskew=yes,no"), { message: /values must be on and off/ });
  assert.deepEqual(parseSeeds("1, 2,3"), [1, 2, 3]);
  assert.throws(() => parseSeeds("1,x"), { message: /--seeds as it must be an integer/ });
  assert.throws(() => parseSeeds("1,1"), { message: /each seed must appear once/ });
});

Deno.test("compare refuses contradictory flags before running anything", async () => {
  const data = await makeDataSet();
  const out = `${await tempDir()}/cmp`;
  const cases: [string[], RegExp][] = [
    [
      ["--no-deskew"],
      /Cannot vary --deskew as it is also set on its own: current value of --no-deskew is true/,
    ],
    [
      ["--vary", "activation=sigmoid,relu", "--activation", "tanh"],
      /current value of --activation is "tanh"/,
    ],
    [["--seed", "3", "--seeds", "1,2"], /Cannot use --seed with --seeds/],
    [["--vary", "epochs=1,0"], /Cannot use --epochs as it must be an integer ≥ 1/],
    [["--vary", "unknown=1,2"], /Cannot vary --unknown/],
    [["--dry-run"], /Cannot compare with --dry-run/],
  ];
  for (const [args, message] of cases) {
    const r = await compare(["--data", data, "--out", out, ...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.err.length, 1, r.err.join("\n"));
    assert.match(r.err[0], message);
  }
  await assert.rejects(Deno.stat(out), Deno.errors.NotFound);
});
