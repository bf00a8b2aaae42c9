import assert from "node:assert/strict";
import { decodeModel, encodeModel, type SavedModel } from "../../model/format.ts";
import { initialize } from "../../model/init.ts";
import { createNetwork, parameterCount } from "../../model/network.ts";
import { ModelFormatError } from "../../model/errors.ts";
import { seededRandom } from "../../model/rng.ts";
import { networkOf, predictAll } from "../../stages/evaluate.ts";

function model(): SavedModel {
  const spec = { sizes: [6, 5, 3], activation: "tanh" as const, output: "softmax" as const };
  const net = createNetwork(spec);
  initialize(net, "xavier", seededRandom(1, "format"));
  return {
    spec,
    preprocessing: {
      rows: 2,
      cols: 3,
      normalization: { mode: "standardize", mean: 33.3, std: 78.5 },
      deskew: true,
    },
    params: net.params as Float32Array,
  };
}

const rejects = (bytes: Uint8Array, fragment: string) =>
  assert.throws(
    () => decodeModel(bytes, "m.mnpm"),
    (e: unknown) =>
      e instanceof ModelFormatError && e.message.startsWith('Cannot load model "m.mnpm" as') &&
      e.message.includes(fragment),
  );

Deno.test("encodeModel() then decodeModel() gives identical predictions", () => {
  const original = model();
  const loaded = decodeModel(encodeModel(original), "m.mnpm");
  assert.deepEqual(loaded, original);
  const images = Float32Array.from({ length: 4 * 6 }, (_, i) => Math.sin(i));
  const data = { images, labels: new Uint8Array(4), rows: 2, cols: 3 };
  assert.deepEqual(
    predictAll(networkOf(loaded), data).probabilities,
    predictAll(networkOf(original), data).probabilities,
  );
});

Deno.test("decodeModel() rejects a wrong magic and another format version", () => {
  const bytes = encodeModel(model());
  const badMagic = bytes.slice();
  badMagic[0] = 0x4e;
  rejects(badMagic, "its magic must be MNPMODEL");
  const newer = bytes.slice();
  new DataView(newer.buffer).setUint32(8, 2, true);
  rejects(newer, "its format version must be 1: current value is 2");
});

Deno.test("decodeModel() rejects a truncated file and shapes that disagree with its length", () => {
  const bytes = encodeModel(model());
  rejects(bytes.subarray(0, bytes.length - 4), "(truncated)");
  rejects(bytes.subarray(0, 10), "16-byte preamble");
  // The 53 parameters of [6, 5, 3] under a header that claims [6, 4, 3].
  const mislabelled = encodeModel({ ...model(), spec: { ...model().spec, sizes: [6, 4, 3] } });
  rejects(mislabelled, "sizes [6, 4, 3] need 43 parameters");
});

Deno.test("decodeModel() rejects non-finite weights and a header that is not JSON", () => {
  const m = model();
  m.params[7] = NaN;
  rejects(encodeModel(m), "every weight must be finite: parameter 7 is NaN");
  const bytes = encodeModel(model());
  bytes[16] = 0x7b + 1;
  rejects(bytes, "its header must be JSON");
});

/**
 * A model file with `edit` applied to the valid header of {@linkcode model}, and
 * as many zero (finite) parameters as the edited sizes need, so only the header breaks a rule.
 */
// deno-lint-ignore no-explicit-any -- the tests break the raw JSON in every way on purpose
function withHeader(edit: (header: Record<string, any>) => unknown): Uint8Array {
  const bytes = encodeModel(model());
  const length = new DataView(bytes.buffer).getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + length)));
  const edited = edit(header) ?? header;
  const text = new TextEncoder().encode(
    typeof edited === "string" ? edited : JSON.stringify(edited),
  );
  const sizes = (edited as { sizes?: unknown }).sizes;
  const count = Array.isArray(sizes) && sizes.every((s) => typeof s === "number")
    ? parameterCount(sizes)
    : 0;
  const paramsAt = 4 * Math.ceil((16 + text.length) / 4);
  const out = new Uint8Array(paramsAt + 4 * count);
  out.set(bytes.subarray(0, 16));
  new DataView(out.buffer).setUint32(12, text.length, true);
  out.set(text, 16);
  return out;
}

const HINT = ". Hint: retrain, or point --model at another run";

const rejectsExactly = (bytes: Uint8Array, rule: string) =>
  assert.throws(() => decodeModel(bytes, "m.mnpm"), {
    name: "ModelFormatError",
    message: `Cannot load model "m.mnpm" as ${rule}${HINT}`,
  });

Deno.test("decodeModel() rejects an unknown normalization mode, a zero, negative or non-finite std, and a non-finite mean", () => {
  const normalization = (n: Record<string, unknown>) =>
    withHeader((h) => void Object.assign(h.preprocessing.normalization, n));
  rejectsExactly(
    normalization({ mode: "whiten" }),
    'its preprocessing.normalization.mode must be one of scale, standardize, none: current value is "whiten"',
  );
  for (const [std, shown] of [[0, "0"], [-2, "-2"], ["1", '"1"'], [null, "null"]]) {
    rejectsExactly(
      normalization({ std }),
      `its preprocessing.normalization.std must be a finite number above 0: current value is ${shown}`,
    );
  }
  // JSON has no Infinity, but 1e999 parses to it.
  const infinite = (field: string) =>
    withHeader((h) =>
      JSON.stringify(h).replace(new RegExp(`"${field}":[^,}]+`), `"${field}":1e999`)
    );
  rejectsExactly(
    infinite("std"),
    "its preprocessing.normalization.std must be a finite number above 0: current value is Infinity",
  );
  rejectsExactly(
    infinite("mean"),
    "its preprocessing.normalization.mean must be a finite number: current value is Infinity",
  );
  // A NaN mean is written as null.
  const nan = model();
  nan.preprocessing.normalization.mean = NaN;
  rejectsExactly(
    encodeModel(nan),
    "its preprocessing.normalization.mean must be a finite number: current value is null",
  );
  rejectsExactly(
    withHeader((h) => void delete h.preprocessing.normalization),
    "its preprocessing.normalization must be an object: current value is undefined",
  );
});

Deno.test("decodeModel() rejects rows or cols below 1 or not integers, and inputs other than rows·cols", () => {
  const shape = (rows: unknown, cols: unknown) =>
    withHeader((h) => void Object.assign(h.preprocessing, { rows, cols }));
  // −2 × −3 is the 6 inputs too: the product alone cannot catch it.
  rejectsExactly(
    shape(-2, -3),
    "its preprocessing.rows must be an integer ≥ 1: current value is -2",
  );
  rejectsExactly(shape(2, 0), "its preprocessing.cols must be an integer ≥ 1: current value is 0");
  rejectsExactly(
    shape(2, 1.5),
    "its preprocessing.cols must be an integer ≥ 1: current value is 1.5",
  );
  rejectsExactly(
    shape("2", 3),
    'its preprocessing.rows must be an integer ≥ 1: current value is "2"',
  );
  rejectsExactly(
    shape(3, 3),
    "its input count (the first of sizes) must be preprocessing.rows × preprocessing.cols = 3×3 = 9: current value is 6",
  );
  rejectsExactly(
    withHeader((h) => void (h.preprocessing.deskew = "yes")),
    'its preprocessing.deskew must be true or false: current value is "yes"',
  );
});

Deno.test("decodeModel() takes 2 to 256 classes, as predictions and labels are bytes", () => {
  const classes = (n: number) => withHeader((h) => void (h.sizes = [6, 5, n]));
  rejectsExactly(
    classes(257),
    "its class count (the last of sizes) must be 2 to 256, as labels are bytes: current value is 257",
  );
  rejectsExactly(
    classes(1),
    "its class count (the last of sizes) must be 2 to 256, as labels are bytes: current value is 1",
  );
  assert.equal(decodeModel(classes(256), "m.mnpm").spec.sizes[2], 256);
  assert.equal(decodeModel(classes(2), "m.mnpm").spec.sizes[2], 2);
});

Deno.test("decodeModel() rejects an unknown activation or output, and a header that is not an object", () => {
  rejectsExactly(
    withHeader((h) => void (h.activation = "gelu")),
    'its activation must be one of sigmoid, tanh, relu, swish: current value is "gelu"',
  );
  rejectsExactly(
    withHeader((h) => void (h.output = "linear")),
    'its output must be one of softmax, sigmoid: current value is "linear"',
  );
  rejectsExactly(
    withHeader(() => "null"),
    "its header must be a JSON object: current value is null",
  );
  rejectsExactly(
    withHeader(() => "[6, 5, 3]"),
    "its header must be a JSON object: current value is [6,5,3]",
  );
  rejectsExactly(
    withHeader((h) => void (h.sizes = [6, 0, 3])),
    "its sizes must be two or more positive integers: current value is [6,0,3]",
  );
  rejectsExactly(
    withHeader((h) => void delete h.preprocessing),
    "its preprocessing must be an object: current value is undefined",
  );
});

Deno.test("decodeModel() rejects infinite weights as well as NaN", () => {
  const m = model();
  m.params[52] = -Infinity;
  rejectsExactly(encodeModel(m), "every weight must be finite: parameter 52 is -Infinity");
});

Deno.test("decodeModel() returns only the known header fields", () => {
  const loaded = decodeModel(
    withHeader((h) => {
      h.extra = 1;
      h.preprocessing.normalization.note = "x";
    }),
    "m.mnpm",
  );
  assert.deepEqual(loaded.preprocessing, model().preprocessing);
  assert.deepEqual(Object.keys(loaded.spec), ["sizes", "activation", "output"]);
});
