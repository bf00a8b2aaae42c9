import assert from "node:assert/strict";
import { COMMANDS, main } from "../../main.ts";
import type { Command } from "../../cli/io.ts";
import { EXIT_CODES_HELP } from "../../cli/io.ts";
import { Interrupted } from "../../engine/cleanup.ts";
import { captureConsole, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

const data = await makeDataSet();
const empty = await tempDir();
const scratch = await tempDir();
const badModel = `${scratch}/model.mnpm`;
await Deno.writeTextFile(badModel, "not a model");

const fail = (error: Error): Command => () => Promise.reject(error);
const STUBS: Record<string, Command> = {
  "disk-full": fail(
    Object.assign(new Error("No space left on device (os error 28): write '/x'"), {
      code: "ENOSPC",
    }),
  ),
  "sigint": fail(new Interrupted("SIGINT")),
  "sigterm": fail(new Interrupted("SIGTERM")),
};

/** Command lines and the exit code each must give: 0 success, 1 failure, 2 usage, 130/143 signals. */
const TABLE: [string[], number][] = [
  [[
    "pipeline",
    "--data",
    data,
    "--cache-dir",
    `${scratch}/c`,
    "--out",
    `${scratch}/r`,
    ...QUICK_TRAINING,
  ], 0],
  [["pipeline", "--data", data, "--cache-dir", `${scratch}/c`, "--dry-run", ...QUICK_TRAINING], 0],
  [["cache", "list", "--cache-dir", `${scratch}/c`], 0],
  // Data, model and runtime errors: 1.
  [["pipeline", "--data", empty, "--cache-dir", `${scratch}/c`, "--out", `${scratch}/e`], 1],
  [["predict", "--model", badModel, badModel], 1],
  [["cache", "list", "--cache-dir", data], 1],
  [["disk-full"], 1],
  // Usage errors, every bad flag value included: 2.
  [[], 2],
  [["train"], 2],
  [["pipeline", "--epochs", "0"], 2],
  [["pipeline", "--epochs", "many"], 2],
  [["pipeline", "--activation", "softsign"], 2],
  [["pipeline", "--learning-rate", "3"], 2],
  [["pipeline", "stray"], 2],
  [["pipeline", "--batch-size", "10", "--minibatches", "5"], 2],
  [["pipeline", "--patience", "3"], 2],
  [["pipeline", "--cache-dir", ""], 2],
  [["pipeline", "--out", "/"], 2],
  [["pipeline", "--memory", "0"], 2],
  [["compare", "--vary", "nope"], 2],
  [["compare", "--vary", "seed=1,2"], 2],
  [["compare", "--seeds", "1,1"], 2],
  [["compare", "--dry-run"], 2],
  [["compare", "--seed", "1", "--seeds", "2,3"], 2],
  [["gradcheck", "--rows", "0"], 2],
  [["predict"], 2],
  [["predict", "--model", badModel], 2],
  [["retrain", "--out", "x"], 2],
  [["retrain", "--promote-tolerance", "2"], 2],
  [["schedule"], 2],
  [["schedule", "--every", "5x"], 2],
  [["schedule", "--every", "1h", "--cron", "0 3 * * *"], 2],
  [["schedule", "--every", "1h", "--retries=-1"], 2],
  [["schedule", "--every", "1h", "--retry-delay", "400d"], 2],
  [["models", "frobnicate"], 2],
  [["models", "promote"], 2],
  [["make-data", "--copies", "2"], 2],
  [["make-data", "--copies", "0", "--shift", "1", "--out", "x"], 2],
  [["make-data", "--copies", "1", "--shift", "10", "--data", data, "--out", `${scratch}/m`], 2],
  [["schedule", "--cron", "0 3 * * *", "--data", data, "--registry", `${scratch}/reg`], 2],
  [["cache", "prune"], 2],
  [["cache", "prune", "--max-size", "lots"], 2],
  [["cache", "wipe"], 2],
  // Stopped by a signal.
  [["sigint"], 130],
  [["sigterm"], 143],
];

Deno.test("every command line exits 0 on success, 1 on a failure, 2 on a usage error, 130/143 on a signal", async () => {
  const wrong: string[] = [];
  for (const [args, expected] of TABLE) {
    const c = captureConsole();
    const code = await main(args, c.io, { ...COMMANDS, ...STUBS });
    if (code !== expected) {
      wrong.push(`${args.join(" ")}: ${code}, not ${expected}: ${c.err.at(-1)}`);
    }
    if (expected === 1 || expected === 2) {
      const errors = c.err.filter((l) => l.startsWith("error: "));
      if (errors.length !== 1) wrong.push(`${args.join(" ")}: ${errors.length} error lines`);
    }
  }
  assert.deepEqual(wrong, []);
});

Deno.test("every command's --help ends with the exit codes", async () => {
  for (const command of Object.keys(COMMANDS)) {
    const c = captureConsole();
    assert.equal(await main([command, "--help"], c.io), 0, command);
    assert.ok(c.out.join("\n").trimEnd().endsWith(EXIT_CODES_HELP.trimEnd()), command);
  }
  assert.match(EXIT_CODES_HELP, /^ {2}2 {4}a usage error/m);
});
