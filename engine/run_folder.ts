/**
 * Output folders (run folders, comparisons): the guard that refuses to replace
 * a folder holding anything foreign, and the whole-or-nothing folder write.
 *
 * @module
 */
import { onCleanup, removeSyncQuietly } from "./cleanup.ts";
import { InputError } from "./errors.ts";

/** The file name of the model inside a run folder. */
export const MODEL_FILE = "model.mnpm";

/** The file name of the self-contained HTML report inside a run folder. */
export const REPORT_FILE = "report.html";

/** The files a run folder holds; `--out` may replace a folder holding nothing else. */
export const RUN_FILES: readonly string[] = [
  "config.json",
  "metrics.json",
  MODEL_FILE,
  REPORT_FILE,
];

/**
 * Checks that `dir` is free for an output folder: absent, or one that holds
 * only entries `belongs` accepts, so replacing it loses nothing else. `what`
 * names the folder in the error, e.g. `run folder`.
 */
export async function checkOutputFolder(
  dir: string,
  what: string,
  belongs: (entry: Deno.DirEntry) => boolean,
): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    if (error instanceof Deno.errors.NotADirectory) {
      throw new InputError(`Cannot write ${what} "${dir}" as it must be a folder: it is a file`);
    }
    throw error;
  }
  const foreign = entries.filter((e) => !belongs(e)).map((e) => e.name).sort();
  if (foreign.length > 0) {
    throw new InputError(
      `Cannot write ${what} "${dir}" as it must be new or an earlier ${what}: it holds ` +
        `${foreign.slice(0, 3).map((n) => `"${n}"`).join(", ")}${
          foreign.length > 3 ? ", …" : ""
        }. ` +
        `Hint: pick another --out`,
    );
  }
}

/** Checks that `dir` is absent or an earlier run folder holding only {@linkcode RUN_FILES}. */
export function checkRunFolder(dir: string): Promise<void> {
  return checkOutputFolder(dir, "run folder", (e) => RUN_FILES.includes(e.name));
}

/**
 * Writes the files into a temp folder beside `dir` and renames it into place,
 * so a run folder is either complete or absent. An existing folder (a repeated
 * `--out`) is replaced only after the new one is complete. Ctrl-C removes the
 * temp folder (engine/cleanup.ts).
 */
export async function writeRunFolder(
  dir: string,
  files: Record<string, Uint8Array>,
): Promise<void> {
  await checkRunFolder(dir);
  const parent = dir.includes("/") ? dir.slice(0, dir.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(parent, { recursive: true });
  const temp = `${dir}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let old: string | null = null;
  // Ctrl-C removes the temp folder and puts back a folder being replaced.
  const forget = onCleanup(() => {
    removeSyncQuietly(temp);
    if (old === null) return;
    try {
      Deno.renameSync(old, dir);
    } catch {
      removeSyncQuietly(old); // the new folder is in place: the old one is no longer wanted
    }
  });
  try {
    await Deno.mkdir(temp);
    for (const [name, bytes] of Object.entries(files)) {
      await Deno.writeFile(`${temp}/${name}`, bytes);
    }
    try {
      await Deno.stat(dir);
      old = `${dir}.${crypto.randomUUID().slice(0, 8)}.old`;
      await Deno.rename(dir, old);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      old = null;
    }
    await Deno.rename(temp, dir);
    if (old) await Deno.remove(old, { recursive: true });
  } catch (error) {
    // Put the earlier run back; should that fail too, it stays whole beside `dir`.
    if (old) await Deno.rename(old, dir).catch(() => {});
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  } finally {
    forget();
  }
}
