/**
 * `deno task retrain`: one retraining into the model registry, then a promotion decision.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundledDataDir } from "../app/bundled.ts";
import {
  buildConfig,
  numberFlag,
  pathFlag,
  type PipelineConfig,
  type RawFlags,
} from "../app/config.ts";
import { PAUSE_POINTS, type PausePoint, retrain } from "../app/retrain.ts";
import { waitForInterrupt } from "../engine/cleanup.ts";
import { UsageError } from "../engine/errors.ts";
import { describeDecision } from "../registry/champion.ts";
import { DEFAULT_REGISTRY } from "../registry/registry.ts";
import {
  type Console,
  EXIT_CODES_HELP,
  interruptible,
  noContradictions,
  noPositionals,
  readFlags,
} from "./io.ts";
import { type Access, permissionsHelp, requireAccess } from "./permissions.ts";
import { PIPELINE_OPTIONS } from "./pipeline.ts";

/** The registry flags' help, shared with `schedule`. */
export const REGISTRY_HELP = `Registry
  --registry DIR              the model registry (default models/)
  --promote-tolerance X       promote when the new test accuracy is at least the champion's
                              minus X (a fraction: 0.005 is half a point; default 0)
  --force                     retrain even when the data and config are unchanged
`;

/** The help text of `retrain`. */
export const RETRAIN_HELP = `Usage: deno task retrain [registry flags] [pipeline flags]

Runs the pipeline on the configured data, adds the run to the registry as a new version, and
makes it current when its test accuracy is at least the champion's minus the tolerance, on the
same test set. Skips (exit 0) when the data files' content and the training config equal those
of the last successful retraining. A failure is recorded, keeps the champion, and exits 1.

${REGISTRY_HELP}  --json                      print the decision recorded in the history as JSON

The pipeline flags are those of \`deno task pipeline --help\` but --out and --dry-run.

${permissionsHelp("retrain")}
${EXIT_CODES_HELP}`;

/** The flags of `retrain`: the pipeline's plus the registry's. */
export const RETRAIN_OPTIONS = {
  ...PIPELINE_OPTIONS,
  registry: { type: "string" },
  "promote-tolerance": { type: "string" },
  force: { type: "boolean" },
} as const;

/** The test seam's environment variable: a retraining stops (blocks) at this point. */
const PAUSE_ENV = "MNIST_PIPELINE_PAUSE_AT";
/**
 * A pause function for {@linkcode retrain}: when `MNIST_PIPELINE_PAUSE_AT`
 * names a point, it prints `paused at <point>` and blocks the process there
 * until it is killed, or stopped by SIGINT or SIGTERM (then it throws
 * `Interrupted`, as training would at its next progress report), so
 * a test can stop it at that exact moment. The variable is read only when
 * already granted (tests pass `--allow-env=MNIST_PIPELINE_PAUSE_AT`), so the
 * tasks need no environment access.
 */
export function pauseFromEnvironment(io: Console): (point: PausePoint) => void {
  let wanted: string | undefined;
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: PAUSE_ENV }).state;
    if (state === "granted") wanted = Deno.env.get(PAUSE_ENV);
  } catch {
    // No permission API or no environment: no pause.
  }
  if (!wanted || !PAUSE_POINTS.includes(wanted as PausePoint)) return () => {};
  return (point) => {
    if (point !== wanted) return;
    io.err(`paused at ${point}`);
    // Blocks the whole thread, mid-operation, until the test kills or signals the process.
    waitForInterrupt();
  };
}

/** What a retraining is set up with, from its flags. */
export interface RetrainSetup {
  /** The pipeline config it trains with. */
  config: PipelineConfig;
  /** The registry folder. */
  registry: string;
  /** The `--promote-tolerance`, 0..1. */
  tolerance: number;
  /** Whether `--force` was given. */
  force: boolean;
}

/** Parses the registry, tolerance and pipeline flags a retraining shares with a schedule. */
export function retrainSetup(
  values: Record<string, string | boolean | undefined>,
): RetrainSetup {
  for (const flag of ["out", "dry-run"]) {
    if (values[flag] !== undefined) {
      throw new UsageError(
        `Cannot use --${flag} with a retraining as the registry decides where versions go: ` +
          `current value is "${values[flag]}". Hint: run \`deno task pipeline\` for a plain run`,
      );
    }
  }
  const config = buildConfig(values as RawFlags);
  const registry = typeof values.registry === "string"
    ? pathFlag("registry", values.registry)
    : DEFAULT_REGISTRY;
  const tolerance = typeof values["promote-tolerance"] === "string"
    ? numberFlag("promote-tolerance", values["promote-tolerance"], { min: 0, max: 1 })
    : 0;
  return { config, registry, tolerance, force: values.force === true };
}

/**
 * What a retraining reads and writes: the data, the cache, and the registry
 * (its run folder is built inside it).
 */
export function retrainAccess(setup: RetrainSetup): Access {
  const cache = [setup.config.cacheDir, "--cache-dir"] as const;
  const registry = [setup.registry, "--registry"] as const;
  return {
    read: [[setup.config.data ?? bundledDataDir(), "--data"], cache, registry],
    write: [cache, registry],
  };
}

/** Runs `retrain`. */
export async function retrainCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: RETRAIN_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(RETRAIN_HELP);
    return 0;
  }
  if (!noPositionals("retrain", positionals, io)) return 2;
  if (!noContradictions(values, io)) return 2;
  const setup = readFlags(() => retrainSetup(values));
  requireAccess("retrain", args, retrainAccess(setup));
  const { config, registry, tolerance, force } = setup;
  const entry = await retrain(config, {
    registry,
    tolerance,
    force,
    reporter: interruptible({ log: (line) => io.err(line) }),
    pause: pauseFromEnvironment(io),
  });
  io.out(values.json ? JSON.stringify(entry) : describeDecision(entry));
  return 0;
}
