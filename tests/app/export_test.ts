import assert from "node:assert/strict";
import { exportModel } from "../../app/export.ts";
import { ConfigError, InputError } from "../../engine/errors.ts";
import { encodeModel } from "../../model/format.ts";
import { captureConsole, seededModel, tempDir } from "../fixtures.ts";
import { main } from "../../main.ts";

Deno.test("export warns that a deskewing model needs deskewed input, and writes TF.js files", async () => {
  const { path, model } = await seededModel([8], "relu", "softmax", "scale");
  model.preprocessing.deskew = true;
  await Deno.writeFile(path, encodeModel(model));
  const out = `${await tempDir()}/tfjs`;
  const console = captureConsole();
  const code = await main(
    ["export", "--model", path, "--format", "tfjs", "--out", out],
    console.io,
  );
  assert.equal(code, 0);
  assert.match(console.err.join("\n"), /^warning: the model was trained on deskewed digits/);
  assert.deepEqual(console.out, [`wrote ${out}/weights.bin`, `wrote ${out}/model.json`]);
  const json = JSON.parse(await Deno.readTextFile(`${out}/model.json`));
  assert.equal(json.format, "layers-model");
  assert.deepEqual(json.weightsManifest[0].weights.map((w: { name: string }) => w.name), [
    "dense_1/kernel",
    "dense_1/bias",
    "dense_2/kernel",
    "dense_2/bias",
  ]);
  assert.equal((await Deno.stat(`${out}/weights.bin`)).size, 4 * (785 * 8 + 9 * 10));
});

Deno.test("export --out of an existing folder writes model.onnx into it", async () => {
  const { path } = await seededModel([8], "relu", "softmax", "scale");
  const dir = await tempDir();
  const console = captureConsole();
  assert.equal(
    await main(["export", "--model", path, "--format", "onnx", "--out", dir], console.io),
    0,
  );
  assert.deepEqual(console.out, [`wrote ${dir}/model.onnx`]);
  assert.deepEqual(console.err, []);
});

Deno.test("export rejects a bad --format, --model or --out with the rule and the value", async () => {
  const { path } = await seededModel([8], "relu", "softmax", "scale");
  const dir = await tempDir();
  await assert.rejects(
    exportModel({ model: path, format: "pt" as "onnx", out: `${dir}/m` }),
    new ConfigError(
      `Cannot export as --format must be one of onnx, tfjs: current value is "pt"`,
    ),
  );
  await assert.rejects(
    exportModel({ model: `${dir}/nothing`, format: "onnx", out: `${dir}/m.onnx` }),
    InputError,
  );
  await assert.rejects(
    exportModel({ model: path, format: "onnx", out: `${dir}/missing/m.onnx` }),
    new ConfigError(
      `Cannot export onnx to "${dir}/missing/m.onnx" as its folder "${dir}/missing" must exist: ` +
        `it does not. Hint: create it, or choose another --out`,
    ),
  );
  await assert.rejects(
    exportModel({ model: path, format: "tfjs", out: path }),
    new ConfigError(
      `Cannot export tfjs to "${path}" as --out must be a folder (for model.json and weights.bin): ` +
        `it is a file. Hint: choose a folder name`,
    ),
  );
  const console = captureConsole();
  assert.equal(await main(["export", "--model", path, "--format", "onnx"], console.io), 2);
  assert.deepEqual(console.err, ["error: export needs --out PATH. Run with --help"]);
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
});
