/**
 * `deno task export`: writes a saved model as ONNX or as a TensorFlow.js layers model.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { EXPORT_FORMATS, exportModel, parseExportFormat } from "../app/export.ts";
import { type Console, EXIT_CODES_HELP, noPositionals } from "./io.ts";
import { permissionsHelp } from "./permissions.ts";

/** The help text of `export`. */
export const EXPORT_HELP =
  `Usage: deno task export --model RUN_DIR_OR_FILE --format onnx|tfjs --out PATH

Writes a trained model in a format other tools run. The exported graph takes raw pixel values
0..255, float32 [N, rows·cols] (784 for MNIST), and applies the model's normalization itself.
Deskew is not part of the graph: a model trained on deskewed digits needs its images deskewed
first (export warns).

  --model PATH     a run folder holding model.mnpm, a model registry (its current
                   version), or a model file
  --format FORMAT  onnx: one file (opset 13); input "pixels", outputs "probabilities"
                   [N, classes] (as predict prints them) and "label" [N]
                   tfjs: a TensorFlow.js layers model, model.json + weights.bin; a sigmoid-output
                   model outputs its sigmoid units (divide by their sum for predict's probabilities)
  --out PATH       onnx: the file to write (an existing folder gets model.onnx)
                   tfjs: the folder to write into (created if missing);
                   the task may write under exports/ and runs/, e.g. --out exports/model.onnx
  --help           this text

${permissionsHelp("export")}
${EXIT_CODES_HELP}`;

/** The flags of `export`. */
export const EXPORT_OPTIONS = {
  model: { type: "string" },
  format: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `export`. */
export async function exportCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: EXPORT_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(EXPORT_HELP);
    return 0;
  }
  if (!noPositionals("export", positionals, io)) return 2;
  for (const flag of ["model", "format", "out"] as const) {
    if (values[flag] === undefined) {
      const what = flag === "format" ? EXPORT_FORMATS.join("|") : "PATH";
      io.err(`error: export needs --${flag} ${what}. Run with --help`);
      return 2;
    }
  }
  const result = await exportModel({
    model: values.model!,
    format: parseExportFormat(values.format!),
    out: values.out!,
  });
  for (const warning of result.warnings) io.err(`warning: ${warning}`);
  for (const file of result.files) io.out(`wrote ${file}`);
  return 0;
}
