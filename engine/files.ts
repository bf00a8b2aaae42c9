/**
 * File helpers shared by the cache, run folders, comparisons and the registry:
 * a stat that tolerates absence, and whole-or-nothing writes.
 *
 * @module
 */

/** Prefix of temp files and folders that are not finished yet, so listings can skip them. */
export const TEMP_PREFIX = ".tmp-";

/** `Deno.stat`, or null when nothing is there. */
export async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Flushes a file or folder to disk where the platform allows it. */
export async function syncPath(path: string): Promise<void> {
  try {
    const file = await Deno.open(path);
    try {
      await file.sync();
    } finally {
      file.close();
    }
  } catch {
    // fsync of a folder is not possible everywhere; the rename order still keeps writes whole.
  }
}

/**
 * Writes a file (from one or more parts) through a synced temp file (named with
 * {@linkcode TEMP_PREFIX}) renamed into place, so a reader or a crash sees the old file or the new, whole.
 * `sync: false` skips the fsyncs, for files that are verified on read anyway.
 */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array | readonly Uint8Array[],
  options: { sync?: boolean } = {},
): Promise<void> {
  const { sync = true } = options;
  const parts = bytes instanceof Uint8Array ? [bytes] : bytes;
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const temp = `${path.slice(0, slash + 1)}${TEMP_PREFIX}${path.slice(slash + 1)}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      for (const part of parts) {
        let written = 0;
        while (written < part.length) written += await file.write(part.subarray(written));
      }
      if (sync) await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  if (sync) await syncPath(dir);
}
