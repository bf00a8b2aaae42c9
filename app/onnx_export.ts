/**
 * ONNX export: turns a saved model into an ONNX `ModelProto` (opset 13),
 * encoded with protobufjs from the embedded schema in app/onnx_schema.ts.
 *
 * The graph takes one input, `pixels`: float32 `[N, rows·cols]` raw pixel
 * values 0..255. The model's normalization runs as `Sub`/`Mul` ops, each layer
 * is a `Gemm` (weights `(IN, OUT)` as stored) and its activation (swish is
 * `x·Sigmoid(x)`). Outputs: `probabilities` `[N, classes]` (softmax, or the
 * sigmoid units divided by their sum, as predict reports them) and `label`
 * int64 `[N]`, the most probable class. Deskew is not in the graph: a model
 * trained on deskewed digits needs its inputs deskewed first (see the doc string).
 *
 * @module
 */
import type { SavedModel } from "../model/format.ts";
import { layerViews } from "../model/network.ts";
import { modelProtoType } from "./onnx_schema.ts";

/** The ONNX operator set the graph uses. */
export const ONNX_OPSET = 13;
/** The ONNX IR version that goes with {@linkcode ONNX_OPSET}. */
export const ONNX_IR_VERSION = 7;

const FLOAT = 1;
const INT64 = 7;
const ATTRIBUTE_INT = 2;

/** The producer written into exported files, and a note on what the graph leaves out. */
export interface OnnxExportOptions {
  /** `producer_version` of the file. @default {"0.9.0"} */
  producerVersion?: string;
}

interface Tensor {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}

interface Node {
  op_type: string;
  name: string;
  input: string[];
  output: string[];
  attribute?: { name: string; type: number; i: number }[];
}

/** Float32 values as little-endian bytes (ONNX raw_data is always little-endian). */
function floatBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(4 * values.length);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i], true);
  return bytes;
}

/** Int64 values as little-endian bytes. */
function int64Bytes(values: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(8 * values.length);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
  return bytes;
}

const tensorType = (elemType: number, dims: (number | string)[]) => ({
  tensor_type: {
    elem_type: elemType,
    shape: {
      dim: dims.map((d) => typeof d === "string" ? { dim_param: d } : { dim_value: d }),
    },
  },
});

/** What a user must know that the graph does not do, for the doc string and for warnings. */
export function onnxPreprocessingNote(model: SavedModel): string {
  const { rows, cols, deskew } = model.preprocessing;
  const input = `Input "pixels": float32 [N, ${rows * cols}], ${rows}×${cols} images row-major, ` +
    `raw pixel values 0..255 (ink high, as in MNIST); normalization is in the graph.`;
  return deskew
    ? `${input} The model was trained on deskewed digits: deskew each image (image moments, ` +
      `shear about the centre of mass, bilinear resampling, as mnist-pipeline's stages/deskew.ts) ` +
      `before feeding it; the graph does not.`
    : input;
}

/** Encodes a saved model as ONNX bytes; see the module doc for the graph's inputs and outputs. */
export function onnxModelBytes(model: SavedModel, options: OnnxExportOptions = {}): Uint8Array {
  const { producerVersion = "0.9.0" } = options;
  const { sizes, activation, output } = model.spec;
  const { normalization } = model.preprocessing;
  const classes = sizes[sizes.length - 1];
  const nodes: Node[] = [];
  const initializers: Tensor[] = [];
  const constant = (name: string, dims: number[], values: ArrayLike<number>) => {
    initializers.push({ name, dims, data_type: FLOAT, raw_data: floatBytes(values) });
    return name;
  };
  const node = (op: string, input: string[], out: string, attribute?: Node["attribute"]) => {
    nodes.push({ op_type: op, name: `${op}_${nodes.length}`, input, output: [out], attribute });
    return out;
  };

  let x = "pixels";
  if (normalization.mode === "standardize") {
    x = node("Sub", [x, constant("norm_mean", [], [normalization.mean])], "centered");
    x = node("Mul", [x, constant("norm_scale", [], [1 / normalization.std])], "normalized");
  } else if (normalization.mode === "scale") {
    x = node("Mul", [x, constant("norm_scale", [], [1 / 255])], "normalized");
  }
  const layers = layerViews(sizes, model.params);
  layers.forEach((layer, l) => {
    const w = constant(`dense_${l}_weights`, [layer.inputs, layer.outputs], layer.weights);
    const b = constant(`dense_${l}_biases`, [layer.outputs], layer.biases);
    const z = node("Gemm", [x, w, b], `z_${l}`);
    if (l === layers.length - 1) {
      x = z;
      return;
    }
    const a = `a_${l}`;
    if (activation === "sigmoid") x = node("Sigmoid", [z], a);
    else if (activation === "tanh") x = node("Tanh", [z], a);
    else if (activation === "relu") x = node("Relu", [z], a);
    else x = node("Mul", [z, node("Sigmoid", [z], `sigmoid_${l}`)], a);
  });
  const axis1 = [{ name: "axis", type: ATTRIBUTE_INT, i: 1 }];
  if (output === "softmax") {
    node("Softmax", [x], "probabilities", axis1);
  } else {
    // Predict divides the sigmoid units by their sum, and falls back to uniform when all are 0.
    const units = node("Sigmoid", [x], "units");
    initializers.push({
      name: "sum_axes",
      dims: [1],
      data_type: INT64,
      raw_data: int64Bytes([1]),
    });
    const total = node("ReduceSum", [units, "sum_axes"], "units_sum", [
      { name: "keepdims", type: ATTRIBUTE_INT, i: 1 },
    ]);
    const positive = node("Greater", [total, constant("zero", [], [0])], "sum_positive");
    const ratio = node("Div", [units, total], "ratio");
    const uniform = constant("uniform", [classes], new Array(classes).fill(1 / classes));
    node("Where", [positive, ratio, uniform], "probabilities");
  }
  node("ArgMax", ["probabilities"], "label", [
    { name: "axis", type: ATTRIBUTE_INT, i: 1 },
    { name: "keepdims", type: ATTRIBUTE_INT, i: 0 },
  ]);

  const note = onnxPreprocessingNote(model);
  const message = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: "", version: ONNX_OPSET }],
    producer_name: "mnist-pipeline",
    producer_version: producerVersion,
    doc_string: note,
    metadata_props: [
      { key: "preprocessing", value: JSON.stringify(model.preprocessing) },
      { key: "deskew_outside_graph", value: String(model.preprocessing.deskew) },
      { key: "spec", value: JSON.stringify(model.spec) },
    ],
    graph: {
      name: "mnist_mlp",
      doc_string: note,
      node: nodes,
      initializer: initializers,
      input: [{ name: "pixels", type: tensorType(FLOAT, ["N", sizes[0]]) }],
      output: [
        { name: "probabilities", type: tensorType(FLOAT, ["N", classes]) },
        { name: "label", type: tensorType(INT64, ["N"]) },
      ],
    },
  };
  const type = modelProtoType();
  const problem = type.verify(message);
  if (problem) throw new TypeError(`Cannot encode ONNX model as ${problem}`);
  return type.encode(type.fromObject(message)).finish();
}
