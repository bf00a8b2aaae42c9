/**
 * What a process undoes when Ctrl-C (SIGINT) or SIGTERM stops it: the temp
 * files and folders it created, a terminal it changed. Code that creates such
 * a thing registers a callback with {@linkcode onCleanup} and calls the
 * function it returns once the thing is gone or in place; `main.ts` runs what
 * is still registered ({@linkcode runCleanups}) when a signal arrives, then
 * exits 130 (SIGINT) or 143 (SIGTERM).
 *
 * ```ts ignore
 * const done = onCleanup(() => removeSyncQuietly(temp));
 * try {
 *   await Deno.writeFile(temp, bytes);
 *   await Deno.rename(temp, path);
 * } finally {
 *   done();
 * }
 * ```
 *
 * A signal listener runs only when the event loop turns, and training is one
 * long synchronous loop. So {@linkcode watchInterrupts} also listens from a
 * worker thread, which notes the signal in shared memory; code that runs long
 * without yielding calls {@linkcode checkInterrupted} now and then (the
 * command line's reporters do, on every training progress report), which
 * throws {@linkcode Interrupted} to unwind it.
 *
 * @module
 */

/** The signals that stop a command cleanly. */
export type InterruptSignal = "SIGINT" | "SIGTERM";

const SIGNAL_NUMBERS: Record<InterruptSignal, number> = { SIGINT: 2, SIGTERM: 15 };

/**
 * The signals this platform lets a program listen for: SIGINT and SIGTERM,
 * or SIGINT alone on Windows.
 */
export function interruptSignals(): InterruptSignal[] {
  return Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
}

/**
 * The exit code of a command stopped by `signal`: 128 plus the signal's
 * number, as a shell reports it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(interruptExitCode("SIGINT"), 130);
 * assert.equal(interruptExitCode("SIGTERM"), 143);
 * ```
 */
export function interruptExitCode(signal: InterruptSignal): number {
  return 128 + SIGNAL_NUMBERS[signal];
}

/** Thrown out of long synchronous work by {@linkcode checkInterrupted} once a signal arrived. */
export class Interrupted extends Error {
  /** The signal that arrived. */
  readonly signal: InterruptSignal;
  /** Creates the error for `signal`. */
  constructor(signal: InterruptSignal) {
    super(`stopped by ${signal}`);
    this.name = "Interrupted";
    this.signal = signal;
  }
  /** The exit code for it: 130 for SIGINT, 143 for SIGTERM. */
  get exitCode(): number {
    return interruptExitCode(this.signal);
  }
}

const callbacks = new Set<() => void>();

/**
 * Registers `callback` to run if the process is stopped by a signal before
 * the returned function is called; calling that (more than once is fine)
 * unregisters it. The callback must be synchronous, as the process exits right
 * after it, and should not throw (if it does, the others still run). Once a
 * signal has arrived, unregistering does nothing: the code unwinding from
 * {@linkcode Interrupted} would otherwise forget its temp files in `finally`
 * blocks before `main.ts` runs the cleanups, so a callback must also be
 * harmless once its work is done (removing a path that is gone, closing twice).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const calls: string[] = [];
 * const done = onCleanup(() => calls.push("temp removed"));
 * onCleanup(() => calls.push("terminal restored"));
 * done();
 * runCleanups();
 * runCleanups();
 * assert.deepEqual(calls, ["terminal restored"]);
 * ```
 */
export function onCleanup(callback: () => void): () => void {
  const entry = () => callback();
  callbacks.add(entry);
  return () => {
    if (!signalNoted()) callbacks.delete(entry);
  };
}

/**
 * Runs every registered cleanup once, the most recent first, and forgets it;
 * calling it again runs only what was registered since. A failing callback
 * does not stop the others.
 */
export function runCleanups(): void {
  const pending = [...callbacks].reverse();
  callbacks.clear();
  for (const callback of pending) {
    try {
      callback();
    } catch {
      // Best effort on the way out: what one callback could not undo, the next run cleans.
    }
  }
}

/** Removes a file or folder, ignoring one that is already gone; for cleanup callbacks. */
export function removeSyncQuietly(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // Gone already (the work finished or failed and removed it), or not ours to report now.
  }
}

/** The signal noted by the watcher thread, as its number; 0 while none arrived. */
let noted: Int32Array | null = null;

/** A running interrupt watch; {@linkcode watchInterrupts} starts it. */
export interface InterruptWatch {
  /** The signal that arrived since the watch started, or null. */
  signal(): InterruptSignal | null;
  /** Stops watching and ends the watcher thread. */
  close(): void;
}

// The watcher thread: it notes a signal even while the main thread is busy in synchronous work,
// and wakes a thread blocked in waitForInterrupt().
const WATCHER = `self.onmessage = ({ data }) => {
  const noted = new Int32Array(data.buffer);
  for (const [signal, number] of data.signals) {
    Deno.addSignalListener(signal, () => {
      Atomics.store(noted, 0, number);
      Atomics.notify(noted, 0);
    });
  }
  self.postMessage("ready");
};`;

/**
 * Starts a worker thread that notes SIGINT and SIGTERM for
 * {@linkcode checkInterrupted} and {@linkcode waitForInterrupt}. It does not
 * stop the process: `main.ts` listens on the main thread for that. The worker
 * starts listening a few milliseconds later, without holding up the caller.
 */
export function watchInterrupts(): InterruptWatch {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  noted = cell;
  const url = URL.createObjectURL(new Blob([WATCHER], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  worker.onmessage = () => URL.revokeObjectURL(url);
  const signals = interruptSignals().map((s) => [s, SIGNAL_NUMBERS[s]]);
  worker.postMessage({ buffer: cell.buffer, signals });
  return {
    signal: () => signalOf(Atomics.load(cell, 0)),
    close() {
      worker.terminate();
      URL.revokeObjectURL(url);
      if (noted === cell) noted = null;
    },
  };
}

function signalOf(number: number): InterruptSignal | null {
  for (const [signal, n] of Object.entries(SIGNAL_NUMBERS)) {
    if (n === number) return signal as InterruptSignal;
  }
  return null;
}

function signalNoted(): InterruptSignal | null {
  return noted ? signalOf(Atomics.load(noted, 0)) : null;
}

/**
 * Throws {@linkcode Interrupted} when a watched signal arrived; call it now and
 * then from long synchronous work. Does nothing when no watch runs.
 */
export function checkInterrupted(): void {
  const signal = signalNoted();
  if (signal) throw new Interrupted(signal);
}

/**
 * Blocks the thread until a watched signal arrives, then throws
 * {@linkcode Interrupted}; with no watch running, it blocks for good. For
 * test seams that must hold a process at one point until it is stopped.
 */
export function waitForInterrupt(): never {
  const cell = noted ?? new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    Atomics.wait(cell, 0, 0);
    checkInterrupted();
  }
}
