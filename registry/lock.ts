/**
 * The registry lock: one retraining or promotion at a time. `models/lock` is
 * one permanent file, created on first use and never renamed or removed. Its
 * holder keeps an exclusive OS lock on it (`flock`, taken without waiting) and
 * writes who it is into it. The kernel drops that lock when the holder ends in
 * any way, `kill -9` included, so a lock file nobody holds is simply free:
 * there is no stale lock to detect or take over, and a reused pid cannot fool
 * it. A second process is refused at once with the holder's details.
 *
 * @module
 */
import { onCleanup } from "../engine/cleanup.ts";
import { LockError } from "../engine/errors.ts";
import { statOrNull } from "../engine/files.ts";
import { registryPaths } from "./registry.ts";

/** What the lock file holds while held: who holds it, for the refusal message. */
export interface LockInfo {
  /** The holder's process id. */
  pid: number;
  /** When the holder took the lock (ISO 8601). */
  startedAt: string;
  /** What the holder is doing, e.g. "retrain". */
  purpose: string;
  /** The holder's command line, e.g. "main.ts retrain --registry models". */
  command: string;
}

/** A held lock. */
export interface HeldLock {
  /** What the lock file holds. */
  info: LockInfo;
  /** Empties the lock file and lets go of the lock; safe to call more than once. */
  release(): Promise<void>;
}

/** This process's command line: the main module's file name and the arguments. */
function commandLine(): string {
  const main = Deno.mainModule.slice(Deno.mainModule.lastIndexOf("/") + 1);
  return [main, ...Deno.args].join(" ");
}

/** The holder's details as written in the lock file, or null when not written (yet). */
async function readHolder(path: string): Promise<LockInfo | null> {
  try {
    const info = JSON.parse(await Deno.readTextFile(path));
    return typeof info?.pid === "number" && typeof info?.startedAt === "string" ? info : null;
  } catch {
    // Empty (released, or its holder has not written it yet) or gone: no details to give.
    return null;
  }
}

/** True when the open `file` is the one at `path`, not one removed or replaced since. */
async function isFileAt(file: Deno.FsFile, path: string): Promise<boolean> {
  const [open, named] = [await file.stat(), await statOrNull(path)];
  return named !== null && open.ino === named.ino && open.dev === named.dev;
}

/**
 * Takes the registry lock for `purpose` without waiting; throws
 * {@linkcode LockError} naming the holder when another process holds it.
 */
export async function acquireLock(dir: string, purpose: string): Promise<HeldLock> {
  const { root, lock } = registryPaths(dir);
  await Deno.mkdir(root, { recursive: true });
  // A few rounds: each lost one means the file was removed or replaced by hand meanwhile.
  for (let round = 0; round < 8; round++) {
    const file = await Deno.open(lock, { read: true, write: true, create: true });
    let held = false;
    try {
      if (!(await file.tryLock(true))) {
        const holder = await readHolder(lock);
        const who = holder
          ? `process ${holder.pid} (${holder.purpose}: ${holder.command}) since ${holder.startedAt}`
          : "another process, which has not written its details yet";
        throw new LockError(
          `Cannot ${purpose} as one retraining or promotion at a time may change a registry: ` +
            `current value of --registry is "${root}", locked by ${who}. Hint: wait for it to ` +
            `finish; the lock frees itself when that process ends, even if it is killed, so ` +
            `never remove "${lock}"`,
        );
      }
      held = await isFileAt(file, lock);
    } finally {
      if (!held) file.close();
    }
    if (!held) continue;
    const info: LockInfo = {
      pid: Deno.pid,
      startedAt: new Date().toISOString(),
      purpose,
      command: commandLine(),
    };
    try {
      // Written in place under the lock: the file is never replaced, or the lock would be lost.
      await file.truncate(0);
      const bytes = new TextEncoder().encode(JSON.stringify(info) + "\n");
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    } catch (error) {
      file.close();
      throw error;
    }
    // Exiting drops the lock anyway; closing it on Ctrl-C says so where it happens.
    const forget = onCleanup(() => file.close());
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      forget();
      try {
        // Emptied while still held, so no one reads a finished holder's details as current.
        await file.truncate(0);
      } finally {
        file.close();
      }
    };
    return { info, release };
  }
  throw new LockError(
    `Cannot ${purpose} as the registry lock file must stay in place: current value of ` +
      `--registry is "${root}", whose "${lock}" kept being removed or replaced. Hint: make sure ` +
      `nothing else deletes files in the registry`,
  );
}

/** Runs `work` holding the registry lock, and releases it however `work` ends. */
export async function withLock<T>(
  dir: string,
  purpose: string,
  work: (lock: HeldLock) => Promise<T>,
): Promise<T> {
  const lock = await acquireLock(dir, purpose);
  try {
    return await work(lock);
  } finally {
    await lock.release();
  }
}
