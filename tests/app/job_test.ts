import assert from "node:assert/strict";
import { buildConfig } from "../../app/config.ts";
import { checkFits, runJob, shuffleBufferFor, trainOptionsOf } from "../../app/job.ts";
import { ConfigError } from "../../engine/errors.ts";
import { InputError } from "../../engine/errors.ts";
import { TRAIN_OPTION_KEYS } from "../../stages/train.ts";
import { gzip, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";
import { parseArgs } from "node:util";
import { PIPELINE_OPTIONS } from "../../cli/pipeline.ts";

/** A checked config from pipeline flags, as the command line builds it. */
function configOf(args: string[]) {
  const { values } = parseArgs({ args, options: PIPELINE_OPTIONS, strict: true });
  return buildConfig(values);
}

async function files(dir: string): Promise<string[]> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) found.push(...(await files(`${dir}/${entry.name}`)));
      else found.push(`${dir}/${entry.name}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return found;
}

Deno.test("shuffleBufferFor() holds a set that fits in memory and buffers what fits of a larger one", () => {
  // 60 000 MNIST images as float32 are 179.4 MiB.
  assert.equal(shuffleBufferFor(60000, 784, 512), null);
  assert.equal(shuffleBufferFor(60000, 784, 180), null);
  assert.equal(shuffleBufferFor(60000, 784, 100), Math.floor(100 * 2 ** 20 / (784 * 4)));
  assert.equal(shuffleBufferFor(600000, 784, 256), 85598);
  assert.equal(shuffleBufferFor(10, 1000000, 0.001), 1);
});

Deno.test("trainOptionsOf() picks exactly the train stage's fields from a config", () => {
  const config = configOf(["--hidden", "30,20", "--seed", "4"]);
  const options = trainOptionsOf(config, 77);
  assert.deepEqual(Object.keys(options).sort(), [...TRAIN_OPTION_KEYS, "shuffleBuffer"].sort());
  assert.deepEqual(options.hidden, [30, 20]);
  assert.equal(options.seed, 4);
  assert.equal(options.shuffleBuffer, 77);
});

for (const memory of [null, "0.01"]) {
  const mode = memory === null ? "in memory" : "streamed through a shuffle buffer";
  Deno.test(`runJob() ${mode} learns the tiny set and writes a complete run folder`, async () => {
    const data = await makeDataSet();
    const cache = await tempDir();
    const out = `${await tempDir()}/run`;
    const config = configOf([
      ...QUICK_TRAINING,
      "--epochs",
      "12",
      "--data",
      data,
      "--cache-dir",
      cache,
      "--out",
      out,
      ...(memory ? ["--memory", memory] : []),
    ]);
    const lines: string[] = [];
    const result = await runJob(config, { log: (l) => lines.push(l) });
    assert.equal(result.kind, "run");
    if (result.kind !== "run") return;
    const { history } = result.metrics;
    assert.ok(history.at(-1)!.trainLoss < history[0].trainLoss / 2);
    assert.ok(result.metrics.testAccuracy >= 0.8, `test accuracy ${result.metrics.testAccuracy}`);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(out))).map((e) => e.name).sort(),
      ["config.json", "metrics.json", "model.mnpm", "report.html"],
    );
    assert.ok((await files(cache)).every((f) => !f.includes("/.tmp-")));
  });
}

Deno.test("the two training modes have different train keys, and the data stages are shared", async () => {
  const data = await makeDataSet();
  const cache = await tempDir();
  const base = [...QUICK_TRAINING, "--data", data, "--cache-dir", cache, "--dry-run"];
  const held = await runJob(configOf(base), { log() {} });
  const streamed = await runJob(configOf([...base, "--memory", "0.01"]), { log() {} });
  assert.ok(held.kind === "plan" && streamed.kind === "plan");
  const key = (plan: typeof held, name: string) =>
    plan.kind === "plan" ? plan.plan.find((p) => p.name === name)!.key : "";
  assert.equal(key(held, "normalize"), key(streamed, "normalize"));
  assert.notEqual(key(held, "train"), key(streamed, "train"));
});

Deno.test("a damaged test file stops the run before training, leaving nothing in the cache or runs", async () => {
  const data = await makeDataSet();
  const images = await Deno.readFile(`${data}/t10k-images-idx3-ubyte`);
  await Deno.remove(`${data}/t10k-images-idx3-ubyte`);
  const zipped = await gzip(images);
  await Deno.writeFile(`${data}/t10k-images-idx3-ubyte.gz`, zipped.subarray(0, zipped.length - 20));
  const cache = await tempDir();
  const out = `${await tempDir()}/run`;
  const lines: string[] = [];
  await assert.rejects(
    () =>
      runJob(
        configOf([...QUICK_TRAINING, "--data", data, "--cache-dir", cache, "--out", out]),
        { log: (l) => lines.push(l) },
      ),
    (e: unknown) => e instanceof InputError && e.message.includes("gzip stream must be complete"),
  );
  assert.ok(!lines.some((l) => l.startsWith("epoch")), lines.join("\n"));
  assert.deepEqual(await files(cache), []);
  assert.deepEqual(await files(out), []);
});

Deno.test("checkFits() refuses a network too large for the kernels before any work, with what it needs", () => {
  assert.throws(
    () => checkFits(configOf(["--hidden", "2000000"]), 60000, 784),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.message.startsWith(
        "Cannot train a network of 784 inputs and --hidden 2000000 as its 1574000002+ parameters",
      ) && e.message.includes("of kernel memory: WebAssembly holds at most 4.0 GiB"),
  );
  checkFits(configOf([]), 60000, 784);
  checkFits(configOf(["--hidden", "800"]), 600000, 784);
});
