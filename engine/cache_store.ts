/**
 * The stage cache as a store of entries: list them, evict the least recently
 * written until the total fits a size, empty it, and sweep the temp files a
 * crashed run left. It knows the layout engine/cache.ts writes and nothing
 * else, and refuses to touch a folder that holds anything more:
 *
 * ```
 * <dir>/<stage>/<key>.bin                       a value entry (one file)
 * <dir>/<stage>/<key>.train.bin, <key>.test.bin  a data entry (one file per split)
 * <dir>/<stage>/.tmp-<name>-<8 hex>              an entry being written (name: one of the above)
 * ```
 *
 * An entry is the file(s) of one key: a data entry is listed, counted and
 * removed whole, never one split of it.
 *
 * **Which time counts as use.** Eviction orders entries by their files'
 * modification time (mtime: when the entry was written), oldest first. The
 * access time would say when an entry was last read, but Linux mounts with
 * `relatime` by default: a read updates atime only when it is older than the
 * mtime or than a day (measured on this project's ext4 disk: a second read
 * within the day left it unchanged), `noatime` mounts never update it, and a
 * backup or `grep -r` over the cache would refresh it for every entry. So
 * atime is not a reliable record of use, and the store uses mtime; listing,
 * pruning and sweeping touch no file's times. An entry the runner finds
 * damaged is rewritten, and so counts as new.
 *
 * **Temp files.** A run writes an entry into a temp file beside it, appending
 * a frame every chunk, and renames it into place when the stage's last split
 * has passed; Ctrl-C removes it, but a crash (SIGKILL, power loss) leaves it.
 * A temp file last written more than {@linkcode TEMP_SWEEP_AGE_MS} (10
 * minutes) ago is such a leftover: a live run writes its temp files within
 * seconds of each other (a finished split waits only while the other split
 * of the same stage streams), so the sweep never takes a file a running
 * process may still write or rename.
 *
 * @module
 */
import { isAbsolute, relative, resolve } from "node:path";
import { SPLITS } from "./chunk.ts";
import { InputError, UsageError } from "./errors.ts";
import { TEMP_PREFIX } from "./files.ts";

/** How long a temp file must have gone unwritten before a sweep takes it for a crash's leftover. */
export const TEMP_SWEEP_AGE_MS: number = 10 * 60_000;

const KEY = "[0-9a-f]{64}";
const PARTS = SPLITS.join("|");
const ENTRY_FILE = new RegExp(`^(${KEY})(?:\\.(${PARTS}))?\\.bin$`);
const TEMP_FILE = new RegExp(`^\\${TEMP_PREFIX}${KEY}(?:\\.(?:${PARTS}))?\\.bin-[0-9a-f]{8}$`);
const STAGE_FOLDER = /^[A-Za-z][\w-]*$/;

/** One cache entry: the file(s) of one stage key. */
export interface CacheEntry {
  /** The stage folder it lives in. */
  stage: string;
  /** Its key (hex SHA-256). */
  key: string;
  /** `value` (one file) or `data` (one file per split). */
  kind: "value" | "data";
  /** Its files' paths. */
  files: string[];
  /** Bytes of all its files. */
  bytes: number;
  /** When it was last written: the newest mtime of its files (ms since the epoch). */
  written: number;
  /** False for a data entry missing a split, which no run can read. */
  complete: boolean;
}

/** A temp file: an entry being written, or a crash's leftover. */
export interface CacheTemp {
  /** Its path. */
  path: string;
  /** Its size. */
  bytes: number;
  /** When it was last written (ms since the epoch). */
  written: number;
}

/** What a cache folder holds. */
export interface CacheListing {
  /** The folder. */
  dir: string;
  /** False when the folder does not exist (an empty cache). */
  exists: boolean;
  /** Its entries, oldest first. */
  entries: CacheEntry[];
  /** Bytes of all entries. */
  bytes: number;
  /** Temp files of entries being written now (younger than the sweep age). */
  temps: CacheTemp[];
}

/** Options of the functions that sweep temp files first. */
export interface SweepOptions {
  /** A temp file unwritten for longer than this is a leftover. @default {TEMP_SWEEP_AGE_MS} */
  tempAgeMs?: number;
  /** The time now, in ms since the epoch. @default {Date.now()} */
  now?: number;
}

interface Scan {
  exists: boolean;
  entries: CacheEntry[];
  temps: CacheTemp[];
  stages: string[];
}

/**
 * Reads a cache folder's layout, touching nothing; throws {@linkcode InputError}
 * naming the first few files that are neither entries nor temp files, so no
 * command removes a file the cache did not write.
 */
async function scan(dir: string): Promise<Scan> {
  const foreign: string[] = [];
  const byKey = new Map<string, CacheEntry>();
  const temps: CacheTemp[] = [];
  const stages: string[] = [];
  let top: Deno.DirEntry[];
  try {
    top = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { exists: false, entries: [], temps: [], stages: [] };
    }
    if (error instanceof Deno.errors.NotADirectory) {
      throw new InputError(
        `Cannot use cache folder "${dir}" as it must be a folder: it is a file. ` +
          `Hint: pick another --cache-dir`,
      );
    }
    throw error;
  }
  for (const folder of top) {
    const stageDir = `${dir}/${folder.name}`;
    if (!folder.isDirectory || folder.isSymlink || !STAGE_FOLDER.test(folder.name)) {
      foreign.push(stageDir);
      continue;
    }
    stages.push(folder.name);
    // A running pipeline renames temp files into place, and another cache command may remove
    // entries, while this one reads: what vanished in between is skipped.
    for (const file of await readDirOrEmpty(stageDir)) {
      const path = `${stageDir}/${file.name}`;
      const entry = ENTRY_FILE.exec(file.name);
      if (!file.isFile || (!entry && !TEMP_FILE.test(file.name))) {
        foreign.push(path);
        continue;
      }
      const info = await lstatOrNull(path);
      if (!info) continue;
      const written = info.mtime?.getTime() ?? 0;
      if (!entry) {
        temps.push({ path, bytes: info.size, written });
        continue;
      }
      const [, key, part] = entry;
      const id = `${folder.name}/${key}`;
      let found = byKey.get(id);
      if (!found) {
        found = {
          stage: folder.name,
          key,
          kind: part ? "data" : "value",
          files: [],
          bytes: 0,
          written: 0,
          complete: false,
        };
        byKey.set(id, found);
      }
      if (part) found.kind = "data";
      found.files.push(path);
      found.files.sort();
      found.bytes += info.size;
      found.written = Math.max(found.written, written);
    }
  }
  if (foreign.length > 0) {
    // The shallowest first: a stray file beside the stage folders says most about the folder.
    const depth = (path: string) => path.split("/").length;
    foreign.sort((a, b) => depth(a) - depth(b) || a.localeCompare(b));
    throw new InputError(
      `Cannot use cache folder "${dir}" as it must hold only stage folders of cache entries ` +
        `(<key>.bin, <key>.train.bin, <key>.test.bin) and their temp files: it holds ${
          foreign.slice(0, 3).map((p) => `"${p}"`).join(", ")
        }${foreign.length > 3 ? `, … (${foreign.length} in all)` : ""}. ` +
        `Hint: check --cache-dir; nothing was removed`,
    );
  }
  const entries = [...byKey.values()];
  for (const entry of entries) {
    entry.complete = entry.kind === "value"
      ? entry.files.length === 1
      : SPLITS.every((split) => entry.files.some((f) => f.endsWith(`.${split}.bin`)));
  }
  entries.sort((a, b) =>
    a.written - b.written || a.stage.localeCompare(b.stage) || a.key.localeCompare(b.key)
  );
  return { exists: true, entries, temps, stages };
}

async function readDirOrEmpty(dir: string): Promise<Deno.DirEntry[]> {
  try {
    return await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

async function lstatOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Removes the temp files last written longer ago than the sweep age; returns them. */
async function sweep(found: Scan, options: SweepOptions): Promise<CacheTemp[]> {
  const { tempAgeMs = TEMP_SWEEP_AGE_MS, now = Date.now() } = options;
  const swept: CacheTemp[] = [];
  for (const temp of found.temps) {
    if (now - temp.written <= tempAgeMs) continue;
    await removeGone(temp.path);
    swept.push(temp);
  }
  found.temps = found.temps.filter((t) => !swept.includes(t));
  return swept;
}

/** Removes a file; one already gone (another process cleaned it) is fine. */
async function removeGone(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Removes an entry's files, then its stage folder if that is left empty. */
async function removeEntry(dir: string, entry: CacheEntry): Promise<void> {
  for (const file of entry.files) await removeGone(file);
  await removeIfEmpty(`${dir}/${entry.stage}`);
}

async function removeIfEmpty(folder: string): Promise<void> {
  try {
    await Deno.remove(folder);
  } catch {
    // Not empty (or gone): a stage folder with entries stays.
  }
}

function listing(dir: string, found: Scan): CacheListing {
  return {
    dir,
    exists: found.exists,
    entries: found.entries,
    bytes: found.entries.reduce((sum, e) => sum + e.bytes, 0),
    temps: found.temps,
  };
}

/** What a sweeping command did. */
export interface SweepResult {
  /** The cache after it. */
  listing: CacheListing;
  /** The leftover temp files it removed. */
  swept: CacheTemp[];
}

/**
 * Lists a cache folder's entries, oldest first, after sweeping leftover temp
 * files. Throws {@linkcode InputError} when the folder holds anything else.
 */
export async function listCache(dir: string, options: SweepOptions = {}): Promise<SweepResult> {
  const found = await scan(dir);
  const swept = await sweep(found, options);
  return { listing: listing(dir, found), swept };
}

/** What {@linkcode pruneCache} and {@linkcode cleanCache} did. */
export interface EvictResult extends SweepResult {
  /** The entries removed, in the order they went. */
  removed: CacheEntry[];
}

/**
 * Evicts entries until their total is at most `maxBytes`: first the
 * incomplete ones (a data entry missing a split, which no run reads), then
 * the least recently written; each entry goes whole. Sweeps leftover temp
 * files first; throws {@linkcode InputError} when the folder holds anything
 * but the cache's own files.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.mkdir(`${dir}/decode`);
 * for (const [key, day] of [["a", 1], ["b", 2]] as const) {
 *   const path = `${dir}/decode/${key.repeat(64)}.bin`;
 *   await Deno.writeFile(path, new Uint8Array(100));
 *   await Deno.utime(path, day * 86400, day * 86400);
 * }
 * const { removed, listing } = await pruneCache(dir, 150);
 * assert.deepEqual(removed.map((e) => e.key[0]), ["a"]);
 * assert.equal(listing.bytes, 100);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function pruneCache(
  dir: string,
  maxBytes: number,
  options: SweepOptions = {},
): Promise<EvictResult> {
  const found = await scan(dir);
  const swept = await sweep(found, options);
  const order = [
    ...found.entries.filter((e) => !e.complete),
    ...found.entries.filter((e) => e.complete),
  ];
  let total = found.entries.reduce((sum, e) => sum + e.bytes, 0);
  const removed: CacheEntry[] = [];
  for (const entry of order) {
    if (total <= maxBytes) break;
    await removeEntry(dir, entry);
    removed.push(entry);
    total -= entry.bytes;
  }
  found.entries = found.entries.filter((e) => !removed.includes(e));
  return { listing: listing(dir, found), swept, removed };
}

/**
 * Empties a cache folder: removes every entry, the leftover temp files and
 * the stage folders left empty, and keeps the folder itself and the temp
 * files of entries being written now. Throws {@linkcode InputError} when the
 * folder holds anything else, before removing anything.
 */
export async function cleanCache(dir: string, options: SweepOptions = {}): Promise<EvictResult> {
  const found = await scan(dir);
  const swept = await sweep(found, options);
  for (const entry of found.entries) await removeEntry(dir, entry);
  for (const stage of found.stages) await removeIfEmpty(`${dir}/${stage}`);
  const removed = found.entries;
  found.entries = [];
  return { listing: listing(dir, found), swept, removed };
}

/** Where a cache folder must not be: the places whose loss would hurt. */
export interface ForbiddenPlaces {
  /** The project folder (the one holding main.ts). */
  projectRoot: string;
  /** The user's home folder, when known. */
  home: string | null;
}

/** True when `path` is `base` or a folder above it. */
function isAncestorOrSelf(path: string, base: string): boolean {
  const rel = relative(path, base);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * Refuses a cache folder at the file system's root, the home folder, or the
 * project folder or any folder above either, with a {@linkcode UsageError}
 * naming `--cache-dir`: such a folder holds the user's files, which a mistyped
 * `cache clean` must never reach (the check of the folder's contents would
 * also refuse it; this says why sooner). Symbolic links are resolved first.
 */
export async function checkCacheLocation(dir: string, places: ForbiddenPlaces): Promise<void> {
  const real = async (path: string) => {
    try {
      return await Deno.realPath(path);
    } catch {
      return resolve(path);
    }
  };
  const target = await real(dir);
  const forbidden: [string, string][] = [["the file system's root", "/"]];
  if (places.home) forbidden.push(["the home folder", await real(places.home)]);
  forbidden.push(["the project folder", await real(places.projectRoot)]);
  for (const [name, place] of forbidden) {
    if (isAncestorOrSelf(target, place)) {
      throw new UsageError(
        `Cannot use --cache-dir as it must not be ${name} or a folder above it: current value ` +
          `is "${dir}" (${target}). Hint: --cache-dir .cache`,
      );
    }
  }
}

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KIB: 2 ** 10,
  MIB: 2 ** 20,
  GIB: 2 ** 30,
  TIB: 2 ** 40,
};

/**
 * Parses a size such as `500MB`, `2GB`, `1.5GiB` or `0` into bytes (rounded
 * down): KB, MB, GB, TB are powers of 1000, KiB, MiB, GiB, TiB of 1024, B or
 * no unit bytes; units in any case, a space before the unit allowed. Throws
 * {@linkcode UsageError} naming `--<flag>` otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(parseSize("max-size", "2GB"), 2_000_000_000);
 * assert.equal(parseSize("max-size", "1.5GiB"), 1.5 * 2 ** 30);
 * assert.throws(() => parseSize("max-size", "2 gallons"), /--max-size as it must be a size/);
 * ```
 */
export function parseSize(flag: string, value: string): number {
  const match = /^(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)$/.exec(value.trim());
  const unit = match ? SIZE_UNITS[(match[2] || "B").toUpperCase()] : undefined;
  const bytes = match && unit ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new UsageError(
      `Cannot use --${flag} as it must be a size such as 500MB, 2GB or 1.5GiB (KB, MB, GB, TB ` +
        `count in 1000s, KiB, MiB, GiB, TiB in 1024s, B or no unit in bytes): current value is ` +
        `"${value}"`,
    );
  }
  return bytes;
}

/**
 * Writes a byte count for people, in powers of 1000 as {@linkcode parseSize} reads them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(formatSize(999), "999 B");
 * assert.equal(formatSize(1_536_000), "1.5 MB");
 * ```
 */
export function formatSize(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let n = bytes;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0
    ? `${n} B`
    : `${n < 10 ? n.toFixed(1).replace(/\.0$/, "") : Math.round(n)} ${units[i]}`;
}
