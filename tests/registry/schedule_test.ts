import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { ConfigError, InputError } from "../../engine/errors.ts";
import { type HistoryEntry, readHistory } from "../../registry/registry.ts";
import {
  type CronFunction,
  MAX_STEP_MS,
  parseDuration,
  runSchedule,
  type ScheduleClock,
} from "../../registry/schedule.ts";
import { captureConsole, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

function decision(n: number): HistoryEntry {
  return {
    at: `2025-01-0${n}T00:00:00.000Z`,
    decision: "skipped",
    by: "retrain",
    version: "v0001",
    champion: "v0001",
    current: "v0001",
    note: "data and config unchanged since v0001 (promoted)",
  };
}

Deno.test("parseDuration() reads s, m, h, d and names the flag and value when it cannot", () => {
  assert.equal(parseDuration("every", "30s"), 30_000);
  assert.equal(parseDuration("every", "5m"), 300_000);
  assert.equal(parseDuration("every", "6h"), 21_600_000);
  assert.equal(parseDuration("every", "1d"), 86_400_000);
  assert.equal(parseDuration("retry-delay", "250ms", ["ms", "s"]), 250);
  for (const bad of ["6x", "0s", "-1m", "", "1 h", "100ms"]) {
    assert.throws(() => parseDuration("every", bad), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(
        error.message,
        `Cannot use --every as it must be a positive number with a unit s, m, h, d (e.g. 30s): ` +
          `current value is "${bad}"`,
      );
      return true;
    });
  }
});

Deno.test("parseDuration() takes at most 365 days", () => {
  assert.equal(parseDuration("every", "365d"), 365 * DAY);
  assert.equal(parseDuration("every", "25d"), 25 * DAY);
  for (const bad of ["366d", "8761h", "99999999999999999999999d"]) {
    assert.throws(
      () => parseDuration("every", bad),
      new ConfigError(`Cannot use --every as it must be at most 365d: current value is "${bad}"`),
    );
  }
});

const DAY = 86_400_000;
const HOUR = 3_600_000;
const START = Date.UTC(2025, 0, 1);

/**
 * A clock that never waits: each sleep moves the time on by what was asked
 * (checking it fits a timer), and `jumps` moves it further after a given sleep.
 */
function fakeClock(jumps: Record<number, number> = {}) {
  let time = START;
  const sleeps: number[] = [];
  const clock: ScheduleClock = {
    now: () => time,
    sleep(ms) {
      assert.ok(ms > 0 && ms <= MAX_STEP_MS && ms <= 2 ** 31 - 1, `a timer of ${ms} ms`);
      sleeps.push(ms);
      time += ms + (jumps[sleeps.length] ?? 0);
      return Promise.resolve();
    },
  };
  return { clock, sleeps };
}

/** A retraining that notes when (on `clock`) it was called. */
function noting(clock: ScheduleClock, outcomes?: string[]) {
  const times: number[] = [];
  const retrainOnce = () => {
    times.push(clock.now() - START);
    return outcomes?.shift() === "fail"
      ? Promise.reject(new InputError("Cannot read data folder as it must exist"))
      : Promise.resolve(decision(1));
  };
  return { times, retrainOnce };
}

Deno.test("a 25-day interval fires every 25 days, in timer steps that never overflow", async () => {
  const { clock, sleeps } = fakeClock();
  const { times, retrainOnce } = noting(clock);
  const summary = await runSchedule({
    trigger: { kind: "every", ms: parseDuration("every", "25d") },
    runs: 3,
    log: () => {},
    clock,
    retrainOnce,
  });
  assert.equal(summary.firings, 3);
  assert.deepEqual(times, [0, 25 * DAY, 50 * DAY]);
  assert.equal(sleeps.length, 2 * 25 * DAY / MAX_STEP_MS);
});

Deno.test("a 25-day interval does not fire again at once on the real timer", async () => {
  // setTimeout fires at once for a delay over 2^31 - 1 ms (24.8 days): it used to fire 3 times here.
  const stop = new AbortController();
  let calls = 0;
  const done = runSchedule({
    trigger: { kind: "every", ms: 25 * DAY },
    runs: 3,
    log: () => {},
    signal: stop.signal,
    retrainOnce: () => Promise.resolve(decision(++calls)),
  });
  await new Promise((resolve) => setTimeout(resolve, 50));
  stop.abort();
  assert.equal((await done).firings, 1);
});

Deno.test("long retry delays double up to one day, or the first delay when it is longer", async () => {
  const { clock } = fakeClock();
  const lines: string[] = [];
  const { times, retrainOnce } = noting(clock, ["fail", "fail", "fail", "fail", "fail", "ok"]);
  const summary = await runSchedule({
    trigger: { kind: "every", ms: 365 * DAY },
    runs: 1,
    retries: 5,
    retryDelayMs: 10 * HOUR,
    log: (line) => lines.push(line),
    clock,
    retrainOnce,
  });
  assert.equal(summary.failures, 0);
  assert.deepEqual(times.map((t) => t / HOUR), [0, 10, 30, 54, 78, 102]);
  assert.match(lines[0], /^2025-01-01T00:00:00\.000Z retraining failed .*; retrying in 10h$/);
  assert.match(lines[2], /^2025-01-02T06:00:00\.000Z retraining failed .*; retrying in 1d$/);

  // Doubling 40 times would overflow any timer; a two-day first delay stays two days.
  const slow = fakeClock();
  const many = noting(slow.clock, Array(41).fill("fail"));
  await runSchedule({
    trigger: { kind: "every", ms: DAY },
    runs: 1,
    retries: 40,
    retryDelayMs: 2 * DAY,
    log: () => {},
    clock: slow.clock,
    retrainOnce: many.retrainOnce,
  });
  assert.deepEqual(many.times, Array.from({ length: 41 }, (_, k) => k * 2 * DAY));
});

Deno.test("a clock that jumps months ahead fires once, then keeps to the interval's grid", async () => {
  // The first one-minute step of the first wait ends 90 days later.
  const { clock } = fakeClock({ 1: 90 * DAY });
  const { times, retrainOnce } = noting(clock);
  await runSchedule({
    trigger: { kind: "every", ms: DAY },
    runs: 3,
    log: () => {},
    clock,
    retrainOnce,
  });
  assert.deepEqual(times, [0, 90 * DAY + MAX_STEP_MS, 91 * DAY]);
});

Deno.test("a clock set back a month still fires after one interval of waiting", async () => {
  const { clock, sleeps } = fakeClock({ 1: -30 * DAY });
  const { times, retrainOnce } = noting(clock);
  await runSchedule({
    trigger: { kind: "every", ms: HOUR },
    runs: 3,
    log: () => {},
    clock,
    retrainOnce,
  });
  assert.deepEqual(times, [0, HOUR - 30 * DAY, 2 * HOUR - 30 * DAY]);
  assert.equal(sleeps.reduce((a, b) => a + b), 2 * HOUR);
});

Deno.test("runSchedule() refuses intervals and retry delays that are not positive or exceed 365 days", async () => {
  for (const ms of [0, -1, NaN, Infinity, 366 * DAY]) {
    await assert.rejects(
      runSchedule({
        trigger: { kind: "every", ms },
        log: () => {},
        retrainOnce: () => Promise.resolve(decision(1)),
      }),
      new ConfigError(
        `Cannot schedule as the interval must be a positive number of milliseconds, at most ` +
          `31536000000 (365 days): current value is ${ms}`,
      ),
    );
  }
  await assert.rejects(
    runSchedule({
      trigger: { kind: "every", ms: DAY },
      retryDelayMs: Infinity,
      log: () => {},
      retrainOnce: () => Promise.resolve(decision(1)),
    }),
    /^ConfigError: Cannot schedule as the retry delay must be a positive number/,
  );
});

Deno.test("an interval schedule fires the given number of times and logs each decision", async () => {
  const lines: string[] = [];
  let calls = 0;
  const summary = await runSchedule({
    trigger: { kind: "every", ms: 10 },
    runs: 3,
    log: (line) => lines.push(line),
    retrainOnce: () => Promise.resolve(decision(++calls)),
  });
  assert.equal(calls, 3);
  assert.deepEqual([summary.firings, summary.decisions.length, summary.failures], [3, 3, 0]);
  assert.deepEqual(
    lines,
    [1, 2, 3].map((n) =>
      `2025-01-0${n}T00:00:00.000Z - skipped: data and config unchanged since v0001 (promoted); ` +
      `champion stays v0001`
    ),
  );
});

Deno.test("a failed retraining is retried with doubling delays, and the schedule goes on after giving up", async () => {
  const lines: string[] = [];
  const outcomes = ["fail", "fail", "fail", "fail", "ok"];
  const summary = await runSchedule({
    trigger: { kind: "every", ms: 5 },
    runs: 2,
    retries: 2,
    retryDelayMs: 4,
    log: (line) => lines.push(line.replace(/^\S+ /, "")),
    retrainOnce: () =>
      outcomes.shift() === "ok"
        ? Promise.resolve(decision(1))
        : Promise.reject(new InputError("Cannot read data folder as it must exist")),
  });
  assert.deepEqual([summary.firings, summary.decisions.length, summary.failures], [2, 1, 1]);
  assert.deepEqual(lines, [
    "retraining failed (attempt 1 of 3): Cannot read data folder as it must exist; retrying in 4ms",
    "retraining failed (attempt 2 of 3): Cannot read data folder as it must exist; retrying in 8ms",
    "retraining failed after 3 attempts: Cannot read data folder as it must exist; the schedule goes on",
    "retraining failed (attempt 1 of 3): Cannot read data folder as it must exist; retrying in 4ms",
    "- skipped: data and config unchanged since v0001 (promoted); champion stays v0001",
  ]);
});

Deno.test("a cron schedule registers the expression with Deno.cron and stops after its runs", async () => {
  const registered: string[] = [];
  let handler: (() => Promise<void>) | undefined;
  let stopSignal: AbortSignal | undefined;
  const fakeCron: CronFunction = (name, schedule, options, run) => {
    registered.push(`${name}: ${schedule}`);
    handler = run;
    stopSignal = options.signal;
    return new Promise((resolve) => options.signal?.addEventListener("abort", () => resolve()));
  };
  let calls = 0;
  const lines: string[] = [];
  const done = runSchedule({
    trigger: { kind: "cron", expression: "0 3 * * *" },
    runs: 2,
    cron: fakeCron,
    log: (line) => lines.push(line),
    retrainOnce: () => Promise.resolve(decision(++calls)),
  });
  await handler!();
  assert.equal(stopSignal!.aborted, false);
  await handler!();
  assert.equal(stopSignal!.aborted, true);
  const summary = await done;
  assert.deepEqual(registered, ["mnist-pipeline retrain: 0 3 * * *"]);
  assert.equal(summary.firings, 2);
  assert.equal(lines.length, 2);

  const invalid: CronFunction = () => {
    throw new TypeError("Invalid cron schedule");
  };
  await assert.rejects(
    runSchedule({
      trigger: { kind: "cron", expression: "every day" },
      cron: invalid,
      log: () => {},
      retrainOnce: () => Promise.resolve(decision(1)),
    }),
    new ConfigError(
      `Cannot schedule with --cron as it must be a cron expression ("minute hour day month ` +
        `weekday", UTC): current value is "every day" (Invalid cron schedule)`,
    ),
  );
});

async function cli(args: string[]) {
  const c = captureConsole();
  const code = await main(args, c.io);
  return { code, ...c };
}

Deno.test("schedule --every retrains on the interval, logging one line per decision", async () => {
  const data = await makeDataSet();
  const registry = `${await tempDir()}/models`;
  const result = await cli([
    "schedule",
    "--every",
    "1s",
    "--runs",
    "2",
    "--data",
    data,
    "--registry",
    registry,
    "--cache-dir",
    await tempDir(),
    ...QUICK_TRAINING,
  ]);
  assert.equal(result.code, 0, result.err.join("\n"));
  assert.equal(result.err[0], `schedule: retraining into "${registry}" every 1s, 2 times`);
  assert.equal(result.out.length, 2);
  assert.match(result.out[0], /^\S+Z v0001 promoted: 100\.00%; first model$/);
  assert.match(result.out[1], /^\S+Z - skipped: data and config unchanged since v0001/);
});

Deno.test("schedule retries a failing retraining, records each failure, and exits 1 when all failed", async () => {
  const registry = `${await tempDir()}/models`;
  const result = await cli([
    "schedule",
    "--every",
    "1h",
    "--runs",
    "1",
    "--retries",
    "1",
    "--retry-delay",
    "10ms",
    "--data",
    `${registry}-no-such-data`,
    "--registry",
    registry,
    "--cache-dir",
    `${registry}-cache`,
  ]);
  assert.equal(result.code, 1);
  assert.equal(result.out.length, 2);
  assert.match(
    result.out[0],
    /retraining failed \(attempt 1 of 2\): Cannot read data folder .*; retrying in 10ms$/,
  );
  assert.match(result.out[1], /retraining failed after 2 attempts: Cannot read data folder/);
  const history = await readHistory(registry);
  assert.deepEqual(history.map((e) => e.decision), ["failed", "failed"]);
});

Deno.test("schedule needs exactly one of --every and --cron, and --cron needs --unstable-cron", async () => {
  const neither = await cli(["schedule"]);
  assert.equal(neither.code, 2);
  assert.equal(
    neither.err[0],
    "error: Cannot schedule as exactly one of --every and --cron must be given: current value is " +
      'neither. Hint: --every 6h or --cron "0 3 * * *"',
  );
  const both = await cli(["schedule", "--every", "1h", "--cron", "0 3 * * *"]);
  assert.match(both.err[0], /current value is both/);
  const badEvery = await cli(["schedule", "--every", "90"]);
  assert.match(badEvery.err[0], /^error: Cannot use --every as it must be a positive number/);
  // The test process runs without --unstable-cron, as a plain `deno run` would.
  const cron = await cli([
    "schedule",
    "--cron",
    "0 3 * * *",
    "--registry",
    `${await tempDir()}/models`,
  ]);
  assert.equal(cron.code, 2);
  assert.match(
    cron.err.at(-1)!,
    /^error: Cannot schedule with --cron as Deno.cron must be enabled/,
  );
});
