/**
 * `deno task gradcheck`: backprop against central differences on real rows.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundledDataDir } from "../app/bundled.ts";
import { numberFlag, pathFlag } from "../app/config.ts";
import { runGradientChecks } from "../app/gradcheck.ts";
import { type Console, EXIT_CODES_HELP } from "./io.ts";
import { permissionsHelp, requireAccess } from "./permissions.ts";

/** The help text of `gradcheck`. */
export const GRADCHECK_HELP = `Usage: deno task gradcheck [flags]

Compares backprop with central differences in float64 on the first training rows, for every
hidden activation and output kind, without and with L1/L2 penalties. Prints the relative error
|g_num - g_bp| / (|g_num| + |g_bp|) and a verdict: ok < 1e-7, warning < 1e-4, else problem
(exit code 1).

  --data DIR       IDX folder (default: the bundled MNIST)
  --rows N         training rows to check on (default 5)
  --hidden N       hidden units (default 10)
  --epsilon X      finite-difference step (default 1e-5)
  --seed N         seed of the weights (default 1)
  --help           this text

${permissionsHelp("gradcheck")}
${EXIT_CODES_HELP}`;

/** Runs `gradcheck`. */
export async function gradcheckCommand(args: string[], io: Console): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: "string" },
      rows: { type: "string", default: "5" },
      hidden: { type: "string", default: "10" },
      epsilon: { type: "string", default: "1e-5" },
      seed: { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    io.out(GRADCHECK_HELP);
    return 0;
  }
  const options = {
    dataDir: values.data === undefined ? bundledDataDir() : pathFlag("data", values.data),
    rows: numberFlag("rows", values.rows, { integer: true, min: 1 }),
    hidden: numberFlag("hidden", values.hidden, { integer: true, min: 1 }),
    seed: numberFlag("seed", values.seed, { integer: true, min: 0, max: 2 ** 32 - 1 }),
    epsilon: numberFlag("epsilon", values.epsilon, { above: 0 }),
  };
  requireAccess("gradcheck", args, { read: [[options.dataDir, "--data"]] });
  const lines = await runGradientChecks(options, (line) => {
    const setting = `l1=${line.l1} l2=${line.l2} ${line.reduction}`;
    io.out(
      `${line.activation.padEnd(7)} ${line.output.padEnd(7)} ${setting.padEnd(20)} ` +
        `relative error ${line.relativeError.toExponential(2)}  ${line.verdict}` +
        (line.skipped > 0 ? `  (${line.skipped} weights at the L1 kink skipped)` : ""),
    );
  });
  return lines.some((line) => line.verdict === "problem") ? 1 : 0;
}
