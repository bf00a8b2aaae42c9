/**
 * The registry lock: one retraining or promotion at a time. The lock file is
 * written whole to a temp file and hard-linked into place (`link` fails when
 * the lock exists, atomically), so a lock is never seen half written. Its
 * holder keeps an exclusive flock on it, which the kernel drops when the
 * process dies (`kill -9` included); a lock file nobody holds is stale and is
 * taken over with a message. (Deno 2.9 reads `/proc/<pid>` only with
 * `--allow-all`, and a flock cannot be fooled by a reused pid.)
 *
 * @module
 */
import { LockError } from "../engine/errors.ts";
import type { Reporter } from "../engine/stage.ts";
import { TEMP_PREFIX } from "../engine/files.ts";
import { registryPaths } from "./registry.ts";

/** What the lock file holds: who took it, for the messages; liveness comes from the flock. */
export interface LockInfo {
  /** The holder's process id. */
  pid: number;
  /** When the holder took the lock (ISO 8601). */
  startedAt: string;
  /** Random, so a holder only ever removes its own lock. */
  token: string;
  /** What the holder is doing, e.g. "retrain". */
  purpose: string;
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

/**
 * Whether the lock file's holder is alive: it keeps an exclusive flock on the
 * file, which the kernel drops when the process ends in any way, `kill -9`
 * included. Null when the file is gone.
 */
async function holderAlive(path: string): Promise<boolean | null> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    return !(await file.tryLock(true));
  } finally {
    file.close();
  }
}

function describeHolder(held: LockInfo | "unreadable"): string {
  return held === "unreadable"
    ? "its holder, which wrote no readable lock,"
    : `process ${held.pid}, which took it at ${held.startedAt},`;
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
  const info: LockInfo = {
    pid: Deno.pid,
    startedAt: new Date().toISOString(),
    token: crypto.randomUUID(),
    purpose,
  };
  // Written and flocked under a temp name, then linked into place: the lock is never seen
  // half written or unheld while its holder lives.
  const temp = `${root}/${TEMP_PREFIX}lock-${info.token.slice(0, 8)}`;
  const file = await Deno.open(temp, { read: true, write: true, createNew: true });
  let held = false;
  try {
    await file.lock(true);
    await file.write(new TextEncoder().encode(JSON.stringify(info) + "\n"));
    // A handful of rounds: each lost round means another process moved the lock meanwhile.
    for (let round = 0; round < 8 && !held; round++) {
      try {
        await Deno.link(temp, lock);
        held = true;
        break;
      } catch (error) {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      }
      const holder = await readLock(lock);
      const alive = await holderAlive(lock);
      if (holder === null || alive === null) continue;
      if (alive) {
        const who = holder === "unreadable"
          ? "an unreadable lock"
          : `process ${holder.pid} (${holder.purpose}) since ${holder.startedAt}`;
        throw new LockError(
          `Cannot ${purpose} as one retraining or promotion at a time may change a registry: ` +
            `current value of --registry is "${root}", locked by ${who}. Hint: wait for it to ` +
            `finish; if no retraining, schedule or models command runs, remove "${lock}"`,
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
      if (await holderAlive(aside)) {
        await Deno.link(aside, lock).catch(() => {});
        await Deno.remove(aside).catch(() => {});
        continue;
      }
      await Deno.remove(aside).catch(() => {});
      reporter.log(
        `warning: took over the stale lock "${lock}": ${
          describeHolder(holder)
        } is no longer running`,
      );
    }
  } finally {
    await Deno.remove(temp).catch(() => {});
    if (!held) file.close();
  }
  if (!held) {
    throw new LockError(
      `Cannot ${purpose} as the registry lock must settle: current value of --registry is ` +
        `"${root}", whose lock kept changing hands. Hint: try again`,
    );
  }
  const release = async () => {
    try {
      const current = await readLock(lock);
      if (current !== null && current !== "unreadable" && current.token === info.token) {
        await Deno.remove(lock);
      }
    } finally {
      // Closing drops the flock; the file is removed first so it is never left unheld by us.
      file.close();
    }
  };
  return { info, release };
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
