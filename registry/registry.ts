/**
 * The model registry on disk: one folder holding complete versions, a pointer
 * to the champion, and the history of decisions.
 *
 * ```
 * models/
 *   versions/v0001/   a run folder (model.mnpm, config.json, metrics.json, …) plus version.json
 *   current           {"version":"v0001","since":"…"}, replaced by temp file + rename
 *   history.jsonl     one decision per line, appended whole; a torn last line is ignored
 *   lock              permanent; flocked by the one retraining or promotion at work (lock.ts)
 *   .tmp-…            work in progress; removed by the next locked operation
 * ```
 *
 * A version is built in a `.tmp-` folder and renamed into `versions/` in one
 * step, so a listed version is always complete.
 *
 * @module
 */
import { MODEL_FILE } from "../engine/run_folder.ts";
import { onCleanup, removeSyncQuietly } from "../engine/cleanup.ts";
import { RegistryError } from "../engine/errors.ts";
import { statOrNull, syncPath, TEMP_PREFIX, writeFileAtomic } from "../engine/files.ts";
import type { Reporter } from "../engine/stage.ts";

/** The registry folder used when `--registry` is not given. */
export const DEFAULT_REGISTRY = "models";

/** The file inside a version folder that describes it. */
export const VERSION_FILE = "version.json";

/** What `version.json` holds. */
export interface VersionInfo {
  /** The version's name, `v0001`, `v0002`, …. */
  id: string;
  /** When the version was added (ISO 8601). */
  createdAt: string;
  /** Content hash of the four data files. */
  dataFingerprint: string;
  /** Hash of the training-relevant config. */
  configHash: string;
  /** Test accuracy, 0..1, on the test set named by `testSetFingerprint`. */
  testAccuracy: number;
  /** Content hash of the test images and labels files. */
  testSetFingerprint: string;
  /** The data folder, or the bundled data set's name. */
  dataSet: string;
}

/** The kinds of decision the history records. */
export type DecisionKind =
  | "promoted"
  | "rejected"
  | "skipped"
  | "failed"
  | "rollback"
  | "recovered";

/** One line of `history.jsonl`. */
export interface HistoryEntry {
  /** When the decision was made (ISO 8601). */
  at: string;
  /** What was decided. */
  decision: DecisionKind;
  /** Who decided: a retraining or a person (`models promote`, `models rollback`). */
  by: "retrain" | "manual";
  /** The candidate version (promoted, rejected), the target (rollback), or the skip's match. */
  version: string | null;
  /** The champion before the decision. */
  champion: string | null;
  /** The champion after the decision. */
  current: string | null;
  /** The candidate's test accuracy, 0..1. */
  candidateAccuracy?: number;
  /** The champion's test accuracy on the candidate's test set, 0..1. */
  championAccuracy?: number;
  /** The `--promote-tolerance` the decision used. */
  tolerance?: number;
  /** Content hash of the data the retraining read. */
  dataFingerprint?: string;
  /** Hash of the training-relevant config. */
  configHash?: string;
  /** Content hash of the test set. */
  testSetFingerprint?: string;
  /** Why, in words, when the numbers alone do not say. */
  note?: string;
  /** The error of a failed retraining. */
  error?: string;
}

/** The registry's paths. */
export interface RegistryPaths {
  /** The registry folder. */
  root: string;
  /** Folder of complete versions. */
  versions: string;
  /** The champion pointer. */
  current: string;
  /** The decision log. */
  history: string;
  /** The lock file. */
  lock: string;
}

/** The paths inside registry folder `dir`. */
export function registryPaths(dir: string): RegistryPaths {
  const root = dir.replace(/\/+$/, "") || "/";
  return {
    root,
    versions: `${root}/versions`,
    current: `${root}/current`,
    history: `${root}/history.jsonl`,
    lock: `${root}/lock`,
  };
}

const VERSION_ID = /^v(\d{4,})$/;

/** The name of version number n: `v0001`. */
export function versionId(n: number): string {
  return `v${String(n).padStart(4, "0")}`;
}

/** A fresh name for work in progress inside the registry. */
export function tempName(dir: string, what = ""): string {
  return `${registryPaths(dir).root}/${TEMP_PREFIX}${what}${crypto.randomUUID().slice(0, 8)}`;
}

/** True when `dir` looks like a registry: it holds `versions/` or `current`. */
export async function isRegistry(dir: string): Promise<boolean> {
  const paths = registryPaths(dir);
  return (await statOrNull(paths.versions))?.isDirectory === true ||
    (await statOrNull(paths.current))?.isFile === true;
}

function isVersionInfo(value: unknown, id: string): value is VersionInfo {
  const v = value as Partial<VersionInfo> | null;
  return typeof v === "object" && v !== null && v.id === id &&
    typeof v.testAccuracy === "number" && typeof v.dataFingerprint === "string" &&
    typeof v.configHash === "string" && typeof v.testSetFingerprint === "string" &&
    typeof v.createdAt === "string";
}

/**
 * Reads a version's `version.json`; null when the version does not exist or is
 * not complete (no valid `version.json` or no model file).
 */
export async function readVersion(dir: string, id: string): Promise<VersionInfo | null> {
  if (!VERSION_ID.test(id)) return null;
  const folder = `${registryPaths(dir).versions}/${id}`;
  let info: unknown;
  try {
    info = JSON.parse(await Deno.readTextFile(`${folder}/${VERSION_FILE}`));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return null;
    throw error;
  }
  if (!isVersionInfo(info, id)) return null;
  if (!(await statOrNull(`${folder}/${MODEL_FILE}`))?.isFile) return null;
  return info;
}

/** The folder of version `id`. */
export function versionDir(dir: string, id: string): string {
  return `${registryPaths(dir).versions}/${id}`;
}

/** Every complete version, oldest first; anything else in `versions/` is ignored. */
export async function listVersions(dir: string): Promise<VersionInfo[]> {
  const { versions } = registryPaths(dir);
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(versions)))
      .filter((e) => e.isDirectory && VERSION_ID.test(e.name))
      .map((e) => e.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const infos: VersionInfo[] = [];
  for (const name of names) {
    const info = await readVersion(dir, name);
    if (info) infos.push(info);
  }
  return infos.sort((a, b) => versionNumber(a.id) - versionNumber(b.id));
}

function versionNumber(id: string): number {
  return Number(VERSION_ID.exec(id)?.[1] ?? -1);
}

/** The id the next version gets: one above every folder in `versions/`, complete or not. */
export async function nextVersionId(dir: string): Promise<string> {
  let highest = 0;
  try {
    for await (const entry of Deno.readDir(registryPaths(dir).versions)) {
      const m = VERSION_ID.exec(entry.name);
      if (m) highest = Math.max(highest, Number(m[1]));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return versionId(highest + 1);
}

/** The champion's id, or null when nothing was promoted yet. */
export async function readCurrent(dir: string): Promise<string | null> {
  const { current } = registryPaths(dir);
  let text: string;
  try {
    text = await Deno.readTextFile(current);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
  try {
    const { version } = JSON.parse(text);
    if (typeof version === "string" && VERSION_ID.test(version)) return version;
  } catch {
    // Reported below: current is only ever replaced whole, so this is damage from outside.
  }
  throw new RegistryError(
    `Cannot read the champion "${current}" as it must be {"version":"v0001",…}: it holds ` +
      `${JSON.stringify(text.slice(0, 60))}. Hint: run \`deno task models promote V\` to name one`,
  );
}

/** Makes `id` the champion: `current` is replaced by temp file + rename. */
export async function writeCurrent(dir: string, id: string): Promise<void> {
  const text = JSON.stringify({ version: id, since: new Date().toISOString() }) + "\n";
  await writeFileAtomic(registryPaths(dir).current, new TextEncoder().encode(text));
}

/** Every decision, oldest first; a torn or damaged line (a process killed mid-append) is skipped. */
export async function readHistory(dir: string): Promise<HistoryEntry[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(registryPaths(dir).history);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const entries: HistoryEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    try {
      const entry = JSON.parse(line);
      if (typeof entry?.decision === "string" && typeof entry?.at === "string") entries.push(entry);
    } catch {
      // A torn line holds no decision that was acted on: it is written after the act.
    }
  }
  return entries;
}

/** Appends one decision as a whole line (starting a fresh line after a torn one) and fsyncs. */
export async function appendHistory(dir: string, entry: HistoryEntry): Promise<void> {
  const { history } = registryPaths(dir);
  const file = await Deno.open(history, { read: true, append: true, create: true });
  try {
    const { size } = await file.stat();
    let torn = false;
    if (size > 0) {
      await file.seek(size - 1, Deno.SeekMode.Start);
      const last = new Uint8Array(1);
      await file.read(last);
      torn = last[0] !== 0x0a;
    }
    const bytes = new TextEncoder().encode(`${torn ? "\n" : ""}${JSON.stringify(entry)}\n`);
    let written = 0;
    while (written < bytes.length) written += await file.write(bytes.subarray(written));
    await file.sync();
  } finally {
    file.close();
  }
}

/** Removes work in progress left by a killed process; call only while holding the lock. */
export async function cleanTemps(dir: string, reporter: Reporter): Promise<void> {
  const { root } = registryPaths(dir);
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(root));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries) {
    if (!entry.name.startsWith(TEMP_PREFIX)) continue;
    const path = `${root}/${entry.name}`;
    await Deno.remove(path, { recursive: true }).catch(() => {});
    reporter.log(`registry: removed "${path}" left by an interrupted run`);
  }
}

/**
 * Moves every file of a finished run folder into a temp folder, adds
 * `version.json`, and renames the folder into `versions/<id>` in one step.
 * `pause` is a test seam called when the temp folder is half written.
 */
export async function installVersion(
  dir: string,
  runDir: string,
  info: VersionInfo,
  pause: (point: "version-half-written") => void = () => {},
): Promise<string> {
  const temp = tempName(dir);
  // Until it is renamed into versions/, Ctrl-C removes it.
  const forgetTemp = onCleanup(() => removeSyncQuietly(temp));
  try {
    await Deno.mkdir(temp);
    // The model first, so the half-written pause point leaves a folder that looks nearly whole.
    const names = (await Array.fromAsync(Deno.readDir(runDir)))
      .filter((e) => e.isFile)
      .map((e) => e.name)
      .sort((a, b) => Number(b === MODEL_FILE) - Number(a === MODEL_FILE));
    for (const [i, name] of names.entries()) {
      await Deno.rename(`${runDir}/${name}`, `${temp}/${name}`);
      await syncPath(`${temp}/${name}`);
      if (i === 0) pause("version-half-written");
    }
    const bytes = new TextEncoder().encode(JSON.stringify(info, null, 2) + "\n");
    const file = await Deno.open(`${temp}/${VERSION_FILE}`, { write: true, createNew: true });
    try {
      await file.write(bytes);
      await file.sync();
    } finally {
      file.close();
    }
    await syncPath(temp);
    const { versions } = registryPaths(dir);
    await Deno.mkdir(versions, { recursive: true });
    const target = versionDir(dir, info.id);
    await Deno.rename(temp, target);
    await syncPath(versions);
    await Deno.remove(runDir, { recursive: true }).catch(() => {});
    return target;
  } finally {
    forgetTemp();
  }
}

/**
 * The error for a `current` that names a version that is missing or
 * incomplete (removed or edited by hand): the registry never replaces such a
 * champion silently. `action` is what could not be done, e.g. `retrain`.
 */
export function missingChampionError(dir: string, id: string, action: string): RegistryError {
  return new RegistryError(
    `Cannot ${action} as the champion of registry "${dir}" must be a complete version: ` +
      `"${registryPaths(dir).current}" names "${id}", which is missing or incomplete. ` +
      `Hint: run \`deno task models\` to list the versions and \`deno task models promote V\` ` +
      `to name one`,
  );
}

/**
 * The champion's id, checked to be a complete version; null when nothing was
 * promoted yet. Throws {@linkcode missingChampionError} for `action` otherwise.
 */
export async function readChampion(dir: string, action: string): Promise<string | null> {
  const current = await readCurrent(dir);
  if (current !== null && !(await readVersion(dir, current))) {
    throw missingChampionError(dir, current, action);
  }
  return current;
}

/**
 * The model file of a registry's champion; throws {@linkcode RegistryError}
 * when there is none or it is not complete.
 */
export async function currentModelPath(dir: string): Promise<string> {
  const action = `load the current model of registry "${dir}"`;
  const current = await readChampion(dir, action);
  if (!current) {
    throw new RegistryError(
      `Cannot ${action} as one must have been promoted: ` +
        `current value of --model is "${dir}", which has no champion yet. ` +
        `Hint: run \`deno task retrain\` first`,
    );
  }
  return `${versionDir(dir, current)}/${MODEL_FILE}`;
}
