import assert from "node:assert/strict";
import { decodeModel, encodeModel, type SavedModel } from "../../model/format.ts";
import { initialize } from "../../model/init.ts";
import { createNetwork } from "../../model/network.ts";
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
