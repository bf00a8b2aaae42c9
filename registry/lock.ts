/**
 * The registry lock: one retraining or promotion at a time. The lock file is
 * written whole to a temp file and hard-linked into place (`link` fails when
 * the lock exists, atomically), so a lock is never seen half written. A lock
 * whose process is gone (checked through `/proc`, no `--allow-run` needed) is
 * stale and taken over with a message.
 *
 * @module
 */
import { LockError } from "../pipeline/errors.ts";
import type { Reporter } from "../pipeline/stage.ts";
import { registryPaths, TEMP_PREFIX } from "./registry.ts";

/** What the lock file holds. */
export interface LockInfo {
  /** The holder's process id. */
  pid: number;
  /** When the holder took the lock (ISO 8601). */
  startedAt: string;
  /** The holder's start time from `/proc/<pid>/stat` (clock ticks), guarding against pid reuse. */
  processStart: string | null;
  /** Random, so a holder only ever removes its own lock. */
  token: string;
  /** What the holder is doing, e.g. "retrain". */
  purpose: string;
}

/** Whether a process lives, as far as `/proc` tells. */
export type ProcessState =
  | { kind: "alive"; start: string }
  | { kind: "gone" }
  | { kind: "unknown" };

/** Reads a process's state and start time from `/proc/<pid>/stat`; `unknown` without `/proc`. */
export async function processState(pid: number): Promise<ProcessState> {
  let text: string;
  try {
    text = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return { kind: "unknown" };
    // No entry for the pid means the process is gone, if /proc works here at all.
    try {
      await Deno.stat("/proc/self/stat");
      return { kind: "gone" };
    } catch {
      return { kind: "unknown" };
    }
  }
  // The command name (field 2) may hold spaces and parentheses; fields resume after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  // A zombie has exited and only waits for its parent to read its status.
  if (state === "Z" || state === "X") return { kind: "gone" };
  return { kind: "alive", start: fields[19] ?? "" };
}

async function readLock(path: string): Promise<LockInfo | "unreadable" | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    const info = JSON.parse(text);
    if (typeof info?.pid === "number" && typeof info?.token === "string") return info;
  } catch {
    // Falls through: only a hand-edited lock can be damaged, as locks are linked in whole.
  }
  return "unreadable";
}

/** Why a lock is stale, or null when its holder still runs (or that cannot be told). */
async function staleReason(held: LockInfo | "unreadable"): Promise<string | null> {
  if (held === "unreadable") return "it is not a lock this program wrote";
  const state = await processState(held.pid);
  if (state.kind === "gone") {
    return `process ${held.pid}, which took it at ${held.startedAt}, is no longer running`;
  }
  if (state.kind === "alive" && held.processStart !== null && state.start !== held.processStart) {
    return `process ${held.pid}, which took it at ${held.startedAt}, is gone and its id reused`;
  }
  return null;
}

/** A held lock; `release` removes it only if it is still ours. */
export interface HeldLock {
  /** What the lock file holds. */
  info: LockInfo;
  /** Removes the lock when it is still ours. */
  release(): Promise<void>;
}

/**
 * Takes the registry lock for `purpose`, taking over a stale one with a
 * `warning:` line; throws {@linkcode LockError} when a live process holds it.
 */
export async function acquireLock(
  dir: string,
  purpose: string,
  reporter: Reporter,
): Promise<HeldLock> {
  const { root, lock } = registryPaths(dir);
  await Deno.mkdir(root, { recursive: true });
  const own = await processState(Deno.pid);
  const info: LockInfo = {
    pid: Deno.pid,
    startedAt: new Date().toISOString(),
    processStart: own.kind === "alive" ? own.start : null,
    token: crypto.randomUUID(),
    purpose,
  };
  const temp = `${root}/${TEMP_PREFIX}lock-${info.token.slice(0, 8)}`;
  await Deno.writeTextFile(temp, JSON.stringify(info) + "\n");
  const release = async () => {
    const held = await readLock(lock);
    if (held !== null && held !== "unreadable" && held.token === info.token) {
      await Deno.remove(lock);
    }
  };
  try {
    // A handful of rounds: each lost round means another process moved the lock meanwhile.
    for (let round = 0; round < 8; round++) {
      try {
        await Deno.link(temp, lock);
        return { info, release };
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      const held = await readLock(lock);
      if (held === null) continue;
      const reason = await staleReason(held);
      if (reason === null) {
        const holder = held as LockInfo;
        throw new LockError(
          `Cannot ${purpose} as one retraining or promotion at a time may change a registry: ` +
            `current value of --registry is "${root}", locked by process ${holder.pid} ` +
            `(${holder.purpose}) since ${holder.startedAt}. Hint: wait for it to finish; if ` +
            `process ${holder.pid} is not one of ours, remove "${lock}"`,
        );
      }
      // Move the stale lock aside, then check that what moved is the lock judged stale:
      // a second taker may have replaced it in between, and its fresh lock must go back.
      const aside = `${root}/${TEMP_PREFIX}stale-lock-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await Deno.rename(lock, aside);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) continue;
        throw error;
      }
      const moved = await readLock(aside);
      const same = held === "unreadable"
        ? moved === "unreadable"
        : moved !== null && moved !== "unreadable" && moved.token === held.token;
      if (!same) await Deno.link(aside, lock).catch(() => {});
      await Deno.remove(aside).catch(() => {});
      if (same) reporter.log(`warning: took over the stale lock "${lock}": ${reason}`);
    }
    throw new LockError(
      `Cannot ${purpose} as the registry lock must settle: current value of --registry is ` +
        `"${root}", whose lock kept changing hands. Hint: try again`,
    );
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/** Runs `work` holding the registry lock, and releases it however `work` ends. */
export async function withLock<T>(
  dir: string,
  purpose: string,
  reporter: Reporter,
  work: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireLock(dir, purpose, reporter);
  try {
    return await work(lock);
  } finally {
    await lock.release();
  }
}
