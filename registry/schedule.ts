/**
 * Scheduled retraining: fire on a plain interval (`--every 6h`) or a cron
 * expression (`--cron "0 3 * * *"`, through `Deno.cron`), retry a failed
 * retraining with exponential backoff, log one line per decision, and keep
 * going whatever a firing did.
 *
 * @module
 */
import { ConfigError, PipelineError } from "../engine/errors.ts";
import { describeDecision } from "./champion.ts";
import type { HistoryEntry } from "./registry.ts";

/** A duration unit: `ms`, `s`, `m`, `h`, `d`. */
export type DurationUnit = "ms" | "s" | "m" | "h" | "d";

const UNIT_MS: Record<DurationUnit, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * Parses a duration such as `30s`, `5m`, `6h`, `1d` into milliseconds, taking
 * only the given units; throws {@linkcode ConfigError} naming the flag otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseDuration("every", "6h"), 6 * 3_600_000);
 * ```
 */
export function parseDuration(
  flag: string,
  value: string,
  units: readonly DurationUnit[] = ["s", "m", "h", "d"],
): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  const unit = match?.[2] as DurationUnit | undefined;
  const ms = match && unit && units.includes(unit) ? Number(match[1]) * UNIT_MS[unit] : NaN;
  if (!(ms > 0)) {
    throw new ConfigError(
      `Cannot use --${flag} as it must be a positive number with a unit ${units.join(", ")} ` +
        `(e.g. 30${units.includes("s") ? "s" : units[0]}): current value is "${value}"`,
    );
  }
  return ms;
}

/** When a schedule fires. */
export type Trigger =
  | { kind: "every"; ms: number }
  | { kind: "cron"; expression: string };

/** The shape of `Deno.cron` with options, so a test can hand in its own. */
export type CronFunction = (
  name: string,
  schedule: string,
  options: { signal?: AbortSignal },
  handler: () => Promise<void>,
) => Promise<void>;

/** Options of {@linkcode runSchedule}. */
export interface ScheduleOptions {
  /** When to fire. */
  trigger: Trigger;
  /** One retraining; it throws when it fails. */
  retrainOnce: () => Promise<HistoryEntry>;
  /** Retries of a failed retraining within one firing. @default {2} */
  retries?: number;
  /** Delay before the first retry; each further retry waits twice as long. @default {60000} */
  retryDelayMs?: number;
  /** Where the one-line decisions and retry notices go. */
  log: (line: string) => void;
  /** Stop after this many firings; unbounded when absent. */
  runs?: number;
  /** Stops the schedule (between firings, or while waiting to retry). */
  signal?: AbortSignal;
  /** `Deno.cron`, or a stand-in. @default {Deno.cron (needs --unstable-cron)} */
  cron?: CronFunction;
}

/** What a schedule did, once it stopped. */
export interface ScheduleSummary {
  /** Firings started. */
  firings: number;
  /** The decision each successful retraining recorded, in order. */
  decisions: HistoryEntry[];
  /** Firings whose every attempt failed. */
  failures: number;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** The built-in `Deno.cron`, present only with `--unstable-cron`. */
function denoCron(): CronFunction | undefined {
  return (Deno as unknown as { cron?: CronFunction }).cron;
}

/**
 * Runs retrainings on a trigger until `runs` firings are done or `signal`
 * aborts. `every` fires at once, then every interval after the previous firing
 * began (waiting for a firing that overruns); `cron` fires on the expression
 * (UTC). A failed retraining is retried `retries` times with delays
 * `retryDelayMs · 2^k`; when all fail, the schedule still goes on.
 */
export async function runSchedule(options: ScheduleOptions): Promise<ScheduleSummary> {
  const { trigger, retrainOnce, log, runs, retries = 2, retryDelayMs = 60_000 } = options;
  const stop = new AbortController();
  const stopOnAbort = () => stop.abort();
  options.signal?.addEventListener("abort", stopOnAbort);
  if (options.signal?.aborted) stop.abort();
  const summary: ScheduleSummary = { firings: 0, decisions: [], failures: 0 };

  const fire = async () => {
    summary.firings++;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const entry = await retrainOnce();
        summary.decisions.push(entry);
        log(describeDecision(entry));
        return;
      } catch (error) {
        // Only our own errors are expected; a bug should still not stop the schedule.
        const message = error instanceof PipelineError
          ? error.message
          : `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? error}`;
        if (attempt === retries || stop.signal.aborted) {
          summary.failures++;
          log(
            `${new Date().toISOString()} retraining failed after ${attempt + 1} ` +
              `attempt${attempt === 0 ? "" : "s"}: ${message}; the schedule goes on`,
          );
          return;
        }
        const delay = retryDelayMs * 2 ** attempt;
        log(
          `${new Date().toISOString()} retraining failed (attempt ${attempt + 1} of ` +
            `${retries + 1}): ${message}; retrying in ${formatMs(delay)}`,
        );
        await sleep(delay, stop.signal);
      }
    }
  };
  const enough = () => runs !== undefined && summary.firings >= runs;

  try {
    if (trigger.kind === "every") {
      const start = Date.now();
      let k = 0;
      while (!stop.signal.aborted && !enough()) {
        await fire();
        if (stop.signal.aborted || enough()) break;
        // The next slot after now on the grid start + k·interval, so an overrun skips, not piles up.
        k = Math.max(k + 1, Math.ceil((Date.now() - start) / trigger.ms));
        await sleep(start + k * trigger.ms - Date.now(), stop.signal);
      }
      return summary;
    }
    const cron = options.cron ?? denoCron();
    if (!cron) {
      throw new ConfigError(
        `Cannot schedule with --cron as Deno.cron must be enabled: current value is ` +
          `"${trigger.expression}" in a process started without --unstable-cron. ` +
          `Hint: run it as \`deno task schedule\`, which passes --unstable-cron`,
      );
    }
    let running = false;
    const stopped = new Promise<void>((resolve) => {
      if (stop.signal.aborted) resolve();
      stop.signal.addEventListener("abort", () => resolve());
    });
    const invalid = (error: unknown) =>
      new ConfigError(
        `Cannot schedule with --cron as it must be a cron expression ("minute hour day month ` +
          `weekday", UTC): current value is "${trigger.expression}" (${(error as Error).message})`,
      );
    let job: Promise<void>;
    try {
      job = cron(
        "mnist-pipeline retrain",
        trigger.expression,
        { signal: stop.signal },
        async () => {
          if (running || stop.signal.aborted) {
            if (running) log(`${new Date().toISOString()} firing skipped: still retraining`);
            return;
          }
          running = true;
          try {
            await fire();
          } finally {
            running = false;
            if (enough()) stop.abort();
          }
        },
      );
    } catch (error) {
      throw invalid(error);
    }
    // Deno.cron resolves once the signal aborts, and rejects a schedule it cannot run.
    await Promise.race([stopped, job.then(() => {}, (error) => Promise.reject(invalid(error)))]);
    return summary;
  } finally {
    options.signal?.removeEventListener("abort", stopOnAbort);
  }
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)}s`;
  return `${+(ms / 60_000).toFixed(1)}m`;
}
