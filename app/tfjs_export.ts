/**
 * TensorFlow.js export: a saved model as a TF.js layers model, `model.json`
 * (format `layers-model`, a `Sequential` of `Dense` layers) and `weights.bin`
 * (float32 little-endian, in the order of `weightsManifest`), written by hand
 * from the TF.js format so no TF.js package is needed to export.
 *
 * The input is raw pixels 0..255, `[null, rows·cols]`: the model's
 * normalization is folded into the first layer (`W' = W·s`,
 * `b' = b − o·s·Σᵢ Wᵢ` for `(x − o)·s`), in float64 before rounding. A softmax
 * model outputs probabilities; a sigmoid model outputs its sigmoid units, which
 * predict divides by their sum. Deskew stays outside, as for ONNX.
 *
 * @module
 */
import type { SavedModel } from "../model/format.ts";
import { layerViews } from "../model/network.ts";

/** The name of the weights file `model.json` points at. */
export const TFJS_WEIGHTS_FILE = "weights.bin";

/** One entry of a TF.js weights manifest. */
export interface TfjsWeightSpec {
  /** `<layer>/kernel` or `<layer>/bias`. */
  name: string;
  /** Tensor shape. */
  shape: number[];
  /** Always float32. */
  dtype: "float32";
}

/** The two files of a TF.js layers model. */
export interface TfjsArtifacts {
  /** The parsed `model.json`. */
  modelJson: {
    format: "layers-model";
    generatedBy: string;
    convertedBy: null;
    modelTopology: unknown;
    weightsManifest: { paths: string[]; weights: TfjsWeightSpec[] }[];
    userDefinedMetadata: Record<string, unknown>;
  };
  /** The bytes of `weights.bin`. */
  weights: Uint8Array;
}

/** The normalization `(x − offset)·scale` a model applies to raw pixels. */
function affineOf(model: SavedModel): { offset: number; scale: number } {
  const { mode, mean, std } = model.preprocessing.normalization;
  if (mode === "scale") return { offset: 0, scale: 1 / 255 };
  if (mode === "standardize") return { offset: mean, scale: 1 / std };
  return { offset: 0, scale: 1 };
}

/** Builds `model.json` and `weights.bin` for a saved model; see the module doc. */
export function tfjsArtifacts(model: SavedModel, producerVersion = "0.9.0"): TfjsArtifacts {
  const { sizes, activation, output } = model.spec;
  const layers = layerViews(sizes, model.params);
  const { offset, scale } = affineOf(model);
  const specs: TfjsWeightSpec[] = [];
  const chunks: Float32Array[] = [];
  const topologyLayers = layers.map((layer, l) => {
    const name = `dense_${l + 1}`;
    let kernel = Float32Array.from(layer.weights);
    let bias = Float32Array.from(layer.biases);
    if (l === 0 && (offset !== 0 || scale !== 1)) {
      kernel = Float32Array.from(layer.weights, (w) => w * scale);
      bias = Float32Array.from(layer.biases, (b, j) => {
        let column = 0;
        for (let i = 0; i < layer.inputs; i++) column += layer.weights[i * layer.outputs + j];
        return b - offset * scale * column;
      });
    }
    specs.push({ name: `${name}/kernel`, shape: [layer.inputs, layer.outputs], dtype: "float32" });
    specs.push({ name: `${name}/bias`, shape: [layer.outputs], dtype: "float32" });
    chunks.push(kernel, bias);
    const last = l === layers.length - 1;
    return {
      class_name: "Dense",
      config: {
        name,
        trainable: true,
        dtype: "float32",
        units: layer.outputs,
        activation: last ? output : activation,
        use_bias: true,
        ...(l === 0 ? { batch_input_shape: [null, layer.inputs] } : {}),
      },
    };
  });
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const weights = new Uint8Array(4 * total);
  const view = new DataView(weights.buffer);
  let at = 0;
  for (const chunk of chunks) {
    for (const v of chunk) {
      view.setFloat32(at, v, true);
      at += 4;
    }
  }
  return {
    modelJson: {
      format: "layers-model",
      generatedBy: `mnist-pipeline ${producerVersion}`,
      convertedBy: null,
      modelTopology: {
        class_name: "Sequential",
        config: { name: "mnist_mlp", layers: topologyLayers },
        keras_version: "tfjs-layers 4.22.0",
        backend: "tensor_flow.js",
      },
      weightsManifest: [{ paths: [`./${TFJS_WEIGHTS_FILE}`], weights: specs }],
      userDefinedMetadata: {
        input: "raw pixels 0..255, normalization folded into dense_1",
        output: output === "softmax"
          ? "probabilities"
          : "sigmoid units: divide by their sum for predict's probabilities",
        preprocessing: model.preprocessing,
        deskewOutsideGraph: model.preprocessing.deskew,
      },
    },
    weights,
  };
}
