/**
 * `deno task predict`: classifies IDX images or PNG digits with a saved model.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { predictFiles } from "../app/predict.ts";
import { percent } from "../report/format.ts";
import { pathFlag } from "../app/config.ts";
import { type Console, EXIT_CODES_HELP, readFlags } from "./io.ts";
import { permissionsHelp, requireAccess } from "./permissions.ts";

/** The help text of `predict`. */
export const PREDICT_HELP =
  `Usage: deno task predict --model RUN_DIR_OR_FILE [flags] INPUT [INPUT...]

Prints each image's predicted class and class probabilities. An INPUT is an IDX images file
(raw or .gz) or a PNG of one digit (any size, dark ink on light or light on dark), which is
cropped, fitted and centred the MNIST way. Every image goes through the model's own
normalization (and deskew) first.

  --model PATH     a run folder holding model.mnpm, a model registry (its current
                   version), or a model file
  --labels FILE    IDX labels for the images of all inputs, in order; prints accuracy
  --json           print { predictions: [{ input, index, predicted, probabilities }], accuracy }
  --help           this text

${permissionsHelp("predict")}
${EXIT_CODES_HELP}`;

/** The flags of `predict`. */
export const PREDICT_OPTIONS = {
  model: { type: "string" },
  labels: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Runs `predict`. */
export async function predictCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: PREDICT_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(PREDICT_HELP);
    return 0;
  }
  if (values.model === undefined) {
    io.err("error: predict needs --model RUN_DIR_OR_FILE. Run with --help");
    return 2;
  }
  if (positionals.length === 0) {
    io.err(
      "error: predict needs at least one INPUT (an IDX images file or a PNG). Run with --help",
    );
    return 2;
  }
  const { model, labels } = readFlags(() => ({
    model: pathFlag("model", values.model!),
    labels: values.labels === undefined ? undefined : pathFlag("labels", values.labels),
  }));
  requireAccess("predict", args, {
    read: [
      [model, "--model"],
      ...(labels === undefined ? [] : [[labels, "--labels"] as const]),
      ...positionals.map((input) => [input, "INPUT"] as const),
    ],
  });
  const result = await predictFiles(model, positionals, { labels });
  if (values.json) {
    io.out(JSON.stringify({
      predictions: result.predictions.map(({ input, index, predicted, probabilities }) => ({
        input,
        index,
        predicted,
        probabilities,
      })),
      ...(result.accuracy ? { accuracy: result.accuracy.accuracy } : {}),
    }));
    return 0;
  }
  for (const p of result.predictions) {
    // A PNG holds one image, so its name alone identifies it; IDX images need their index.
    const name = p.format === "png" ? p.input : `${p.input}[${p.index}]`;
    const label = p.label === undefined ? "" : `  label ${p.label}`;
    const probabilities = p.probabilities.map((v) => v.toFixed(2)).join(" ");
    io.out(`${name}  predicted ${p.predicted}${label}  p=[${probabilities}]`);
  }
  if (result.accuracy) {
    const { correct, total, accuracy } = result.accuracy;
    io.out(`accuracy ${percent(accuracy)} (${correct}/${total})`);
  }
  return 0;
}
