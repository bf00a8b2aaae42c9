/**
 * File helpers shared by the cache, run folders, comparisons and the registry:
 * a stat that tolerates absence, and whole-or-nothing writes whose temp files
 * Ctrl-C removes (engine/cleanup.ts).
 *
 * @module
 */
import { onCleanup, removeSyncQuietly } from "./cleanup.ts";

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

/**
 * Whether `error`, from opening or fsyncing a folder, says the platform cannot
 * do that (Windows cannot open a folder; some file systems refuse to fsync one).
 */
function folderSyncUnsupported(error: unknown): boolean {
  if (
    error instanceof Deno.errors.NotSupported || error instanceof Deno.errors.IsADirectory ||
    error instanceof Deno.errors.PermissionDenied
  ) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === "EINVAL" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EISDIR";
}

/**
 * Flushes a file or folder to disk. A folder the platform cannot fsync is
 * skipped (the rename order still keeps writes whole); any other failure, and
 * every failure on a file, is thrown: a registry must not report a write as
 * durable when it is not.
 */
export async function syncPath(path: string): Promise<void> {
  try {
    const file = await Deno.open(path);
    try {
      await file.sync();
    } finally {
      file.close();
    }
  } catch (error) {
    if (folderSyncUnsupported(error) && (await statOrNull(path))?.isDirectory) return;
    throw error;
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
  const dir = path.slice(0, path.lastIndexOf("/")) || ".";
  const temp = `${dir}/${TEMP_PREFIX}${path.slice(dir.length + 1)}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  const forgetTemp = onCleanup(() => removeSyncQuietly(temp));
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
  } finally {
    forgetTemp();
  }
  if (sync) await syncPath(dir);
}
