import assert from "node:assert/strict";
import { exportModel } from "../../app/export.ts";
import { ConfigError, InputError } from "../../engine/errors.ts";
import { encodeModel } from "../../model/format.ts";
import { captureConsole, seededModel, tempDir } from "../fixtures.ts";
import { main } from "../../main.ts";
import { PbfReader } from "pbf";
import { onnxModelBytes } from "../../app/onnx_export.ts";
import { layerViews } from "../../model/network.ts";

/** One protobuf message as field number → values (varints as numbers, the rest as bytes). */
type Fields = Map<number, (number | Uint8Array)[]>;

/** Decodes one message generically with pbf's reader, to check what the writer put where. */
function fields(bytes: Uint8Array): Fields {
  return new PbfReader(bytes).readFields((tag, result: Fields, pbf) => {
    const value = pbf.type === 0 ? pbf.readVarint() : pbf.type === 2 ? pbf.readBytes() : null;
    assert.ok(value !== null, `field ${tag} has unexpected wire type ${pbf.type}`);
    result.set(tag, [...result.get(tag) ?? [], value]);
  }, new Map());
}
const all = (m: Fields, tag: number) => m.get(tag) ?? [];
const one = (m: Fields, tag: number) => {
  const values = all(m, tag);
  assert.equal(values.length, 1, `field ${tag}`);
  return values[0];
};
const text = (m: Fields, tag: number) => new TextDecoder().decode(one(m, tag) as Uint8Array);
const message = (m: Fields, tag: number) => fields(one(m, tag) as Uint8Array);
const messages = (m: Fields, tag: number) => all(m, tag).map((v) => fields(v as Uint8Array));

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

Deno.test("the ONNX bytes carry onnx.proto's field numbers: opset, graph, weights and shapes", async () => {
  const { model } = await seededModel([8], "relu", "softmax", "scale");
  const file = fields(onnxModelBytes(model, { producerVersion: "1.2.3" }));
  assert.equal(one(file, 1), 7); // ir_version
  assert.equal(text(file, 2), "mnist-pipeline"); // producer_name
  assert.equal(text(file, 3), "1.2.3"); // producer_version
  const opset = message(file, 8); // opset_import
  assert.deepEqual([text(opset, 1), one(opset, 2)], ["", 13]);
  const metadata = messages(file, 14).map((e) => [text(e, 1), text(e, 2)]);
  assert.deepEqual(metadata.map(([key]) => key), ["preprocessing", "deskew_outside_graph", "spec"]);
  assert.deepEqual(JSON.parse(metadata[2][1]), model.spec);

  const graph = message(file, 7);
  assert.equal(text(graph, 2), "mnist_mlp");
  const nodes = messages(graph, 1).map((n) => ({
    input: all(n, 1).map((v) => new TextDecoder().decode(v as Uint8Array)),
    op: text(n, 4),
    attributes: messages(n, 5).map((a) => [text(a, 1), one(a, 3), one(a, 20)]),
  }));
  assert.deepEqual(nodes.map((n) => n.op), ["Mul", "Gemm", "Relu", "Gemm", "Softmax", "ArgMax"]);
  assert.deepEqual(nodes[1].input, ["normalized", "dense_0_weights", "dense_0_biases"]);
  assert.deepEqual(nodes[5].attributes, [["axis", 1, 2], ["keepdims", 0, 2]]); // type 2: INT

  const tensors = messages(graph, 5).map((t) => ({
    name: text(t, 8),
    dims: all(t, 1),
    type: one(t, 2),
    raw: one(t, 9) as Uint8Array,
  }));
  assert.deepEqual(tensors.map((t) => [t.name, t.dims, t.type]), [
    ["norm_scale", [], 1],
    ["dense_0_weights", [784, 8], 1],
    ["dense_0_biases", [8], 1],
    ["dense_1_weights", [8, 10], 1],
    ["dense_1_biases", [10], 1],
  ]);
  const weights = tensors[1].raw;
  const first = layerViews(model.spec.sizes, model.params)[0].weights;
  assert.deepEqual(new Float32Array(weights.slice().buffer), Float32Array.from(first));

  const shape = (v: Fields) => {
    const tensor = message(message(v, 2), 1); // type.tensor_type
    const dims = messages(message(tensor, 2), 1).map((d) => d.has(2) ? text(d, 2) : one(d, 1) // dim_param or dim_value
    );
    return [text(v, 1), one(tensor, 1), dims];
  };
  assert.deepEqual(messages(graph, 11).map(shape), [["pixels", 1, ["N", 784]]]);
  assert.deepEqual(messages(graph, 12).map(shape), [
    ["probabilities", 1, ["N", 10]],
    ["label", 7, ["N"]],
  ]);
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
