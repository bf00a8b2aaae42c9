import assert from "node:assert/strict";
import { buildConfig, parseHidden, PRESET_VALUES } from "../../app/config.ts";
import { ConfigError } from "../../engine/errors.ts";

Deno.test("buildConfig() starts from the default preset", () => {
  const config = buildConfig({});
  assert.equal(config.preset, "default");
  assert.equal(config.deskew, true);
  assert.deepEqual(config.hidden, PRESET_VALUES.default.hidden);
  assert.equal(config.cacheDir, ".cache");
  assert.equal(config.useCache, true);
  assert.equal(config.data, null);
  assert.equal(config.memory, 512);
  assert.equal(buildConfig({ memory: "0.5" }).memory, 0.5);
});

Deno.test("buildConfig() textbook preset is the book's NeuralNetMLP", () => {
  const c = buildConfig({ preset: "textbook" });
  assert.deepEqual(
    [
      c.hidden,
      c.activation,
      c.output,
      c.normalize,
      c.init,
      c.optimizer,
      c.eta,
      c.momentum,
      c.decay,
      c.l1,
      c.l2,
      c.batching,
      c.epochs,
      c.seed,
      c.reduction,
      c.decaySchedule,
    ],
    [
      [50],
      "sigmoid",
      "sigmoid",
      "none",
      "uniform",
      "sgd",
      0.001,
      0.001,
      0.00001,
      0,
      0.1,
      { minibatches: 50 },
      1000,
      1,
      "sum",
      "textbook",
    ],
  );
});

Deno.test("buildConfig() lets explicit flags override the preset", () => {
  const c = buildConfig({
    preset: "textbook",
    epochs: "50",
    "batch-size": "64",
    deskew: true,
    hidden: "100,50",
  });
  assert.equal(c.epochs, 50);
  assert.deepEqual(c.batching, { batchSize: 64 });
  assert.equal(c.deskew, true);
  assert.deepEqual(c.hidden, [100, 50]);
  assert.equal(buildConfig({ "no-deskew": true }).deskew, false);
  assert.deepEqual(parseHidden(""), []);
});

Deno.test("buildConfig() names the flag, the rule and the value it rejects", () => {
  const cases: [Record<string, string | boolean>, string][] = [
    [{ epochs: "0" }, 'Cannot use --epochs as it must be an integer ≥ 1: current value is "0"'],
    [{ eta: "-1" }, 'Cannot use --eta as it must be a number > 0: current value is "-1"'],
    [
      { validation: "1.5" },
      'Cannot use --validation as it must be a number ≥ 0 and < 1: current value is "1.5"',
    ],
    [{ hidden: "10,x" }, 'Cannot use --hidden as it must be an integer ≥ 1: current value is "x"'],
    [
      { preset: "book" },
      'Cannot use --preset as it must be one of default, textbook, best: current value is "book"',
    ],
    [{ "batch-size": "8", minibatches: "4" }, "Cannot use --batch-size with --minibatches"],
    [{ patience: "3" }, "Cannot stop early with --patience 3 as it needs a validation split"],
    [
      { memory: "0" },
      'Cannot use --memory as it must be a number ≤ 1048576 and > 0: current value is "0"',
    ],
    [
      { seed: "4294967296" },
      'Cannot use --seed as it must be an integer ≥ 0 and ≤ 4294967295: current value is "4294967296"',
    ],
  ];
  for (const [flags, message] of cases) {
    assert.throws(
      () => buildConfig(flags),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith(message),
    );
  }
});

Deno.test("buildConfig() reads --augment with its ranges and --dropout, and refuses a stray range", () => {
  assert.equal(buildConfig({}).augment.kind, "none");
  assert.equal(buildConfig({}).dropout, 0);
  const both = buildConfig({ augment: "both", rotate: "12", "elastic-alpha": "20" });
  assert.deepEqual(both.augment, {
    kind: "both",
    rotate: 12,
    scale: 0.1,
    shear: 10,
    shift: 2,
    elasticAlpha: 20,
    elasticSigma: 4,
  });
  assert.equal(buildConfig({ dropout: "0.5" }).dropout, 0.5);
  assert.throws(() => buildConfig({ rotate: "5" }), {
    name: "UsageError",
    message:
      "Cannot use --rotate as it shapes the affine distortion and --augment is none. Hint: add --augment affine",
  });
  assert.throws(() => buildConfig({ augment: "affine", "elastic-sigma": "3" }), {
    name: "UsageError",
    message:
      "Cannot use --elastic-sigma as it shapes the elastic distortion and --augment is affine. Hint: add --augment both",
  });
  assert.throws(
    () => buildConfig({ augment: "wobble" }),
    /--augment as it must be one of none, affine, elastic, both/,
  );
  assert.throws(
    () => buildConfig({ dropout: "1" }),
    /--dropout as it must be a number ≥ 0 and < 1/,
  );
  assert.throws(() => buildConfig({ augment: "both", scale: "1.5" }), /--scale as it must be/);
});

Deno.test("buildConfig() best preset: deskew, one wide ReLU layer, mild affine and elastic distortion, dropout", () => {
  const c = buildConfig({ preset: "best" });
  assert.equal(c.preset, "best");
  assert.equal(c.deskew, true);
  assert.deepEqual(c.hidden, [800]);
  assert.equal(c.augment.kind, "both");
  assert.ok(c.augment.elasticAlpha > 0 && c.augment.rotate > 0);
  assert.ok(c.dropout > 0 && c.dropout < 0.5);
  assert.equal(c.validation, 0);
  // Its ranges are the starting point of --augment too: switching kind keeps them.
  assert.equal(buildConfig({ preset: "best", augment: "elastic" }).augment.elasticSigma, 5);
  assert.equal(buildConfig({ preset: "best", augment: "none" }).augment.kind, "none");
});
