/**
 * The TF.js export, loaded in TensorFlow.js (a bench dependency): skipped,
 * with a note, when `@tensorflow/tfjs` is not installed (a lean install).
 */
import assert from "node:assert/strict";
import { bundledDataDir } from "../app/bundled.ts";
import { exportModel } from "../app/export.ts";
import { predictFiles } from "../app/predict.ts";
import { encodeModel, type SavedModel } from "../model/format.ts";
import { initialize } from "../model/init.ts";
import { createNetwork, type OutputKind } from "../model/network.ts";
import type { Activation } from "../model/activations.ts";
import { seededRandom } from "../model/rng.ts";
import { decodeIdxFile } from "../stages/idx_decode.ts";
import { idxBytes, tempDir } from "../tests/fixtures.ts";

/** The part of TensorFlow.js the check uses. */
interface Tf {
  setBackend(name: string): Promise<boolean>;
  tensor2d(values: Float32Array, shape: [number, number]): { dispose(): void };
  loadLayersModel(handler: unknown): Promise<{
    predict(x: unknown): { dataSync(): Float32Array; dispose(): void };
  }>;
  io: { fromMemory(artifacts: unknown): unknown };
}

// A variable specifier keeps TF.js out of the module graph, so a lean install type-checks.
const TFJS = "@tensorflow/tfjs";
let tf: Tf | undefined;
try {
  tf = await import(TFJS) as Tf;
  await tf.setBackend("cpu");
} catch {
  console.log(`${TFJS} is not installed: the TF.js export check is skipped`);
}

const N = 200;

for (
  const [activation, output, mode, deskew] of [
    ["relu", "softmax", "standardize", false],
    ["swish", "softmax", "scale", false],
    ["sigmoid", "sigmoid", "none", false],
    ["tanh", "sigmoid", "scale", false],
  ] as const
) {
  Deno.test({
    name:
      `a TF.js export of a ${activation}/${output} model (${mode}) gives predict's probabilities`,
    ignore: tf === undefined,
    async fn() {
      const dir = await tempDir();
      const { data } = await decodeIdxFile(`${bundledDataDir()}/t10k-images-idx3-ubyte`, 3);
      const pixels = data.slice(0, N * 784);
      await Deno.writeFile(`${dir}/images`, idxBytes([N, 28, 28], pixels));
      const model = savedModel(activation, output, mode, deskew);
      await Deno.writeFile(`${dir}/model.mnpm`, encodeModel(model));
      await exportModel({ model: `${dir}/model.mnpm`, format: "tfjs", out: `${dir}/tfjs` });
      const json = JSON.parse(await Deno.readTextFile(`${dir}/tfjs/model.json`));
      const weights = await Deno.readFile(`${dir}/tfjs/weights.bin`);
      const layers = await tf!.loadLayersModel(tf!.io.fromMemory({
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0].weights,
        weightData: weights.buffer,
      }));
      const x = tf!.tensor2d(Float32Array.from(pixels), [N, 784]);
      const y = layers.predict(x);
      const units = y.dataSync();
      x.dispose();
      y.dispose();
      const expected = await predictFiles(`${dir}/model.mnpm`, [`${dir}/images`]);
      let worst = 0;
      expected.predictions.forEach((p, i) => {
        const row = units.subarray(i * 10, i * 10 + 10);
        // A sigmoid model outputs its units; predict divides them by their sum.
        const sum = output === "sigmoid" ? row.reduce((a, b) => a + b, 0) : 1;
        p.probabilities.forEach((v, c) => {
          worst = Math.max(worst, Math.abs(v - row[c] / sum));
        });
      });
      console.log(`tfjs vs predict (${activation}/${output}/${mode}): ${worst.toExponential(2)}`);
      assert.ok(worst <= 1e-5, `largest difference ${worst}`);
    },
  });
}

function savedModel(
  activation: Activation,
  output: OutputKind,
  mode: "scale" | "standardize" | "none",
  deskew: boolean,
): SavedModel {
  const spec = { sizes: [784, 24, 10], activation, output };
  const net = createNetwork(spec);
  initialize(net, "xavier", seededRandom(5, "tfjs-export-test"));
  return {
    spec,
    params: net.params as Float32Array,
    preprocessing: {
      rows: 28,
      cols: 28,
      normalization: mode === "standardize"
        ? { mode, mean: 33.3, std: 78.6 }
        : { mode, mean: 0, std: 1 },
      deskew,
    },
  };
}
