import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { DATA_FILE_NAMES } from "../../stages/idx_decode.ts";
import { captureConsole, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

async function run(args: string[]) {
  const c = captureConsole();
  const code = await main(args, c.io);
  return { code, ...c };
}

Deno.test("make-data writes a data set the pipeline trains on, with a progress line per copy", async () => {
  const data = await makeDataSet();
  const dir = await tempDir({ prefix: "mnp-cli-made-" });
  const made = await run([
    "make-data",
    "--copies",
    "3",
    "--shift",
    "1",
    "--seed",
    "9",
    "--data",
    data,
    "--out",
    `${dir}/data`,
  ]);
  assert.equal(made.code, 0, made.err.join("\n"));
  assert.deepEqual(made.out, [
    `wrote ${dir}/data: 360 training images (3 × 120), 40 test images, 10×10`,
  ]);
  assert.deepEqual(made.err, [
    "make-data: copy 1/3 written (120 images, the originals)",
    "make-data: copy 2/3 written (120 images, each shifted by up to ±1 px)",
    "make-data: copy 3/3 written (120 images, each shifted by up to ±1 px)",
  ]);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(`${dir}/data`), (e) => e.name)).sort(),
    Object.values(DATA_FILE_NAMES).sort(),
  );

  const trained = await run([
    "pipeline",
    "--data",
    `${dir}/data`,
    "--cache-dir",
    `${dir}/cache`,
    "--out",
    `${dir}/run`,
    "--json",
    ...QUICK_TRAINING,
  ]);
  assert.equal(trained.code, 0, trained.err.join("\n"));
  const metrics = JSON.parse(trained.out[0]);
  assert.equal(metrics.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0), 40);
  assert.equal(metrics.costs.length, 3 * Math.ceil(360 / 16));
});

Deno.test("make-data names the flag, the rule and the value of a bad or missing flag", async () => {
  const data = await makeDataSet();
  const out = `${await tempDir()}/out`;
  const base = ["make-data", "--data", data, "--out", out];
  const cases: [string[], number, string][] = [
    [
      [...base, "--copies", "0", "--shift", "2"],
      2,
      `error: Cannot use --copies as it must be an integer ≥ 1: current value is "0"`,
    ],
    [
      [...base, "--copies", "two", "--shift", "2"],
      2,
      `error: Cannot use --copies as it must be an integer ≥ 1: current value is "two"`,
    ],
    [
      [...base, "--copies", "2", "--shift", "0.5"],
      2,
      `error: Cannot use --shift as it must be an integer ≥ 0: current value is "0.5"`,
    ],
    [
      [...base, "--copies", "2", "--shift", "1", "--seed=-3"],
      2,
      `error: Cannot use --seed as it must be an integer ≥ 0 and ≤ 4294967295: current value ` +
      `is "-3"`,
    ],
    [
      [...base, "--shift", "2"],
      2,
      "error: Cannot make data as --copies must be given: it is missing. Hint: --copies N",
    ],
    [
      ["make-data", "--data", data, "--copies", "2", "--shift", "2"],
      2,
      "error: Cannot make data as --out must be given: it is missing. Hint: --out DIR",
    ],
    [
      [...base, "--copies", "2", "--shift", "2", "extra"],
      2,
      "error: make-data takes no positional arguments: got extra. Run with --help",
    ],
  ];
  for (const [args, code, line] of cases) {
    const result = await run(args);
    assert.equal(result.code, code, args.join(" "));
    assert.deepEqual(result.err, [line]);
    assert.equal(await Deno.stat(out).catch(() => null), null, "nothing written");
  }
  const unknown = await run([...base, "--copies", "2", "--shift", "2", "--shfit", "1"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err[0], /^error: .*--shfit.*Run with --help for the flags$/);
});

Deno.test("make-data refuses a foreign --out folder with one error line", async () => {
  const data = await makeDataSet();
  const out = await tempDir();
  await Deno.writeTextFile(`${out}/model.mnpm`, "not data");
  const result = await run([
    "make-data",
    "--copies",
    "2",
    "--shift",
    "1",
    "--data",
    data,
    "--out",
    out,
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.err, [
    `error: Cannot write make-data folder "${out}" as it must be new or an earlier make-data ` +
    `folder: it holds "model.mnpm". Hint: pick another --out`,
  ]);
});

Deno.test("make-data --help prints its usage", async () => {
  const result = await run(["make-data", "--help"]);
  assert.equal(result.code, 0);
  assert.match(result.out[0], /^Usage: deno task make-data --copies N --shift PX/);
});
