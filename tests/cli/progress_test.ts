import assert from "node:assert/strict";
import { liveReporter, type ProgressStream } from "../../cli/progress.ts";
import { runCleanups } from "../../engine/cleanup.ts";
import { seededRandom } from "../../model/rng.ts";
import type { TrainProgress } from "../../engine/stage.ts";
import { planBatches } from "../../stages/minibatch.ts";
import { trainNetwork } from "../../stages/train.ts";
import { floatDataSet, syntheticSet } from "../fixtures.ts";

Deno.test("trainNetwork() reports progress after every minibatch, ending on the epoch's figures", async () => {
  const random = seededRandom(3, "progress");
  const set = syntheticSet(50, 4, 10, 10, random);
  const plan = planBatches(50, { batching: { batchSize: 16 }, validation: 0, seed: 1 });
  const calls: TrainProgress[] = [];
  const result = await trainNetwork(floatDataSet(set, set, 4), plan, {
    hidden: [6],
    activation: "relu",
    output: "softmax",
    init: "he",
    optimizer: "sgd",
    eta: 0.1,
    momentum: 0,
    decay: 0,
    decaySchedule: "inverse",
    l1: 0,
    l2: 0,
    reduction: "mean",
    epochs: 2,
    patience: 0,
    seed: 1,
    deskew: false,
    shuffleBuffer: null,
  }, { log() {}, progress: (p) => calls.push(p) });
  // 50 rows in batches of 16: 16, 16, 16, 2.
  assert.deepEqual(
    calls.map((p) => [p.epoch, p.epochs, p.batch, p.batches]),
    [1, 2].flatMap((e) => [1, 2, 3, 4].map((b) => [e, 2, b, 4])),
  );
  for (const epoch of [1, 2]) {
    const last = calls.filter((p) => p.epoch === epoch).at(-1)!;
    const record = result.history[epoch - 1];
    assert.ok(Math.abs(last.loss - record.trainLoss) < 1e-9, `${last.loss} vs ${record.trainLoss}`);
    assert.equal(last.accuracy, record.trainAccuracy);
  }
});

/** A fake terminal that keeps what is written to it. */
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

const step = (epoch: number, batch: number): TrainProgress => ({
  epoch,
  epochs: 2,
  batch,
  batches: 3,
  loss: 0.5,
  accuracy: 0.75,
});

Deno.test("liveReporter() redraws at most fps times a second and clears its bar on close", () => {
  const terminal = fakeTerminal();
  let clock = 0;
  const reporter = liveReporter(terminal.stream, { fps: 10, now: () => clock });
  reporter.progress!(step(1, 1));
  clock = 50;
  reporter.progress!(step(1, 2)); // within 100 ms of the last redraw: dropped
  clock = 120;
  reporter.progress!(step(1, 3));
  reporter.log("epoch 1/2  loss 0.5000");
  reporter.close();
  const text = terminal.text();
  assert.match(text, /epoch 1\/2 batch 1\/3 \| loss 0\.5000 acc 75\.00%/);
  assert.doesNotMatch(text, /batch 2\/3/);
  assert.match(text, /epoch 1\/2 batch 3\/3/);
  assert.ok(text.includes("epoch 1/2  loss 0.5000\n"));
  // Closing shows the cursor again and clears from the bar down.
  assert.ok(text.endsWith("\x1b[?25h\x1b[?7h\x1b[1G\x1b[0J"), JSON.stringify(text.slice(-40)));
  const before = text.length;
  reporter.progress!(step(2, 1));
  assert.equal(terminal.text().length, before, "no drawing after close");
});

Deno.test("liveReporter() starts a new bar when training starts over", () => {
  const terminal = fakeTerminal();
  let clock = 0;
  const reporter = liveReporter(terminal.stream, { now: () => clock });
  reporter.progress!(step(2, 3));
  clock = 1; // a restart draws at once, throttle or not
  reporter.progress!(step(1, 1));
  reporter.close();
  assert.match(terminal.text(), /epoch 2\/2 batch 3\/3[^]*epoch 1\/2 batch 1\/3/);
});

Deno.test("liveReporter() writes plain lines and no terminal codes when training never starts", () => {
  const terminal = fakeTerminal();
  const reporter = liveReporter(terminal.stream);
  reporter.log("decode     ran    0.31s");
  reporter.close();
  assert.equal(terminal.text(), "decode     ran    0.31s\n");
});

Deno.test("liveReporter() restores the terminal when a signal's cleanups run, and only once", () => {
  const terminal = fakeTerminal();
  const reporter = liveReporter(terminal.stream);
  reporter.progress!(step(1, 1));
  assert.ok(terminal.text().startsWith("\x1b[?25l"), "the bar hides the cursor");
  runCleanups();
  const text = terminal.text();
  assert.ok(text.endsWith("\x1b[?25h\x1b[?7h\x1b[1G\x1b[0J"), JSON.stringify(text.slice(-40)));
  reporter.close();
  reporter.progress!(step(1, 2));
  assert.equal(terminal.text(), text, "nothing drawn after");
});

Deno.test("liveReporter() leaves nothing to clean up once closed, or before a bar is drawn", () => {
  const terminal = fakeTerminal();
  const drawn = liveReporter(terminal.stream);
  drawn.progress!(step(1, 1));
  drawn.close();
  const idle = liveReporter(terminal.stream);
  idle.log("decode     ran    0.31s");
  const text = terminal.text();
  runCleanups();
  assert.equal(terminal.text(), text);
  idle.close();
});
