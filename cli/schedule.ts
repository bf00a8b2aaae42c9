/**
 * `deno task schedule`: keeps retraining on an interval or a cron expression.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { numberFlag } from "../app/config.ts";
import { retrain } from "../app/retrain.ts";
import { UsageError } from "../engine/errors.ts";
import type { Reporter } from "../engine/stage.ts";
import { checkTrigger, parseDuration, runSchedule, type Trigger } from "../registry/schedule.ts";
import {
  type Console,
  EXIT_CODES_HELP,
  interruptible,
  noContradictions,
  noPositionals,
  readFlags,
} from "./io.ts";
import { permissionsHelp, requireAccess } from "./permissions.ts";
import {
  pauseFromEnvironment,
  REGISTRY_HELP,
  RETRAIN_OPTIONS,
  retrainAccess,
  retrainSetup,
} from "./retrain.ts";

/** The help text of `schedule`. */
export const SCHEDULE_HELP =
  `Usage: deno task schedule (--every 6h | --cron "0 3 * * *") [flags] [pipeline flags]

Keeps running and retrains on a schedule, logging one line per decision. A failed retraining
is retried with exponential backoff; the schedule goes on either way.

  --every DURATION            a plain interval: 30s, 5m, 6h, 1d, at most 365d; fires at once,
                              then each interval on the wall clock (a clock that jumps ahead
                              fires once, not once per missed interval)
  --cron EXPR                 a cron expression "minute hour day month weekday", in UTC
  --retries N                 retries of a failed retraining (default 2)
  --retry-delay DURATION      wait before the first retry, doubling after up to 1d or the first
                              delay when longer (default 1m; ms allowed; at most 365d)
  --runs N                    stop after N firings (default: never)

${REGISTRY_HELP}
The pipeline flags are those of \`deno task pipeline --help\` but --out and --dry-run.

${permissionsHelp("schedule")}
${EXIT_CODES_HELP}`;

/** The flags of `schedule`. */
export const SCHEDULE_OPTIONS = {
  ...RETRAIN_OPTIONS,
  every: { type: "string" },
  cron: { type: "string" },
  retries: { type: "string" },
  "retry-delay": { type: "string" },
  runs: { type: "string" },
} as const;

/** Runs `schedule`. */
export async function scheduleCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: SCHEDULE_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(SCHEDULE_HELP);
    return 0;
  }
  if (!noPositionals("schedule", positionals, io)) return 2;
  if (!noContradictions(values, io)) return 2;
  const { trigger, retries, retryDelayMs, runs, setup } = readFlags(() => {
    if ((values.every === undefined) === (values.cron === undefined)) {
      throw new UsageError(
        `Cannot schedule as exactly one of --every and --cron must be given: current value is ` +
          `${
            values.every === undefined ? "neither" : "both"
          }. Hint: --every 6h or --cron "0 3 * * *"`,
      );
    }
    const trigger: Trigger = values.every !== undefined
      ? { kind: "every", ms: parseDuration("every", values.every) }
      : { kind: "cron", expression: values.cron! };
    return {
      trigger,
      retries: numberFlag("retries", values.retries ?? "2", { integer: true, min: 0 }),
      retryDelayMs: parseDuration("retry-delay", values["retry-delay"] ?? "1m", [
        "ms",
        "s",
        "m",
        "h",
        "d",
      ]),
      runs: values.runs === undefined
        ? undefined
        : numberFlag("runs", values.runs, { integer: true, min: 1 }),
      setup: retrainSetup(values),
    };
  });
  readFlags(() => checkTrigger(trigger));
  requireAccess("schedule", args, retrainAccess(setup));
  const { config, registry, tolerance, force } = setup;
  const pause = pauseFromEnvironment(io);
  const reporter: Reporter = interruptible({ log: (line) => io.err(line) });
  io.err(
    `schedule: retraining into "${registry}" ${
      trigger.kind === "every" ? `every ${values.every}` : `on cron "${trigger.expression}" (UTC)`
    }${runs === undefined ? "" : `, ${runs} time${runs === 1 ? "" : "s"}`}`,
  );
  // runSchedule checks the trigger (the cron expression, Deno.cron being enabled) as it starts:
  // its ConfigErrors are usage errors; a failed retraining is logged, never thrown.
  const summary = await readFlags(() =>
    runSchedule({
      trigger,
      retries,
      retryDelayMs,
      runs,
      log: (line) => io.out(line),
      retrainOnce: () => retrain(config, { registry, tolerance, force, reporter, pause }),
    })
  );
  return summary.failures > 0 && summary.failures === summary.firings ? 1 : 0;
}
