import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { decodeModel } from "../../model/format.ts";
import { percent } from "../../report/format.ts";
import { captureConsole, idxBytes, makeDataSet, tempDir } from "../fixtures.ts";
import { openNativeKernels } from "../../kernels/native.ts";
import { defaultThreads } from "../../kernels/wasm_kernels.ts";

const SMALL = ["--epochs", "3", "--hidden", "8", "--batch-size", "16"];

async function run(args: string[]) {
  const c = captureConsole();
  const code = await main(["pipeline", ...args], c.io);
  return { code, ...c };
}

async function readJson(path: string) {
  return JSON.parse(await Deno.readTextFile(path));
}

/** Metrics without the wall-clock fields, which no two runs share. */
function withoutTimes(metrics: Record<string, unknown>) {
  const history = (metrics.history as Record<string, unknown>[]).map(({ seconds: _, ...rest }) =>
    rest
  );
  const stages = (metrics.stages as Record<string, unknown>[]).map(({ seconds: _, ...rest }) =>
    rest
  );
  return { ...metrics, history, stages };
}

/** Mean of each epoch's minibatch costs. */
function epochCosts(costs: number[], epochs: number): number[] {
  const per = costs.length / epochs;
  return Array.from({ length: epochs }, (_, e) => {
    const slice = costs.slice(e * per, (e + 1) * per);
    return slice.reduce((a, b) => a + b, 0) / slice.length;
  });
}

Deno.test("pipeline runs end to end on a tiny data set, then reads every stage from the cache", async () => {
  // Shapes, not the bars deskew centres away: all six stages run and the model can learn.
  const data = await makeDataSet({ shapes: true });
  const cache = await tempDir();
  const out = await tempDir();
  const learn = [...SMALL, "--eta", "0.01"];
  const first = await run(["--data", data, "--cache-dir", cache, "--out", `${out}/a`, ...learn]);
  assert.equal(first.code, 0, first.err.join("\n"));
  assert.ok(first.out.some((l) => /^test accuracy +\d+\.\d\d%$/.test(l)), first.out.join("\n"));
  assert.deepEqual(first.out.slice(1, 7).map((l) => l.split(/\s+/).slice(0, 2).join(" ")), [
    "decode ran",
    "normalize ran",
    "deskew ran",
    "minibatch ran",
    "train ran",
    "evaluate ran",
  ]);
  const metrics = await readJson(`${out}/a/metrics.json`);
  assert.deepEqual(
    metrics.stages.map((s: { name: string; cached: boolean }) => [s.name, s.cached]),
    [["decode", false], ["normalize", false], ["deskew", false], ["minibatch", false], [
      "train",
      false,
    ], ["evaluate", false]],
  );
  // It learns: far above the 25% of chance on test images it never saw, the loss falling.
  assert.ok(metrics.testAccuracy >= 0.9, `test accuracy ${metrics.testAccuracy}`);
  assert.ok(metrics.trainAccuracy >= 0.9, `train accuracy ${metrics.trainAccuracy}`);
  const losses = metrics.history.map((r: { trainLoss: number }) => r.trainLoss);
  assert.ok(losses[2] < losses[1] && losses[1] < losses[0], losses.join(" "));
  assert.ok(losses[2] < 0.5 * losses[0], losses.join(" "));
  const costs = epochCosts(metrics.costs, 3);
  assert.ok(costs[2] < 0.5 * costs[0], costs.join(" "));
  assert.ok(
    first.out.includes(`test accuracy  ${percent(metrics.testAccuracy)}`),
    first.out.join("\n"),
  );
  assert.equal(metrics.confusionMatrix.length, 4);
  assert.equal(metrics.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0), 40);
  const diagonal = metrics.confusionMatrix.reduce(
    (sum: number, row: number[], k: number) => sum + row[k],
    0,
  );
  assert.equal(diagonal, Math.round(40 * metrics.testAccuracy));
  assert.equal(metrics.precision.length, 4);
  assert.equal(metrics.recall.length, 4);
  assert.equal(metrics.history.length, 3);
  assert.deepEqual(Object.keys(metrics.history[0]).sort(), [
    "epoch",
    "eta",
    "seconds",
    "trainAccuracy",
    "trainLoss",
  ]);
  assert.equal(metrics.costs.length, 3 * Math.ceil(120 / 16));
  const config = await readJson(`${out}/a/config.json`);
  assert.equal(config.deskew, true);
  assert.deepEqual(config.hidden, [8]);
  const model = decodeModel(await Deno.readFile(`${out}/a/model.mnpm`), "model");
  assert.deepEqual(model.spec.sizes, [100, 8, 4]);
  assert.equal(model.preprocessing.deskew, true);
  assert.ok(first.err.some((l) => l.startsWith("deskew     ran")));
  // Which kernels computed, where the test may run the native ones (Linux x86-64, FFI granted).
  const native = openNativeKernels();
  assert.ok(
    first.out.includes(
      `kernels        ${native ? `native ${native.isa} + ` : ""}wasm-simd ×${defaultThreads()}`,
    ),
    first.out.join("\n"),
  );

  const second = await run(["--data", data, "--cache-dir", cache, "--out", `${out}/b`, ...learn]);
  assert.equal(second.code, 0);
  const again = await readJson(`${out}/b/metrics.json`);
  assert.ok(again.stages.every((s: { cached: boolean }) => s.cached));
  assert.ok(!second.out.some((l) => l.startsWith("kernels")), "no kernels ran");
  assert.ok(
    second.out.some((l) => /^decode +cached, not needed +0\.00$/.test(l)),
    second.out.join("\n"),
  );
  assert.ok(second.out.some((l) => /^evaluate +cached +\d+\.\d\d$/.test(l)));
  assert.equal(again.testAccuracy, metrics.testAccuracy);
  assert.deepEqual(withoutTimes(again).history, withoutTimes(metrics).history);
});

Deno.test("--no-deskew reads decode and normalize from the cache and runs the rest", async () => {
  const data = await makeDataSet();
  const cache = await tempDir();
  const out = await tempDir();
  await run(["--data", data, "--cache-dir", cache, "--out", `${out}/a`, ...SMALL]);
  const plan = await run([
    "--data",
    data,
    "--cache-dir",
    cache,
    "--no-deskew",
    "--dry-run",
    ...SMALL,
  ]);
  assert.equal(plan.code, 0);
  assert.equal(plan.out.at(-1), `cache folder ${cache}`);
  assert.deepEqual(
    plan.out.slice(0, -1).map((l) => [l.slice(0, 10).trim(), l.slice(11, 21).trim()]),
    [
      ["decode", "cached"],
      ["normalize", "cached"],
      ["minibatch", "would run"],
      ["train", "would run"],
      ["evaluate", "would run"],
    ],
  );
  // A dry run writes no run folder.
  assert.deepEqual((await Array.fromAsync(Deno.readDir(out))).map((e) => e.name), ["a"]);
  const result = await run([
    "--data",
    data,
    "--cache-dir",
    cache,
    "--no-deskew",
    "--out",
    `${out}/b`,
    ...SMALL,
  ]);
  const metrics = await readJson(`${out}/b/metrics.json`);
  assert.equal(result.code, 0);
  assert.deepEqual(
    metrics.stages.map((s: { name: string; status: string }) => `${s.name}:${s.status}`),
    ["decode:skipped", "normalize:cached", "minibatch:ran", "train:ran", "evaluate:ran"],
  );
  assert.equal(
    decodeModel(await Deno.readFile(`${out}/b/model.mnpm`), "m").preprocessing.deskew,
    false,
  );
});

Deno.test("the same seed and flags give the same metrics bit for bit; --no-cache recomputes them", async () => {
  const data = await makeDataSet();
  const out = await tempDir();
  const args = [
    "--data",
    data,
    ...SMALL,
    "--validation",
    "0.2",
    "--optimizer",
    "nesterov",
    "--eta",
    "0.05",
  ];
  await run([...args, "--cache-dir", await tempDir(), "--out", `${out}/a`]);
  const cache = await tempDir();
  await run([...args, "--cache-dir", cache, "--out", `${out}/b`]);
  const rerun = await run([...args, "--cache-dir", cache, "--no-cache", "--out", `${out}/c`]);
  const [a, b, c] = await Promise.all(
    ["a", "b", "c"].map((r) => readJson(`${out}/${r}/metrics.json`)),
  );
  assert.deepEqual(withoutTimes(a), withoutTimes(b));
  assert.ok(c.stages.every((s: { status: string }) => s.status === "ran"));
  assert.deepEqual(withoutTimes(c).history, withoutTimes(a).history);
  // --validation 0.2 holds out 24 of the 120 rows: 96 train in 6 batches of 16 per epoch, and
  // every epoch scores the 24 it held out.
  assert.equal(a.costs.length, 3 * 6);
  for (const record of a.history) {
    assert.ok(Number.isFinite(record.validationLoss) && record.validationLoss > 0);
    const correct = record.validationAccuracy * 24;
    assert.ok(Math.abs(correct - Math.round(correct)) < 1e-9, String(record.validationAccuracy));
  }
  assert.equal(rerun.code, 0);
});

Deno.test("--json prints the metrics on stdout and progress on stderr", async () => {
  const data = await makeDataSet({ gzip: true });
  const out = `${await tempDir()}/r`;
  const result = await run([
    "--data",
    data,
    "--cache-dir",
    await tempDir(),
    "--out",
    out,
    "--json",
    ...SMALL,
  ]);
  assert.equal(result.code, 0);
  assert.equal(result.out.length, 1);
  // What it prints is what the run folder keeps.
  assert.deepEqual(JSON.parse(result.out[0]), await readJson(`${out}/metrics.json`));
  assert.equal(result.err.filter((l) => l.startsWith("epoch")).length, 3);
});

for (
  const [what, damage, message] of [
    [
      "a missing file",
      (dir: string) => Deno.remove(`${dir}/t10k-labels-idx1-ubyte`),
      'must hold "t10k-labels-idx1-ubyte"',
    ],
    [
      "a wrong magic number",
      (dir: string) => Deno.writeFile(`${dir}/train-images-idx3-ubyte`, idxBytes([3], [1, 2, 3])),
      "magic number must be 0x00000803",
    ],
    ["a truncated file", async (dir: string) => {
      const bytes = await Deno.readFile(`${dir}/t10k-images-idx3-ubyte`);
      await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, bytes.subarray(0, bytes.length - 7));
    }, "(truncated)"],
    [
      "counts that disagree",
      (dir: string) =>
        Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idxBytes([119], new Uint8Array(119))),
      "counts must match",
    ],
    [
      "a label outside the class range",
      (dir: string) =>
        Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idxBytes([40], new Uint8Array(40).fill(7))),
      "class range 0..3",
    ],
  ] as const
) {
  Deno.test(`${what} stops the run with one error line, exit code 1, no cache entry and no run folder`, async () => {
    const data = await makeDataSet();
    await damage(data);
    const cache = await tempDir();
    const out = await tempDir();
    const result = await run([
      "--data",
      data,
      "--cache-dir",
      cache,
      "--out",
      `${out}/run`,
      ...SMALL,
    ]);
    assert.equal(result.code, 1);
    assert.equal(result.err.length, 1);
    assert.ok(
      result.err[0].startsWith("error: Cannot ") && result.err[0].includes(message),
      result.err[0],
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(cache)), []);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(out)), []);
  });
}

Deno.test("bad flags give a clear error and exit code 2", async () => {
  const bad = await run(["--activation", "softsign"]);
  assert.equal(bad.code, 2);
  assert.equal(
    bad.err[0],
    'error: Cannot use --activation as it must be one of sigmoid, tanh, relu, swish: current value is "softsign"',
  );
  const unknown = await run(["--learning-rate", "3"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err[0], /^error: .*--learning-rate/);
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.ok(help.out[0].includes("--no-deskew") && help.out[0].includes("--validation FRACTION"));
});

Deno.test("--out refuses a folder holding anything but an earlier run, before training", async () => {
  const data = await makeDataSet();
  const out = await tempDir();
  await Deno.writeTextFile(`${out}/notes.txt`, "keep me");
  const cache = await tempDir();
  const result = await run(["--data", data, "--cache-dir", cache, "--out", out, ...SMALL]);
  assert.equal(result.code, 1);
  assert.equal(
    result.err.at(-1),
    `error: Cannot write run folder "${out}" as it must be new or an earlier run folder: it holds "notes.txt". Hint: pick another --out`,
  );
  assert.equal(await Deno.readTextFile(`${out}/notes.txt`), "keep me");
  assert.deepEqual(await Array.fromAsync(Deno.readDir(cache)), []);
  const again = await run(["--data", data, "--cache-dir", cache, "--out", `${out}/run`, ...SMALL]);
  assert.equal(again.code, 0);
  const replaced = await run([
    "--data",
    data,
    "--cache-dir",
    cache,
    "--out",
    `${out}/run`,
    ...SMALL,
  ]);
  assert.equal(replaced.code, 0);
  assert.deepEqual((await Array.fromAsync(Deno.readDir(out))).map((e) => e.name).sort(), [
    "notes.txt",
    "run",
  ]);
});
