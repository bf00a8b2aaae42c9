/**
 * Scheduled retraining: fire on a plain interval (`--every 6h`) or a cron
 * expression (`--cron "0 3 * * *"`, through `Deno.cron`), retry a failed
 * retraining with exponential backoff, log one line per decision, and keep
 * going whatever a firing did.
 *
 * Waits are taken in steps of at most {@linkcode MAX_STEP_MS}, re-reading the
 * wall clock after each: a timer cannot hold more than 2³¹−1 ms (about 24.8
 * days; longer ones fire at once), and a machine that slept through a deadline
 * or a clock that was set must not leave the schedule waiting on a stale timer.
 *
 * @module
 */
import { Interrupted } from "../engine/cleanup.ts";
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

/** The longest interval or retry delay a schedule takes: 365 days. */
export const MAX_DURATION_MS: number = 365 * UNIT_MS.d;

/**
 * The longest wait between two retries: the doubling stops at one day, or at
 * the first retry delay when that is longer.
 */
export const MAX_RETRY_WAIT_MS: number = UNIT_MS.d;

/** The longest single timer a schedule sets; it re-reads the clock after each. */
export const MAX_STEP_MS: number = 60_000;

/**
 * Parses a duration such as `30s`, `5m`, `6h`, `1d` into milliseconds, taking
 * only the given units and at most {@linkcode MAX_DURATION_MS} (365 days);
 * throws {@linkcode ConfigError} naming the flag otherwise.
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
  if (!(ms <= MAX_DURATION_MS)) {
    throw new ConfigError(
      `Cannot use --${flag} as it must be at most 365d: current value is "${value}"`,
    );
  }
  return ms;
}

/** Checks a duration handed to {@linkcode runSchedule} in code, as {@linkcode parseDuration} does a flag's. */
function checkDuration(what: string, ms: number): void {
  if (!(ms > 0 && ms <= MAX_DURATION_MS)) {
    throw new ConfigError(
      `Cannot schedule as ${what} must be a positive number of milliseconds, at most ` +
        `${MAX_DURATION_MS} (365 days): current value is ${ms}`,
    );
  }
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

/** The clock and timer a schedule runs on; a test hands in a fake one. */
export interface ScheduleClock {
  /** Wall-clock time, in milliseconds since the epoch. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds, or at once when `signal` aborts. The
   * schedule never asks for more than {@linkcode MAX_STEP_MS}.
   */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** `Date.now` and `setTimeout`: the clock a schedule runs on unless told otherwise. */
export const systemClock: ScheduleClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done);
    }),
};

/**
 * Waits until wall-clock time `due`, in steps of at most {@linkcode MAX_STEP_MS},
 * re-reading the clock after each. A clock that jumps ahead (a machine waking
 * from sleep, a corrected clock) ends the wait at once; one set back cannot
 * stretch it beyond `budget` milliseconds of timer time.
 */
async function waitUntil(
  clock: ScheduleClock,
  due: number,
  budget: number,
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    const left = Math.min(due - clock.now(), budget);
    if (!(left > 0)) return;
    const step = Math.min(left, MAX_STEP_MS);
    await clock.sleep(step, signal);
    budget -= step;
  }
}

/** Options of {@linkcode runSchedule}. */
export interface ScheduleOptions {
  /** When to fire. */
  trigger: Trigger;
  /** One retraining; it throws when it fails. */
  retrainOnce: () => Promise<HistoryEntry>;
  /** Retries of a failed retraining within one firing. @default {2} */
  retries?: number;
  /**
   * Delay before the first retry, at most {@linkcode MAX_DURATION_MS}; each
   * further retry waits twice as long, up to {@linkcode MAX_RETRY_WAIT_MS} (or
   * this delay, when it is longer). @default {60000}
   */
  retryDelayMs?: number;
  /** Where the one-line decisions and retry notices go. */
  log: (line: string) => void;
  /** Stop after this many firings; unbounded when absent. */
  runs?: number;
  /** Stops the schedule (between firings, or while waiting to retry). */
  signal?: AbortSignal;
  /** `Deno.cron`, or a stand-in. @default {Deno.cron (needs --unstable-cron)} */
  cron?: CronFunction;
  /** The clock and timer of `every` triggers and retries. @default {systemClock} */
  clock?: ScheduleClock;
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

/**
 * Refuses a cron trigger in a process without `Deno.cron` (started without
 * `--unstable-cron`), before any work; an `every` trigger always passes.
 */
export function checkTrigger(trigger: Trigger, cron: CronFunction | undefined = denoCron()): void {
  if (trigger.kind === "cron" && !cron) {
    throw new ConfigError(
      `Cannot schedule with --cron as Deno.cron must be enabled: current value is ` +
        `"${trigger.expression}" in a process started without --unstable-cron. ` +
        `Hint: run it as \`deno task schedule\`, which passes --unstable-cron`,
    );
  }
}

/** The built-in `Deno.cron`, present only with `--unstable-cron`. */
function denoCron(): CronFunction | undefined {
  return (Deno as unknown as { cron?: CronFunction }).cron;
}

/**
 * Runs retrainings on a trigger until `runs` firings are done or `signal`
 * aborts. `every` fires at once, then on the grid start + k·interval of the
 * wall clock, at the first slot after the previous firing ends (a firing that
 * overruns skips slots instead of piling them up). When the clock jumps ahead,
 * every slot it skipped collapses into one firing at once; when it is set
 * back, the wait still ends after one interval of timer time, and the grid
 * starts again from that firing. `cron` fires on the expression (UTC). A
 * failed retraining is retried `retries` times with delays `retryDelayMs · 2^k`,
 * each at most {@linkcode MAX_RETRY_WAIT_MS} (or `retryDelayMs` when longer);
 * when all fail, the schedule still goes on. An {@linkcode Interrupted} error
 * (Ctrl-C or SIGTERM) stops the schedule instead.
 */
export async function runSchedule(options: ScheduleOptions): Promise<ScheduleSummary> {
  const { trigger, retrainOnce, log, runs, retries = 2, retryDelayMs = 60_000 } = options;
  const clock = options.clock ?? systemClock;
  if (trigger.kind === "every") checkDuration("the interval", trigger.ms);
  checkDuration("the retry delay", retryDelayMs);
  if (!(Number.isInteger(retries) && retries >= 0)) {
    throw new ConfigError(
      `Cannot schedule as the retries must be a whole number, 0 or more: current value is ` +
        `${retries}`,
    );
  }
  const longestRetryWait = Math.max(retryDelayMs, MAX_RETRY_WAIT_MS);
  const stop = new AbortController();
  const stopOnAbort = () => stop.abort();
  options.signal?.addEventListener("abort", stopOnAbort);
  if (options.signal?.aborted) stop.abort();
  const summary: ScheduleSummary = { firings: 0, decisions: [], failures: 0 };
  const stamp = () => new Date(clock.now()).toISOString();

  const fire = async () => {
    summary.firings++;
    for (let attempt = 0; attempt <= retries; attempt++) {
      try {
        const entry = await retrainOnce();
        summary.decisions.push(entry);
        log(describeDecision(entry));
        return;
      } catch (error) {
        // Ctrl-C or SIGTERM stopped the retraining: the schedule stops with it.
        if (error instanceof Interrupted) throw error;
        // Only our own errors are expected; a bug should still not stop the schedule.
        const message = error instanceof PipelineError
          ? error.message
          : `${(error as Error)?.name ?? "Error"}: ${(error as Error)?.message ?? error}`;
        if (attempt === retries || stop.signal.aborted) {
          summary.failures++;
          log(
            `${stamp()} retraining failed after ${attempt + 1} ` +
              `attempt${attempt === 0 ? "" : "s"}: ${message}; the schedule goes on`,
          );
          return;
        }
        const delay = Math.min(retryDelayMs * 2 ** attempt, longestRetryWait);
        log(
          `${stamp()} retraining failed (attempt ${attempt + 1} of ` +
            `${retries + 1}): ${message}; retrying in ${formatMs(delay)}`,
        );
        await waitUntil(clock, clock.now() + delay, delay, stop.signal);
      }
    }
  };
  const enough = () => runs !== undefined && summary.firings >= runs;

  try {
    if (trigger.kind === "every") {
      const interval = trigger.ms;
      let due = clock.now();
      while (!stop.signal.aborted && !enough()) {
        // Before its slot only when the clock was set back: the grid starts again here.
        due = Math.min(due, clock.now());
        await fire();
        if (stop.signal.aborted || enough()) break;
        due += interval * Math.max(1, Math.ceil((clock.now() - due) / interval));
        await waitUntil(clock, due, interval, stop.signal);
      }
      return summary;
    }
    const cron = options.cron ?? denoCron();
    checkTrigger(trigger, cron);
    if (!cron) return summary;
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
            if (running) log(`${stamp()} firing skipped: still retraining`);
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
  if (ms < UNIT_MS.m) return `${+(ms / UNIT_MS.s).toFixed(1)}s`;
  if (ms < UNIT_MS.h) return `${+(ms / UNIT_MS.m).toFixed(1)}m`;
  if (ms < UNIT_MS.d) return `${+(ms / UNIT_MS.h).toFixed(1)}h`;
  return `${+(ms / UNIT_MS.d).toFixed(1)}d`;
}
