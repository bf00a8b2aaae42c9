/**
 * Progress while it trains: on a terminal, one line redrawn in place by
 * cli-progress (epoch, minibatch, loss and accuracy so far, ETA) with log
 * lines printed above it; elsewhere, the plain log lines alone (one per epoch).
 *
 * @module
 */
// @ts-types="./cli_progress.d.ts"
import cliProgress from "cli-progress";
import type { Options, SingleBar } from "./cli_progress.d.ts";
import { onCleanup } from "../engine/cleanup.ts";
import type { Reporter, TrainProgress } from "../engine/stage.ts";
import { percent } from "../report/format.ts";

/** The terminal stream cli-progress draws on: a Node writable such as `process.stderr`. */
export type ProgressStream = NonNullable<Options["stream"]>;

/** Options of {@linkcode liveReporter}. */
export interface LiveReporterOptions {
  /** Most redraws per second; progress calls in between are dropped. @default {10} */
  fps?: number;
  /** Clock in milliseconds, for the throttle. @default {performance.now} */
  now?: () => number;
}

/** A reporter that must be closed, which clears its bar, before anything else prints. */
export interface LiveReporter extends Reporter {
  /** Stops and clears the bar; safe to call more than once. */
  close(): void;
}

/** The bar's text: where training stands and when it should end. */
export const BAR_FORMAT: string = "train {bar} {percentage}% | epoch {epoch}/{epochs} batch " +
  "{batch}/{batches} | loss {loss} acc {accuracy} | ETA {eta_formatted}";

/** Values the bar's format fills in from a progress report. */
export function barPayload(p: TrainProgress): Record<string, string | number> {
  return {
    epoch: p.epoch,
    epochs: p.epochs,
    batch: p.batch,
    batches: p.batches,
    loss: p.loss.toFixed(4),
    accuracy: percent(p.accuracy),
  };
}

/**
 * A reporter drawing a live bar on `stream`; log lines go above the bar. A new
 * bar starts whenever training starts over (a second arm of a comparison).
 * While a bar is drawn (the cursor hidden, line wrap off), closing it is
 * registered as a cleanup, so Ctrl-C or SIGTERM restores the terminal.
 */
export function liveReporter(
  stream: ProgressStream,
  options: LiveReporterOptions = {},
): LiveReporter {
  const { fps = 10, now = () => performance.now() } = options;
  const interval = 1000 / fps;
  const bars = new cliProgress.MultiBar({
    stream,
    format: BAR_FORMAT,
    barsize: 20,
    hideCursor: true,
    clearOnComplete: true,
    // Redraw even when the bar's text is unchanged, or a logged line leaves it erased.
    forceRedraw: true,
    fps,
    // Training runs synchronously, so cli-progress's own timer never gets to redraw.
    synchronousUpdate: true,
  }, cliProgress.Presets.shades_classic);
  let bar: SingleBar | null = null;
  let lastDraw = -Infinity;
  let lastValue = -1;
  let closed = false;
  let restored = () => {};
  const close = () => {
    if (closed) return;
    closed = true;
    restored();
    if (bar !== null) bars.stop();
  };
  return {
    log(line) {
      // Before the first bar (data stages) and after close, lines go straight to the terminal.
      if (closed || bar === null) return void stream.write(`${line}\n`);
      bars.log(`${line}\n`);
      bars.update();
    },
    progress(p) {
      if (closed) return;
      const total = p.epochs * p.batches;
      const value = (p.epoch - 1) * p.batches + p.batch;
      const restarted = bar === null || value < lastValue;
      lastValue = value;
      const time = now();
      if (!restarted && time - lastDraw < interval) return;
      lastDraw = time;
      if (restarted) {
        if (bar) bars.remove(bar);
        else restored = onCleanup(close);
        bar = bars.create(total, value, barPayload(p));
      } else {
        bar!.setTotal(total);
        bar!.update(value, barPayload(p));
      }
      bars.update();
    },
    close,
  };
}

/** A reporter that passes log lines on and ignores per-minibatch progress. */
export function plainReporter(log: (line: string) => void): Reporter {
  return { log };
}
