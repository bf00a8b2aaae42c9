/**
 * Export: writes a saved model (a run folder, a registry's current version, or
 * a model file) as an ONNX file or a TensorFlow.js layers model, atomically.
 * The exported graph takes raw 0..255 pixels and does the model's
 * normalization itself; deskew stays outside it, with a warning when the model
 * was trained on deskewed digits.
 *
 * @module
 */
import { ConfigError } from "../engine/errors.ts";
import { statOrNull, writeFileAtomic } from "../engine/files.ts";
import type { SavedModel } from "../model/format.ts";
import { onnxModelBytes } from "./onnx_export.ts";
import { loadModel } from "./predict.ts";
import { TFJS_WEIGHTS_FILE, tfjsArtifacts } from "./tfjs_export.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** The formats `export` writes. */
export const EXPORT_FORMATS = ["onnx", "tfjs"] as const;

/** One of {@linkcode EXPORT_FORMATS}. */
export type ExportFormat = typeof EXPORT_FORMATS[number];

/** The file name used when `--out` of an ONNX export is an existing folder. */
export const ONNX_FILE = "model.onnx";

/** The TF.js topology file inside the output folder. */
export const TFJS_MODEL_FILE = "model.json";

/** What {@linkcode exportModel} needs. */
export interface ExportOptions {
  /** A run folder, a model registry (its current version) or a model file. */
  model: string;
  /** The format to write. */
  format: ExportFormat;
  /** ONNX: the file (or an existing folder, which gets `model.onnx`); TF.js: the folder (created if missing). */
  out: string;
}

/** What {@linkcode exportModel} wrote. */
export interface ExportResult {
  /** The model file read. */
  modelPath: string;
  /** The files written, in the order written. */
  files: string[];
  /** Things the user must do outside the exported graph (deskew). */
  warnings: string[];
}

/** The version written as the exported files' producer. */
const PRODUCER_VERSION: string = (denoConfig as { version?: string }).version ?? "0.0.0";

/** Checks a format name from the command line; throws {@linkcode ConfigError} naming the choices. */
export function parseExportFormat(value: string): ExportFormat {
  if (!EXPORT_FORMATS.includes(value as ExportFormat)) {
    throw new ConfigError(
      `Cannot export as --format must be one of ${EXPORT_FORMATS.join(", ")}: current value is ` +
        `"${value}"`,
    );
  }
  return value as ExportFormat;
}

/** The folder a path sits in. */
function parentOf(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  return slash < 0 ? "." : trimmed.slice(0, slash) || "/";
}

/** Throws {@linkcode ConfigError} unless `path`'s folder exists. */
async function requireParent(path: string, format: ExportFormat): Promise<void> {
  const parent = parentOf(path);
  if (!(await statOrNull(parent))?.isDirectory) {
    throw new ConfigError(
      `Cannot export ${format} to "${path}" as its folder "${parent}" must exist: it does not. ` +
        `Hint: create it, or choose another --out`,
    );
  }
}

/** Where an ONNX export goes: `out`, or `out/model.onnx` when `out` is a folder. */
async function onnxTarget(out: string): Promise<string> {
  const info = await statOrNull(out);
  if (info?.isDirectory) return `${out.replace(/\/+$/, "")}/${ONNX_FILE}`;
  if (out.endsWith("/")) {
    throw new ConfigError(
      `Cannot export onnx to "${out}" as a folder given as --out must exist: it does not. ` +
        `Hint: create it, or name the file, e.g. --out ${out}${ONNX_FILE}`,
    );
  }
  await requireParent(out, "onnx");
  return out;
}

/** The TF.js output folder, created when missing; throws when `out` is a file. */
async function tfjsTarget(out: string): Promise<string> {
  const dir = out.replace(/\/+$/, "") || "/";
  const info = await statOrNull(dir);
  if (info && !info.isDirectory) {
    throw new ConfigError(
      `Cannot export tfjs to "${out}" as --out must be a folder (for ${TFJS_MODEL_FILE} and ` +
        `${TFJS_WEIGHTS_FILE}): it is a file. Hint: choose a folder name`,
    );
  }
  if (!info) {
    await requireParent(dir, "tfjs");
    await Deno.mkdir(dir);
  }
  return dir;
}

/** The warnings an export of `model` carries. */
export function exportWarnings(model: SavedModel): string[] {
  return model.preprocessing.deskew
    ? [
      "the model was trained on deskewed digits; the exported graph does not deskew: deskew " +
      "each image (as stages/deskew.ts) before feeding it, or its accuracy drops",
    ]
    : [];
}

/**
 * Exports a saved model. Throws `InputError` (or `RegistryError`) for a
 * `--model` that holds no model, `ModelFormatError` for one that does not
 * load, and {@linkcode ConfigError} for an `--out` whose folder is missing
 * (ONNX) or that is a file (TF.js).
 */
export async function exportModel(options: ExportOptions): Promise<ExportResult> {
  const format = parseExportFormat(options.format);
  if (options.out === "") {
    throw new ConfigError(`Cannot export as --out must name a path: current value is ""`);
  }
  const { model, path } = await loadModel(options.model);
  const files: string[] = [];
  if (format === "onnx") {
    const target = await onnxTarget(options.out);
    await writeFileAtomic(target, onnxModelBytes(model, { producerVersion: PRODUCER_VERSION }));
    files.push(target);
  } else {
    const dir = await tfjsTarget(options.out);
    const { modelJson, weights } = tfjsArtifacts(model, PRODUCER_VERSION);
    // Weights first: a model.json that exists always finds its weights.
    await writeFileAtomic(`${dir}/${TFJS_WEIGHTS_FILE}`, weights);
    await writeFileAtomic(
      `${dir}/${TFJS_MODEL_FILE}`,
      new TextEncoder().encode(JSON.stringify(modelJson, null, 1) + "\n"),
    );
    files.push(`${dir}/${TFJS_WEIGHTS_FILE}`, `${dir}/${TFJS_MODEL_FILE}`);
  }
  return { modelPath: path, files, warnings: exportWarnings(model) };
}
