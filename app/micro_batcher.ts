/**
 * A micro-batcher: callers submit a few items each; items that arrive within
 * a short window (or until a batch is full) are handed to one `run` call, and
 * each caller gets back its own items' results, in its order. The server uses
 * it so concurrent requests share one forward pass through the kernels.
 *
 * A window of 0 runs the batch as soon as the event loop has handled the I/O
 * that was ready when the first item came (a `setImmediate`): every request
 * already received joins the batch, and none waits for a timer. A timer
 * (`setTimeout`) cannot do that: even at 0 ms it fires a millisecond or more
 * later, and under load that wait was most of a request's latency.
 *
 * @module
 */
import { clearImmediate, setImmediate } from "node:timers";
import { ConfigError } from "../engine/errors.ts";

/** Options of {@linkcode MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Most items per `run` call; a full batch runs at once. @default {256} */
  maxItems?: number;
  /** Milliseconds the first waiting item waits for others (0: until the I/O already received is handled). @default {0} */
  windowMs?: number;
}

/** What a batch of items produced for one item: its result, or the error that item alone met. */
export type ItemResult<O> = { ok: true; value: O } | { ok: false; error: Error };

/** One caller's items waiting for a batch. */
interface Pending<I, O> {
  items: readonly I[];
  resolve: (results: ItemResult<O>[]) => void;
  reject: (error: unknown) => void;
}

/** Counts of what the batcher ran, for logs and benchmarks. */
export interface BatchStats {
  /** `submit` calls answered. */
  submits: number;
  /** Items run. */
  items: number;
  /** `run` calls made. */
  batches: number;
  /** The largest batch run, in items. */
  largest: number;
}

/**
 * Groups the items of concurrent {@linkcode MicroBatcher.submit} calls into
 * batches for one synchronous `run`, which returns one result per item, in
 * order. A caller's items always go in one batch (a caller with more than
 * `maxItems` runs alone).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const batcher = new MicroBatcher((items: number[]) =>
 *   items.map((x) => ({ ok: true as const, value: x * 10 }))
 * );
 * const [a, b] = await Promise.all([batcher.submit([1, 2]), batcher.submit([3])]);
 * assert.deepEqual(a.map((r) => r.ok && r.value), [10, 20]);
 * assert.deepEqual(b.map((r) => r.ok && r.value), [30]);
 * assert.equal(batcher.stats().batches, 1);
 * ```
 */
export class MicroBatcher<I, O> {
  #run: (items: I[]) => ItemResult<O>[];
  #maxItems: number;
  #windowMs: number;
  #queue: Pending<I, O>[] = [];
  #queued = 0;
  #wait: { cancel(): void } | null = null;
  #stats: BatchStats = { submits: 0, items: 0, batches: 0, largest: 0 };

  /** Creates a batcher around `run`, which must return exactly one result per item. */
  constructor(
    run: (items: I[]) => ItemResult<O>[],
    { maxItems = 256, windowMs = 0 }: MicroBatcherOptions = {},
  ) {
    if (!Number.isInteger(maxItems) || maxItems < 1) {
      throw new ConfigError(
        `Cannot batch as maxItems must be a positive integer: current value is ${maxItems}`,
      );
    }
    if (!(windowMs >= 0 && windowMs <= 1000)) {
      throw new ConfigError(
        `Cannot batch as windowMs must be from 0 to 1000: current value is ${windowMs}`,
      );
    }
    this.#run = run;
    this.#maxItems = maxItems;
    this.#windowMs = windowMs;
  }

  /** Queues `items` for the next batch; resolves with their results, in order. */
  submit(items: readonly I[]): Promise<ItemResult<O>[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      // A caller that would overflow the waiting batch sends that batch first.
      if (this.#queued > 0 && this.#queued + items.length > this.#maxItems) this.flush();
      this.#queue.push({ items, resolve, reject });
      this.#queued += items.length;
      if (this.#queued >= this.#maxItems) this.flush();
      else if (this.#wait === null) this.#wait = this.#waitThenFlush();
    });
  }

  /** Schedules the flush of the batch the first waiting item opened. */
  #waitThenFlush(): { cancel(): void } {
    if (this.#windowMs === 0) {
      const immediate = setImmediate(() => this.flush());
      return { cancel: () => clearImmediate(immediate) };
    }
    const timer = setTimeout(() => this.flush(), this.#windowMs);
    return { cancel: () => clearTimeout(timer) };
  }

  /** Runs every waiting item now, as one batch. */
  flush(): void {
    this.#wait?.cancel();
    this.#wait = null;
    const queue = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    if (queue.length === 0) return;
    const items = queue.flatMap((p) => p.items);
    let results: ItemResult<O>[];
    try {
      results = this.#run(items);
      if (results.length !== items.length) {
        throw new RangeError(
          `Cannot answer a batch as run must return one result per item: ${items.length} items, ` +
            `${results.length} results`,
        );
      }
    } catch (error) {
      for (const p of queue) p.reject(error);
      return;
    }
    this.#stats.submits += queue.length;
    this.#stats.items += items.length;
    this.#stats.batches++;
    this.#stats.largest = Math.max(this.#stats.largest, items.length);
    let at = 0;
    for (const p of queue) {
      p.resolve(results.slice(at, at + p.items.length));
      at += p.items.length;
    }
  }

  /** What the batcher has run so far. */
  stats(): BatchStats {
    return { ...this.#stats };
  }

  /** Stops the window's wait; waiting items run now. */
  close(): void {
    this.flush();
  }
}
