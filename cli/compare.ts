/**
 * `deno task compare`: two arms differing in one flag, the same seeds, McNemar's test.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundledDataDir } from "../app/bundled.ts";
import { pathFlag, type RawFlags } from "../app/config.ts";
import {
  armConfigs,
  formatComparison,
  parseSeeds,
  parseVary,
  runComparison,
  VARIABLE_FLAGS,
} from "../app/compare.ts";
import {
  type Console,
  EXIT_CODES_HELP,
  noContradictions,
  noPositionals,
  readFlags,
  reporterFor,
} from "./io.ts";
import { permissionsHelp, requireAccess } from "./permissions.ts";
import { PIPELINE_OPTIONS } from "./pipeline.ts";

/** The help text of `compare`. */
export const COMPARE_HELP =
  `Usage: deno task compare [pipeline flags] [--vary FLAG=A,B] [--seeds 1,2,3] [--out DIR]

Runs the same configuration twice, differing only in one flag (deskew on and off unless --vary
says otherwise), with the same seeds and one cache, so shared stages (decode, normalize) run once.
Prints test accuracy and error of each arm, the difference in points, per-class accuracy, train
seconds, and McNemar's exact test on the paired test predictions. Writes compare.json, report.html
and one run folder per arm and seed (DIR/seed-N/ARM/).

  --vary FLAG=A,B   the flag to compare and its two values (default deskew=on,off); separate
                    values with ";" when one holds a comma: --vary "hidden=100,50;300"
                    FLAG is one of: ${VARIABLE_FLAGS.join(", ")}
  --seeds 1,2,3     repeat over these seeds; adds mean ± sd (default: the config's --seed)
  --out DIR         comparison folder (default runs/compare-<timestamp>/)
  --json            print compare.json on stdout
  Every pipeline flag (see deno task pipeline --help) applies to both arms.

${permissionsHelp("compare")}
${EXIT_CODES_HELP}`;

/** Runs `compare`. */
export async function compareCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { ...PIPELINE_OPTIONS, vary: { type: "string" }, seeds: { type: "string" } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(COMPARE_HELP);
    return 0;
  }
  if (!noPositionals("compare", positionals, io)) return 2;
  if (!noContradictions(values, io)) return 2;
  const { vary, seeds, out, json, ...flags } = values;
  const { options, config } = readFlags(() => {
    const options = {
      flags: flags as RawFlags,
      vary: parseVary(vary),
      seeds: seeds === undefined ? [] : parseSeeds(seeds),
      out: out === undefined
        ? `runs/compare-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}Z`
        : pathFlag("out", out),
    };
    // Every arm's config is checked now, so a bad flag is a usage error before anything runs.
    return { options, config: armConfigs(options)[0].configs[0] };
  });
  // The arms' run folders and compare.json are all written inside --out.
  const cache = [config.cacheDir, "--cache-dir"] as const;
  requireAccess("compare", args, {
    read: [[config.data ?? bundledDataDir(), "--data"], cache, [options.out, "--out"]],
    write: [cache, [options.out, "--out"]],
  });
  const reporter = reporterFor(io);
  let run;
  try {
    run = await runComparison(options, reporter);
  } finally {
    reporter.close();
  }
  if (json) {
    io.out(JSON.stringify(run.comparison));
    return 0;
  }
  for (const line of formatComparison(run)) io.out(line);
  io.out(`comparison folder ${options.out} (compare.json, report.html)`);
  return 0;
}
