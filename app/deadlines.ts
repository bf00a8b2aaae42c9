/**
 * Deadlines: many requests, each given the same number of milliseconds, kept
 * by one timer instead of one timer each. Deadlines of equal length expire in
 * the order they were set, so a queue in that order and a timer armed for its
 * oldest live entry is enough. The server sets one per request; a timer per
 * request cost a timer op to arm and another to clear on every request.
 *
 * @module
 */
import { ConfigError } from "../engine/errors.ts";

/** One deadline in the queue. */
interface Entry {
  /** When it expires, on the `performance.now()` clock. */
  at: number;
  /** Called once when it expires; null once cleared or expired. */
  expire: (() => void) | null;
}

/** A deadline {@linkcode Deadlines.set} returned. */
export interface Deadline {
  /** Cancels it: `expire` will not be called. Clearing twice, or after it expired, does nothing. */
  clear(): void;
}

/**
 * Deadlines all `ms` long, on one timer: {@linkcode Deadlines.set} calls
 * `expire` `ms` milliseconds later unless the deadline was cleared first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const deadlines = new Deadlines(20);
 * const expired: string[] = [];
 * deadlines.set(() => expired.push("slow"));
 * deadlines.set(() => expired.push("fast")).clear();
 * await new Promise((resolve) => setTimeout(resolve, 60));
 * assert.deepEqual(expired, ["slow"]);
 * deadlines.close();
 * ```
 */
export class Deadlines {
  #ms: number;
  #queue: Entry[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** Creates deadlines of `ms` milliseconds each (1 to 2^31 − 1). */
  constructor(ms: number) {
    if (!(Number.isInteger(ms) && ms >= 1 && ms <= 0x7fffffff)) {
      throw new ConfigError(
        `Cannot set deadlines as their length must be an integer from 1 to ${0x7fffffff} ms: ` +
          `current value is ${ms}`,
      );
    }
    this.#ms = ms;
  }

  /** Deadlines set and neither cleared nor expired yet. */
  get pending(): number {
    let n = 0;
    for (let i = this.#head; i < this.#queue.length; i++) if (this.#queue[i].expire) n++;
    return n;
  }

  /** Calls `expire` in `ms` milliseconds unless the returned deadline is cleared first. */
  set(expire: () => void): Deadline {
    const entry: Entry = { at: performance.now() + this.#ms, expire };
    this.#queue.push(entry);
    this.#timer ??= setTimeout(() => this.#fire(), this.#ms);
    return {
      clear: () => {
        entry.expire = null;
        // Requests mostly finish in order: dropping finished heads keeps the queue as short as
        // the requests in flight, instead of holding every request until the timer next fires.
        this.#dropFinished();
      },
    };
  }

  /** Stops the timer; deadlines not yet expired never will. */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#queue = [];
    this.#head = 0;
  }

  #dropFinished(): void {
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head].expire === null) this.#head++;
    if (this.#head === queue.length) {
      queue.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= queue.length) {
      queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #fire(): void {
    this.#timer = null;
    const now = performance.now();
    const queue = this.#queue;
    while (this.#head < queue.length && queue[this.#head].at <= now) {
      const { expire } = queue[this.#head];
      queue[this.#head++].expire = null;
      expire?.();
    }
    this.#dropFinished();
    // An expire that set a deadline armed a timer for it; the oldest live one may come sooner.
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#head < queue.length) {
      // Timers may fire a little early (then this runs again), never late.
      const wait = Math.max(1, Math.ceil(queue[this.#head].at - performance.now()));
      this.#timer = setTimeout(() => this.#fire(), wait);
    }
  }
}
