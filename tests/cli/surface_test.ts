import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { VERSION } from "../../cli/usage.ts";
import { captureConsole, makeDataSet, tempDir } from "../fixtures.ts";

const SMALL = ["--no-deskew", "--epochs", "2", "--hidden", "8", "--batch-size", "16"];

async function run(args: string[]) {
  const c = captureConsole();
  const code = await main(args, c.io);
  return { code, ...c };
}

Deno.test("--help and no command list every command with one line each; no command exits 2", async () => {
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  const text = help.out.join("\n");
  for (const command of ["pipeline", "runs", "compare", "predict", "retrain", "models"]) {
    assert.match(text, new RegExp(`^  ${command} +\\S`, "m"), command);
  }
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.equal(none.err.slice(0, -1).join("\n"), text);
  assert.equal(
    none.err.at(-1),
    "error: a command must be given: got none. Run with --help for the commands",
  );
});

Deno.test("--version prints the name and the version deno.json holds", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(VERSION, config.version);
  const { code, out } = await run(["--version"]);
  assert.equal(code, 0);
  assert.deepEqual(out, [`mnist-pipeline ${config.version}`]);
});

Deno.test("an unknown command or flag gets a did-you-mean hint and exit code 2", async () => {
  const command = await run(["pipline"]);
  assert.equal(command.code, 2);
  assert.match(command.err[0], /got "pipline"\. Did you mean "pipeline"\?$/);
  const far = await run(["xyzzy"]);
  assert.match(far.err[0], /got "xyzzy"\. Run with --help for the commands$/);
  const flag = await run(["pipeline", "--epoch", "3"]);
  assert.equal(flag.code, 2);
  assert.equal(flag.err[0], "error: Unknown option '--epoch'. Did you mean --epochs?");
  const runsFlag = await run(["runs", "--sortt", "date"]);
  assert.equal(runsFlag.err[0], "error: Unknown option '--sortt'. Did you mean --sort?");
  const compareFlag = await run(["compare", "--varry", "hidden=8,16"]);
  assert.equal(compareFlag.err[0], "error: Unknown option '--varry'. Did you mean --vary?");
});

Deno.test("--deskew with --no-deskew is refused as a usage error, whichever comes first", async () => {
  for (const args of [["--deskew", "--no-deskew"], ["--no-deskew", "--deskew"]]) {
    for (const command of ["pipeline", "compare", "retrain"]) {
      const { code, err } = await run([command, ...args]);
      assert.equal(code, 2, command);
      assert.equal(
        err[0],
        "error: Cannot use --deskew with --no-deskew as they contradict each other: " +
          "give one of them. Run with --help",
      );
    }
  }
});

Deno.test("--dry-run --json prints the plan and the config as JSON and runs nothing", async () => {
  const data = await makeDataSet();
  const cache = await tempDir();
  const { code, out } = await run([
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    cache,
    "--dry-run",
    "--json",
    ...SMALL,
  ]);
  assert.equal(code, 0);
  assert.equal(out.length, 1);
  const plan = JSON.parse(out[0]);
  assert.deepEqual(plan.stages.map((s: { name: string }) => s.name), [
    "decode",
    "normalize",
    "minibatch",
    "train",
    "evaluate",
  ]);
  assert.ok(
    plan.stages.every((s: { willRun: boolean; cached: boolean }) => s.willRun && !s.cached),
  );
  assert.equal(plan.cacheDir, cache);
  assert.equal(plan.config.epochs, 2);
  assert.equal(plan.config.deskew, false);
  assert.deepEqual([...Deno.readDirSync(cache)], []);
});

Deno.test("a run ends with its report as a file:// URL to open; --config re-runs it, explicit flags winning", async () => {
  const data = await makeDataSet();
  const cache = await tempDir();
  const out = await tempDir();
  const first = await run([
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    cache,
    "--out",
    `${out}/a`,
    "--eta",
    "0.01",
    ...SMALL,
  ]);
  assert.equal(first.code, 0, first.err.join("\n"));
  const url = `file://${await Deno.realPath(out)}/a/report.html`;
  assert.equal(first.out.at(-1), `open ${url}`);
  await Deno.stat(new URL(url));
  assert.ok(first.err.some((l) => /^epoch 1\/2 .* lr 0\.0100 /.test(l)), first.err.join("\n"));

  // The same config from the file: every stage comes from the cache, the metrics are the same.
  const again = await run([
    "pipeline",
    "--config",
    `${out}/a/config.json`,
    "--cache-dir",
    cache,
    "--out",
    `${out}/b`,
  ]);
  assert.equal(again.code, 0, again.err.join("\n"));
  const [a, b] = await Promise.all(
    ["a", "b"].map(async (d) => JSON.parse(await Deno.readTextFile(`${out}/${d}/metrics.json`))),
  );
  assert.ok(b.stages.every((s: { cached: boolean }) => s.cached));
  assert.equal(b.testAccuracy, a.testAccuracy);

  // An explicit flag wins over the file, which wins over the preset.
  const plan = await run([
    "pipeline",
    "--config",
    `${out}/a/config.json`,
    "--epochs",
    "5",
    "--deskew",
    "--dry-run",
    "--json",
  ]);
  assert.equal(plan.code, 0, plan.err.join("\n"));
  const config = JSON.parse(plan.out[0]).config;
  assert.equal(config.epochs, 5);
  assert.equal(config.deskew, true);
  assert.equal(config.eta, 0.01);
  assert.deepEqual(config.hidden, [8]);
  assert.equal(config.data, data);
});

Deno.test("--config refuses an unknown key or a bad value, naming the file and the key", async () => {
  const dir = await tempDir();
  const cases: [object, RegExp][] = [
    [{ epochs: 3, learningRate: 0.1 }, /"learningRate" is not\. Hint: the keys are /],
    [{ eta: "fast" }, /as "eta" must be a number: it is "fast"$/],
    [
      { eta: -1 },
      /In config file ".*": Cannot use --eta as it must be a number > 0: current value is "-1"$/,
    ],
  ];
  for (const [i, [file, message]] of cases.entries()) {
    await Deno.writeTextFile(`${dir}/${i}.json`, JSON.stringify(file));
    const { code, err } = await run(["pipeline", "--config", `${dir}/${i}.json`, "--dry-run"]);
    assert.equal(code, 2);
    assert.match(err[0], message);
    assert.ok(err[0].includes(`${dir}/${i}.json`));
  }
  await Deno.writeTextFile(`${dir}/bad.json`, "{ not json");
  const { code, err } = await run(["pipeline", "--config", `${dir}/bad.json`]);
  assert.equal(code, 2);
  assert.match(
    err[0],
    /^error: Cannot read config file ".*bad\.json" as it must be JSON: it is not/,
  );
});
