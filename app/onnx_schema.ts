/**
 * The field numbers of the ONNX protobuf messages an exported model uses, as a
 * typed table that app/onnx_export.ts writes with pbf field by field. Every
 * number is copied from onnx/onnx's `onnx/onnx.proto` (IR version 7, proto2
 * syntax; the comment on each field gives its type there); fields an MLP
 * never needs (sparse tensors, training info, functions, segments, external
 * data) are left out, which protobuf allows: a reader skips nothing it expects.
 *
 * Wire types follow from the `.proto` types: `int32`/`int64`/enums are varints,
 * `string`/`bytes`/messages are length-delimited. Repeated scalars in proto2
 * are unpacked unless marked `[packed = true]`, so `TensorProto.dims` is
 * written as one varint field per dimension.
 *
 * @module
 */

/** `onnx.ModelProto`: the top-level message of an `.onnx` file. */
export const MODEL_PROTO = {
  /** `optional int64 ir_version = 1` */
  ir_version: 1,
  /** `optional string producer_name = 2` */
  producer_name: 2,
  /** `optional string producer_version = 3` */
  producer_version: 3,
  /** `optional string domain = 4` */
  domain: 4,
  /** `optional int64 model_version = 5` */
  model_version: 5,
  /** `optional string doc_string = 6` */
  doc_string: 6,
  /** `optional GraphProto graph = 7` */
  graph: 7,
  /** `repeated OperatorSetIdProto opset_import = 8` */
  opset_import: 8,
  /** `repeated StringStringEntryProto metadata_props = 14` */
  metadata_props: 14,
} as const;

/** `onnx.OperatorSetIdProto`: one operator set the model imports. */
export const OPERATOR_SET_ID_PROTO = {
  /** `optional string domain = 1` (empty: the default `ai.onnx` domain) */
  domain: 1,
  /** `optional int64 version = 2` */
  version: 2,
} as const;

/** `onnx.StringStringEntryProto`: one metadata key/value pair. */
export const STRING_STRING_ENTRY_PROTO = {
  /** `optional string key = 1` */
  key: 1,
  /** `optional string value = 2` */
  value: 2,
} as const;

/** `onnx.GraphProto`: the computation graph. */
export const GRAPH_PROTO = {
  /** `repeated NodeProto node = 1` */
  node: 1,
  /** `optional string name = 2` */
  name: 2,
  /** `repeated TensorProto initializer = 5` */
  initializer: 5,
  /** `optional string doc_string = 10` */
  doc_string: 10,
  /** `repeated ValueInfoProto input = 11` */
  input: 11,
  /** `repeated ValueInfoProto output = 12` */
  output: 12,
  /** `repeated ValueInfoProto value_info = 13` */
  value_info: 13,
} as const;

/** `onnx.NodeProto`: one operator call. */
export const NODE_PROTO = {
  /** `repeated string input = 1` */
  input: 1,
  /** `repeated string output = 2` */
  output: 2,
  /** `optional string name = 3` */
  name: 3,
  /** `optional string op_type = 4` */
  op_type: 4,
  /** `repeated AttributeProto attribute = 5` */
  attribute: 5,
  /** `optional string doc_string = 6` */
  doc_string: 6,
  /** `optional string domain = 7` */
  domain: 7,
} as const;

/** `onnx.AttributeProto`: one named attribute of a node. */
export const ATTRIBUTE_PROTO = {
  /** `optional string name = 1` */
  name: 1,
  /** `optional float f = 2` */
  f: 2,
  /** `optional int64 i = 3` */
  i: 3,
  /** `optional bytes s = 4` */
  s: 4,
  /** `optional TensorProto t = 5` */
  t: 5,
  /** `repeated float floats = 7` */
  floats: 7,
  /** `repeated int64 ints = 8` */
  ints: 8,
  /** `optional string doc_string = 13` */
  doc_string: 13,
  /** `optional AttributeType type = 20` */
  type: 20,
} as const;

/** `onnx.AttributeProto.AttributeType`, the values of {@linkcode ATTRIBUTE_PROTO}`.type`. */
export const ATTRIBUTE_TYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
} as const;

/** `onnx.TensorProto`: a constant tensor (the model's weights and biases). */
export const TENSOR_PROTO = {
  /** `repeated int64 dims = 1` (unpacked) */
  dims: 1,
  /** `optional int32 data_type = 2` (a {@linkcode DATA_TYPE}) */
  data_type: 2,
  /** `repeated float float_data = 4 [packed = true]` */
  float_data: 4,
  /** `repeated int32 int32_data = 5 [packed = true]` */
  int32_data: 5,
  /** `repeated int64 int64_data = 7 [packed = true]` */
  int64_data: 7,
  /** `optional string name = 8` */
  name: 8,
  /** `optional bytes raw_data = 9` (little-endian values) */
  raw_data: 9,
  /** `optional string doc_string = 12` */
  doc_string: 12,
} as const;

/** `onnx.TensorProto.DataType`, the element types of tensors and of tensor types. */
export const DATA_TYPE = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
} as const;

/** `onnx.ValueInfoProto`: a graph input or output, with its type. */
export const VALUE_INFO_PROTO = {
  /** `optional string name = 1` */
  name: 1,
  /** `optional TypeProto type = 2` */
  type: 2,
  /** `optional string doc_string = 3` */
  doc_string: 3,
} as const;

/** `onnx.TypeProto`: the type of a value (only tensors here). */
export const TYPE_PROTO = {
  /** `Tensor tensor_type = 1` (in `oneof value`) */
  tensor_type: 1,
  /** `optional string denotation = 6` */
  denotation: 6,
} as const;

/** `onnx.TypeProto.Tensor`: a tensor's element type and shape. */
export const TYPE_PROTO_TENSOR = {
  /** `optional int32 elem_type = 1` (a {@linkcode DATA_TYPE}) */
  elem_type: 1,
  /** `optional TensorShapeProto shape = 2` */
  shape: 2,
} as const;

/** `onnx.TensorShapeProto`: a shape as a list of dimensions. */
export const TENSOR_SHAPE_PROTO = {
  /** `repeated Dimension dim = 1` */
  dim: 1,
} as const;

/** `onnx.TensorShapeProto.Dimension`: a fixed size or a named symbolic one. */
export const TENSOR_SHAPE_DIMENSION = {
  /** `int64 dim_value = 1` (in `oneof value`) */
  dim_value: 1,
  /** `string dim_param = 2` (in `oneof value`) */
  dim_param: 2,
  /** `optional string denotation = 3` */
  denotation: 3,
} as const;
