/**
 * ONNX export: turns a saved model into an ONNX `ModelProto` (opset 13),
 * encoded with pbf field by field, with the field numbers of onnx.proto
 * tabled in app/onnx_schema.ts (fields in field-number order, as protobuf
 * encoders write them).
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
import { PbfWriter } from "pbf";
import {
  ATTRIBUTE_PROTO,
  ATTRIBUTE_TYPE,
  DATA_TYPE,
  GRAPH_PROTO,
  MODEL_PROTO,
  NODE_PROTO,
  OPERATOR_SET_ID_PROTO,
  STRING_STRING_ENTRY_PROTO,
  TENSOR_PROTO,
  TENSOR_SHAPE_DIMENSION,
  TENSOR_SHAPE_PROTO,
  TYPE_PROTO,
  TYPE_PROTO_TENSOR,
  VALUE_INFO_PROTO,
} from "./onnx_schema.ts";

/** The ONNX operator set the graph uses. */
export const ONNX_OPSET = 13;
/** The ONNX IR version that goes with {@linkcode ONNX_OPSET}. */
export const ONNX_IR_VERSION = 7;

const FLOAT = DATA_TYPE.FLOAT;
const INT64 = DATA_TYPE.INT64;
const ATTRIBUTE_INT = ATTRIBUTE_TYPE.INT;

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

interface Attribute {
  name: string;
  type: typeof ATTRIBUTE_INT;
  i: number;
}

interface Node {
  op_type: string;
  name: string;
  input: string[];
  output: string[];
  attribute?: Attribute[];
}

interface ValueInfo {
  name: string;
  elemType: number;
  /** Fixed sizes, or names of symbolic dimensions such as the batch size `N`. */
  dims: (number | string)[];
}

interface Graph {
  name: string;
  doc_string: string;
  node: Node[];
  initializer: Tensor[];
  input: ValueInfo[];
  output: ValueInfo[];
}

interface Model {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  doc_string: string;
  graph: Graph;
  metadata_props: { key: string; value: string }[];
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

// One writer per message, each writing its fields in field-number order. Counts and sizes
// are non-negative integers, so every int64 is a plain varint.

function writeDimension(dim: number | string, pbf: PbfWriter): void {
  if (typeof dim === "string") pbf.writeStringField(TENSOR_SHAPE_DIMENSION.dim_param, dim);
  else pbf.writeVarintField(TENSOR_SHAPE_DIMENSION.dim_value, dim);
}

function writeShape(dims: (number | string)[], pbf: PbfWriter): void {
  for (const dim of dims) pbf.writeMessage(TENSOR_SHAPE_PROTO.dim, writeDimension, dim);
}

function writeTensorType(value: ValueInfo, pbf: PbfWriter): void {
  pbf.writeVarintField(TYPE_PROTO_TENSOR.elem_type, value.elemType);
  pbf.writeMessage(TYPE_PROTO_TENSOR.shape, writeShape, value.dims);
}

function writeType(value: ValueInfo, pbf: PbfWriter): void {
  pbf.writeMessage(TYPE_PROTO.tensor_type, writeTensorType, value);
}

function writeValueInfo(value: ValueInfo, pbf: PbfWriter): void {
  pbf.writeStringField(VALUE_INFO_PROTO.name, value.name);
  pbf.writeMessage(VALUE_INFO_PROTO.type, writeType, value);
}

function writeTensor(tensor: Tensor, pbf: PbfWriter): void {
  for (const dim of tensor.dims) pbf.writeVarintField(TENSOR_PROTO.dims, dim);
  pbf.writeVarintField(TENSOR_PROTO.data_type, tensor.data_type);
  pbf.writeStringField(TENSOR_PROTO.name, tensor.name);
  pbf.writeBytesField(TENSOR_PROTO.raw_data, tensor.raw_data);
}

function writeAttribute(attribute: Attribute, pbf: PbfWriter): void {
  pbf.writeStringField(ATTRIBUTE_PROTO.name, attribute.name);
  pbf.writeVarintField(ATTRIBUTE_PROTO.i, attribute.i);
  pbf.writeVarintField(ATTRIBUTE_PROTO.type, attribute.type);
}

function writeNode(node: Node, pbf: PbfWriter): void {
  for (const input of node.input) pbf.writeStringField(NODE_PROTO.input, input);
  for (const output of node.output) pbf.writeStringField(NODE_PROTO.output, output);
  pbf.writeStringField(NODE_PROTO.name, node.name);
  pbf.writeStringField(NODE_PROTO.op_type, node.op_type);
  for (const attribute of node.attribute ?? []) {
    pbf.writeMessage(NODE_PROTO.attribute, writeAttribute, attribute);
  }
}

function writeGraph(graph: Graph, pbf: PbfWriter): void {
  for (const node of graph.node) pbf.writeMessage(GRAPH_PROTO.node, writeNode, node);
  pbf.writeStringField(GRAPH_PROTO.name, graph.name);
  for (const tensor of graph.initializer) {
    pbf.writeMessage(GRAPH_PROTO.initializer, writeTensor, tensor);
  }
  pbf.writeStringField(GRAPH_PROTO.doc_string, graph.doc_string);
  for (const value of graph.input) pbf.writeMessage(GRAPH_PROTO.input, writeValueInfo, value);
  for (const value of graph.output) pbf.writeMessage(GRAPH_PROTO.output, writeValueInfo, value);
}

function writeOperatorSetId(opset: Model["opset_import"][number], pbf: PbfWriter): void {
  pbf.writeStringField(OPERATOR_SET_ID_PROTO.domain, opset.domain);
  pbf.writeVarintField(OPERATOR_SET_ID_PROTO.version, opset.version);
}

function writeEntry(entry: Model["metadata_props"][number], pbf: PbfWriter): void {
  pbf.writeStringField(STRING_STRING_ENTRY_PROTO.key, entry.key);
  pbf.writeStringField(STRING_STRING_ENTRY_PROTO.value, entry.value);
}

function writeModel(model: Model, pbf: PbfWriter): void {
  pbf.writeVarintField(MODEL_PROTO.ir_version, model.ir_version);
  pbf.writeStringField(MODEL_PROTO.producer_name, model.producer_name);
  pbf.writeStringField(MODEL_PROTO.producer_version, model.producer_version);
  pbf.writeStringField(MODEL_PROTO.doc_string, model.doc_string);
  pbf.writeMessage(MODEL_PROTO.graph, writeGraph, model.graph);
  for (const opset of model.opset_import) {
    pbf.writeMessage(MODEL_PROTO.opset_import, writeOperatorSetId, opset);
  }
  for (const entry of model.metadata_props) {
    pbf.writeMessage(MODEL_PROTO.metadata_props, writeEntry, entry);
  }
}

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
  const message: Model = {
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
      input: [{ name: "pixels", elemType: FLOAT, dims: ["N", sizes[0]] }],
      output: [
        { name: "probabilities", elemType: FLOAT, dims: ["N", classes] },
        { name: "label", elemType: INT64, dims: ["N"] },
      ],
    },
  };
  const pbf = new PbfWriter();
  writeModel(message, pbf);
  return pbf.finish();
}
