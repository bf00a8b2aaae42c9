/**
 * The model file format (`model.mnpm`), pure bytes in and out:
 *
 * | bytes | field |
 * | --- | --- |
 * | 8 | magic `MNPMODEL` |
 * | 4 | format version, u32 LE (currently 1) |
 * | 4 | header length h, u32 LE |
 * | h | header, UTF-8 JSON: `sizes`, `activation`, `output`, `preprocessing` |
 * | pad | zeros up to a multiple of 4 |
 * | 4·P | parameters, float32 LE, layer by layer: weights (IN, OUT) row-major, then biases |
 *
 * P is fixed by `sizes`; the file must be exactly as long as that implies.
 * `preprocessing` holds what predict must repeat: image `rows` and `cols`,
 * `normalization` (`mode`, `mean`, `std`) and `deskew`; the class count is the last of `sizes`.
 *
 * @module
 */
import { ModelFormatError } from "./errors.ts";
import { type Activation, ACTIVATIONS } from "./activations.ts";
import { type NetworkSpec, type OutputKind, OUTPUTS, parameterCount } from "./network.ts";

/** The current model file format version. */
export const MODEL_FORMAT_VERSION = 1;
const MAGIC = "MNPMODEL";

/** The normalization modes a model file may name. */
export const NORMALIZATION_MODES = ["scale", "standardize", "none"] as const;

/** The most classes a model may have: predictions and labels are bytes (0..255). */
export const MAX_CLASSES = 256;

/** How pixel values were scaled, and the training statistics used (kept for predict). */
export interface Normalization {
  /** `scale` (÷255), `standardize` ((x−mean)/std with train statistics), or `none`. */
  mode: typeof NORMALIZATION_MODES[number];
  /** Mean of the raw training pixels (standardize), else 0. */
  mean: number;
  /** Standard deviation of the raw training pixels (standardize), else 1. */
  std: number;
}

/** What predict must do to an image before the network sees it. */
export interface Preprocessing {
  /** Image height the network expects. */
  rows: number;
  /** Image width the network expects. */
  cols: number;
  /** Pixel normalization fitted on the training set. */
  normalization: Normalization;
  /** Whether images are deskewed after normalizing. */
  deskew: boolean;
}

/** A trained model: architecture, preprocessing and float32 parameters. */
export interface SavedModel {
  /** The architecture. */
  spec: NetworkSpec;
  /** Preprocessing to repeat at predict time. */
  preprocessing: Preprocessing;
  /** Every parameter, laid out as {@linkcode parameterCount} describes. */
  params: Float32Array;
}

/** Serialises a model. */
export function encodeModel(model: SavedModel): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify({
    sizes: model.spec.sizes,
    activation: model.spec.activation,
    output: model.spec.output,
    preprocessing: model.preprocessing,
  }));
  const paramsAt = (16 + header.length + 3) & ~3;
  const out = new Uint8Array(paramsAt + model.params.byteLength);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, MODEL_FORMAT_VERSION, true);
  view.setUint32(12, header.length, true);
  out.set(header, 16);
  for (let i = 0; i < model.params.length; i++) {
    view.setFloat32(paramsAt + 4 * i, model.params[i], true);
  }
  return out;
}

/** Whether this machine stores numbers little-endian, as model files do. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * Parses and validates a model file; `source` names it in errors. Throws
 * {@linkcode ModelFormatError} on a wrong magic or version, a header field
 * that breaks its rule (sizes of positive integers with 2 to
 * {@linkcode MAX_CLASSES} classes and rows·cols inputs, a known activation,
 * output and normalization mode, a finite mean, a finite std above 0, rows and
 * cols integers ≥ 1, a boolean deskew), shapes that disagree with the length,
 * or non-finite weights.
 */
export function decodeModel(bytes: Uint8Array, source: string): SavedModel {
  const fail = (rule: string, hint = "retrain, or point --model at another run") =>
    new ModelFormatError(`Cannot load model "${source}" as ${rule}. Hint: ${hint}`);
  if (bytes.length < 16) {
    throw fail(`it must hold a 16-byte preamble: it holds ${bytes.length} bytes`);
  }
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MAGIC) {
    throw fail(`its magic must be ${MAGIC}: current value is ${JSON.stringify(magic)}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== MODEL_FORMAT_VERSION) {
    throw fail(
      `its format version must be ${MODEL_FORMAT_VERSION}: current value is ${version}`,
      "it was written by another version of mnist-pipeline; retrain with this one",
    );
  }
  const headerLength = view.getUint32(12, true);
  if (16 + headerLength > bytes.length) {
    throw fail(
      `its ${headerLength}-byte header must fit in the file: it holds ${bytes.length} bytes (truncated)`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
  } catch (error) {
    throw fail(`its header must be JSON: ${(error as Error).message}`);
  }
  const { sizes, activation, output, preprocessing } = checkHeader(header, fail);
  const count = parameterCount(sizes);
  const paramsAt = 4 * Math.ceil((16 + headerLength) / 4);
  const expected = paramsAt + 4 * count;
  if (bytes.length !== expected) {
    throw fail(
      `sizes [${
        sizes.join(", ")
      }] need ${count} parameters (${expected} bytes in all): the file holds ${bytes.length} bytes` +
        (bytes.length < expected ? " (truncated)" : ""),
    );
  }
  // One copy where the machine is little-endian, as the file is: a DataView read per weight
  // took 30 ms for 636 000 weights, a stall for a server swapping models under load.
  const params = LITTLE_ENDIAN
    ? new Float32Array(bytes.slice(paramsAt, expected).buffer)
    : Float32Array.from({ length: count }, (_, i) => view.getFloat32(paramsAt + 4 * i, true));
  for (let i = 0; i < count; i++) {
    if (!Number.isFinite(params[i])) {
      throw fail(`every weight must be finite: parameter ${i} is ${params[i]}`);
    }
  }
  return { spec: { sizes, activation, output }, preprocessing, params };
}

/** A JSON value's text for a message: `Infinity` for a number too large for a double, `undefined` when missing. */
const shown = (value: unknown) =>
  typeof value === "number" ? String(value) : JSON.stringify(value) ?? "undefined";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Checks every field of a parsed header and returns them typed, dropping
 * unknown fields; `fail(rule)` builds the error for a broken rule.
 */
function checkHeader(
  header: unknown,
  fail: (rule: string) => ModelFormatError,
): NetworkSpec & { preprocessing: Preprocessing } {
  const rule = (what: string, must: string, value: unknown) =>
    fail(`its ${what} must be ${must}: current value is ${shown(value)}`);
  if (!isRecord(header)) throw rule("header", "a JSON object", header);
  const { sizes, activation, output, preprocessing } = header;
  if (
    !Array.isArray(sizes) || sizes.length < 2 ||
    !sizes.every((s) => Number.isInteger(s) && s >= 1)
  ) {
    throw rule("sizes", "two or more positive integers", sizes);
  }
  const classes = sizes[sizes.length - 1];
  if (classes < 2 || classes > MAX_CLASSES) {
    throw rule(
      "class count (the last of sizes)",
      `2 to ${MAX_CLASSES}, as labels are bytes`,
      classes,
    );
  }
  if (!ACTIVATIONS.includes(activation as Activation)) {
    throw rule("activation", `one of ${ACTIVATIONS.join(", ")}`, activation);
  }
  if (!OUTPUTS.includes(output as OutputKind)) {
    throw rule("output", `one of ${OUTPUTS.join(", ")}`, output);
  }
  if (!isRecord(preprocessing)) throw rule("preprocessing", "an object", preprocessing);
  const { rows, cols, normalization, deskew } = preprocessing;
  for (const [what, value] of [["rows", rows], ["cols", cols]] as const) {
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw rule(`preprocessing.${what}`, "an integer ≥ 1", value);
    }
  }
  const pixels = (rows as number) * (cols as number);
  if (sizes[0] !== pixels) {
    throw rule(
      "input count (the first of sizes)",
      `preprocessing.rows × preprocessing.cols = ${rows}×${cols} = ${pixels}`,
      sizes[0],
    );
  }
  if (!isRecord(normalization)) {
    throw rule("preprocessing.normalization", "an object", normalization);
  }
  const { mode, mean, std } = normalization;
  if (!NORMALIZATION_MODES.includes(mode as Normalization["mode"])) {
    throw rule(
      "preprocessing.normalization.mode",
      `one of ${NORMALIZATION_MODES.join(", ")}`,
      mode,
    );
  }
  if (typeof mean !== "number" || !Number.isFinite(mean)) {
    throw rule("preprocessing.normalization.mean", "a finite number", mean);
  }
  if (typeof std !== "number" || !Number.isFinite(std) || std <= 0) {
    throw rule("preprocessing.normalization.std", "a finite number above 0", std);
  }
  if (typeof deskew !== "boolean") throw rule("preprocessing.deskew", "true or false", deskew);
  return {
    sizes,
    activation: activation as Activation,
    output: output as OutputKind,
    preprocessing: {
      rows: rows as number,
      cols: cols as number,
      normalization: { mode: mode as Normalization["mode"], mean, std },
      deskew,
    },
  };
}
