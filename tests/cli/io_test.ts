import assert from "node:assert/strict";
import { noPositionals, reporterFor, stdio } from "../../cli/io.ts";
import type { ProgressStream } from "../../cli/progress.ts";
import type { TrainProgress } from "../../engine/stage.ts";
import { captureConsole } from "../fixtures.ts";

/** A terminal that records what is drawn on it. */
function fakeTerminal(): { stream: ProgressStream; text: () => string } {
  let written = "";
  const stream = {
    isTTY: true,
    columns: 160,
    write(chunk: string) {
      written += chunk;
      return true;
    },
  };
  return { stream: stream as unknown as ProgressStream, text: () => written };
}

const progress: TrainProgress = {
  epoch: 1,
  epochs: 2,
  batch: 1,
  batches: 4,
  loss: 0.25,
  accuracy: 0.5,
};

Deno.test("noPositionals() accepts no arguments and prints nothing", () => {
  const c = captureConsole();
  assert.equal(noPositionals("pipeline", [], c.io), true);
  assert.deepEqual(c.out, []);
  assert.deepEqual(c.err, []);
});

Deno.test("noPositionals() names the command and the stray arguments, and points to --help", () => {
  const c = captureConsole();
  assert.equal(noPositionals("retrain", ["data", "now"], c.io), false);
  assert.deepEqual(c.err, [
    "error: retrain takes no positional arguments: got data now. Run with --help",
  ]);
  assert.deepEqual(c.out, []);
});

Deno.test("reporterFor() without a terminal sends log lines to err, drops progress, and closes quietly", () => {
  const c = captureConsole();
  const reporter = reporterFor(c.io);
  reporter.log("decode     ran    0.31s");
  reporter.progress?.(progress);
  reporter.close();
  reporter.log("after close");
  assert.deepEqual(c.err, ["decode     ran    0.31s", "after close"]);
  assert.deepEqual(c.out, []);
});

Deno.test("reporterFor() with a terminal draws a live bar there, not on err, and clears it on close", () => {
  const c = captureConsole();
  const terminal = fakeTerminal();
  const reporter = reporterFor({ ...c.io, progress: terminal.stream });
  reporter.log("decode     ran    0.31s");
  reporter.progress!(progress);
  reporter.close();
  const text = terminal.text();
  assert.ok(text.startsWith("decode     ran    0.31s\n"), JSON.stringify(text.slice(0, 40)));
  assert.match(text, /epoch 1\/2 batch 1\/4 \| loss 0\.2500 acc 50\.00%/);
  assert.ok(text.endsWith("\x1b[0J"), "the bar is cleared");
  assert.deepEqual(c.err, []);
});

Deno.test("stdio writes results with console.log and progress with console.error", () => {
  const logged: string[] = [], errors: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => logged.push(line);
  console.error = (line: string) => errors.push(line);
  try {
    stdio.out("result");
    stdio.err("progress");
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.deepEqual(logged, ["result"]);
  assert.deepEqual(errors, ["progress"]);
  assert.equal(stdio.progress !== undefined, Deno.stderr.isTerminal());
});
