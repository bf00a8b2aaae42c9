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
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const temp = `${path.slice(0, slash + 1)}${TEMP_PREFIX}${path.slice(slash + 1)}-${
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

/**
 * A file written piece by piece through a temp file beside it (named with
 * {@linkcode TEMP_PREFIX}); nothing appears at `path` until `commit`. Made by
 * {@linkcode createPendingFile}.
 */
export interface PendingFile {
  /** Where the file appears on commit. */
  readonly path: string;
  /** The temp file being written. */
  readonly temp: string;
  /** Appends all of `bytes`; the caller may reuse `bytes` once this resolves. */
  write(bytes: Uint8Array): Promise<void>;
  /** Flushes (unless `sync: false`) and closes the temp file; no writes after it. */
  close(): Promise<void>;
  /** Closes the temp file if still open and renames it to `path`, replacing what was there. */
  commit(): Promise<void>;
  /** Closes and removes the temp file; does nothing after a commit or a second time. */
  discard(): Promise<void>;
}

/**
 * Opens a {@linkcode PendingFile} for `path`, for files too large to hold in
 * memory, or for several files that should appear together: write each, then
 * commit each, and discard them all on failure. `sync: false` skips the fsyncs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createPendingFile } from "./files.ts";
 * const dir = await Deno.makeTempDir();
 * const file = await createPendingFile(`${dir}/out.bin`);
 * await file.write(new Uint8Array([1, 2]));
 * await file.write(new Uint8Array([3]));
 * await file.commit();
 * assert.deepEqual(await Deno.readFile(`${dir}/out.bin`), new Uint8Array([1, 2, 3]));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createPendingFile(
  path: string,
  options: { sync?: boolean } = {},
): Promise<PendingFile> {
  const { sync = true } = options;
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : path.slice(0, slash) || "/";
  const temp = `${path.slice(0, slash + 1)}${TEMP_PREFIX}${path.slice(slash + 1)}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  let file: Deno.FsFile | null = await Deno.open(temp, { write: true, createNew: true });
  let state: "open" | "closed" | "committed" | "discarded" = "open";
  const close = async () => {
    if (!file) return;
    const open = file;
    file = null;
    try {
      if (sync) await open.sync();
    } finally {
      open.close();
    }
  };
  return {
    path,
    temp,
    async write(bytes) {
      if (state !== "open" || !file) {
        throw new Error(`Cannot write "${temp}" as it must be open: it is ${state}`);
      }
      let written = 0;
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
    },
    async close() {
      if (state === "open") state = "closed";
      await close();
    },
    async commit() {
      if (state === "committed" || state === "discarded") {
        throw new Error(`Cannot commit "${temp}" as it must be pending: it is ${state}`);
      }
      state = "closed";
      await close();
      await Deno.rename(temp, path);
      state = "committed";
      if (sync) await syncPath(dir);
    },
    async discard() {
      if (state === "committed" || state === "discarded") return;
      state = "discarded";
      try {
        file?.close();
      } catch {
        // Already closed by a failed sync: nothing more to release.
      }
      file = null;
      await Deno.remove(temp).catch(() => {});
    },
  };
}
