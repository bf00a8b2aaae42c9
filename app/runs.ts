/**
 * The run index: reads every run folder and comparison folder in a runs
 * folder into rows (date, key, preset, the flags that differ from the preset,
 * test accuracy, train seconds), sorts them, and writes `index.html` beside
 * them. Folders it cannot read are skipped with the reason, never fatal.
 *
 * @module
 */
import { ConfigError } from "../engine/errors.ts";
import { writeFileAtomic } from "../engine/files.ts";
import { REPORT_FILE } from "../engine/run_folder.ts";
import { type IndexRow, renderRunsIndex, type SkippedFolder } from "../report/runs_page.ts";
import {
  configFileFlags,
  DEFAULT_MEMORY_MB,
  type Preset,
  PRESET_VALUES,
  PRESETS,
  type RawFlags,
} from "./config.ts";

/** The fields `--sort` takes. */
export const SORT_FIELDS = ["date", "key", "preset", "accuracy", "seconds"] as const;

/** One of {@linkcode SORT_FIELDS}. */
export type SortField = typeof SORT_FIELDS[number];

/** The file name of the index page inside the runs folder. */
export const INDEX_FILE = "index.html";

/** What {@linkcode scanRuns} found. */
export interface RunIndex {
  /** One row per run or comparison folder. */
  rows: IndexRow[];
  /** The folders left out, with why. */
  skipped: SkippedFolder[];
}

/** A folder's timestamp as `YYYY-MM-DD HH:MM:SS`, from its name (`2026-12-02T04-35-12Z-…`). */
function dateFromName(name: string): string | null {
  const m = /(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)/.exec(name);
  return m ? `${m[1]} ${m[2]}:${m[3]}:${m[4]}` : null;
}

function dateOf(name: string, stat: Deno.FileInfo): string {
  return dateFromName(name) ?? stat.mtime?.toISOString().slice(0, 19).replace("T", " ") ?? "";
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await Deno.readTextFile(path));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** A preset's values as the flags a config.json would give, for the difference. */
function presetFlags(preset: Preset): RawFlags {
  const values = { preset, ...PRESET_VALUES[preset], memory: DEFAULT_MEMORY_MB };
  return configFileFlags(JSON.stringify(values), `preset ${preset}`);
}

/**
 * The flags of `flags` that differ from its preset, as a command line would
 * give them, e.g. `--epochs 1 --no-deskew`.
 */
export function flagsDifferingFromPreset(flags: RawFlags): string {
  const preset = (PRESETS as readonly unknown[]).includes(flags.preset)
    ? flags.preset as Preset
    : "default";
  const base = presetFlags(preset);
  const parts: string[] = [];
  for (const [flag, value] of Object.entries(flags)) {
    if (flag === "preset" || value === undefined || base[flag] === value) continue;
    if (value === true) parts.push(`--${flag}`);
    else if (value !== false) parts.push(`--${flag} ${value === "" ? '""' : value}`);
  }
  return parts.join(" ");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function runRow(dir: string, name: string, stat: Deno.FileInfo): Promise<IndexRow> {
  const configText = await Deno.readTextFile(`${dir}/config.json`);
  const flags = configFileFlags(configText, `${name}/config.json`);
  const metrics = await readJson(`${dir}/metrics.json`);
  if (!isObject(metrics) || typeof metrics.testAccuracy !== "number") {
    throw new ConfigError("metrics.json must hold a testAccuracy number: it does not");
  }
  const history = Array.isArray(metrics.history) ? metrics.history : [];
  const seconds = history.every((r) => isObject(r) && typeof r.seconds === "number")
    ? history.reduce((sum: number, r) => sum + (r as { seconds: number }).seconds, 0)
    : null;
  const stages = Array.isArray(metrics.stages) ? metrics.stages : [];
  const lastKey = stages.length > 0 && isObject(stages.at(-1)) ? stages.at(-1).key : undefined;
  const key = /-([0-9a-f]{8})$/.exec(name)?.[1] ??
    (typeof lastKey === "string" ? lastKey.slice(0, 8) : "–");
  return {
    kind: "run",
    folder: name,
    date: dateOf(name, stat),
    key,
    preset: String(flags.preset ?? "default"),
    flags: flagsDifferingFromPreset(flags),
    testAccuracy: metrics.testAccuracy,
    trainSeconds: seconds,
    report: (await exists(`${dir}/${REPORT_FILE}`)) ? `${name}/${REPORT_FILE}` : null,
  };
}

async function compareRow(dir: string, name: string, stat: Deno.FileInfo): Promise<IndexRow> {
  const c = await readJson(`${dir}/compare.json`);
  const arms = isObject(c) && Array.isArray(c.arms) ? c.arms : [];
  const armsOk = arms.length === 2 &&
    arms.every((a) =>
      isObject(a) && typeof a.label === "string" && typeof a.testAccuracy === "number"
    );
  if (!isObject(c) || !armsOk || !isObject(c.vary)) {
    throw new ConfigError("compare.json must hold two arms with a label and test accuracy");
  }
  const shared = isObject(c.flags) ? c.flags : {};
  const given = Object.entries(shared)
    .filter(([flag, v]) => flag !== "preset" && v !== undefined && v !== false)
    .map(([flag, v]) => v === true ? `--${flag}` : `--${flag} ${v}`);
  const mcnemar = isObject(c.mcnemar) && typeof c.mcnemar.pValue === "number"
    ? c.mcnemar.pValue
    : undefined;
  const seeds = Array.isArray(c.seeds) ? c.seeds.filter((s) => typeof s === "number") : [];
  const armSeconds = arms.map((a) => (a as { trainSeconds?: unknown }).trainSeconds);
  return {
    kind: "compare",
    folder: name,
    date: dateOf(name, stat),
    key: "compare",
    preset: typeof shared.preset === "string" ? shared.preset : "default",
    flags: given.join(" "),
    testAccuracy: null,
    trainSeconds: armSeconds.every((s) => typeof s === "number")
      ? (armSeconds as number[]).reduce((a, b) => a + b, 0) * Math.max(1, seeds.length)
      : null,
    arms: arms.map((a) => ({
      label: (a as { label: string }).label,
      testAccuracy: (a as { testAccuracy: number }).testAccuracy,
    })),
    ...(mcnemar === undefined ? {} : { pValue: mcnemar }),
    seeds,
    report: (await exists(`${dir}/${REPORT_FILE}`)) ? `${name}/${REPORT_FILE}` : null,
  };
}

/**
 * Reads every folder in `runsDir` into index rows, oldest first. A folder with
 * config.json and metrics.json is a run, one with compare.json a comparison;
 * anything else, and any file that does not parse, is skipped with the reason.
 * An absent `runsDir` gives no rows.
 */
export async function scanRuns(runsDir: string): Promise<RunIndex> {
  const rows: IndexRow[] = [];
  const skipped: SkippedFolder[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(runsDir));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { rows, skipped };
    throw error;
  }
  for (const entry of entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) {
    if (!entry.isDirectory) continue;
    const dir = `${runsDir}/${entry.name}`;
    try {
      const stat = await Deno.stat(dir);
      if (await exists(`${dir}/compare.json`)) {
        rows.push(await compareRow(dir, entry.name, stat));
      } else if (await exists(`${dir}/config.json`) && await exists(`${dir}/metrics.json`)) {
        rows.push(await runRow(dir, entry.name, stat));
      } else {
        skipped.push({
          folder: entry.name,
          reason: /\.(tmp|old)$/.test(entry.name)
            ? "an unfinished or interrupted write"
            : "holds neither config.json with metrics.json nor compare.json",
        });
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      skipped.push({ folder: entry.name, reason: message.split("\n")[0] });
    }
  }
  return { rows: sortRows(rows, "date"), skipped };
}

/**
 * Rows ordered by a field: date, key and preset ascending; accuracy and
 * seconds descending (best and slowest first), missing values last. Ties keep
 * date order.
 */
export function sortRows(rows: readonly IndexRow[], field: SortField): IndexRow[] {
  const byDate = (a: IndexRow, b: IndexRow) =>
    a.date < b.date ? -1 : a.date > b.date ? 1 : a.folder < b.folder ? -1 : 1;
  const text = (f: (r: IndexRow) => string) => (a: IndexRow, b: IndexRow) =>
    f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : byDate(a, b);
  const number = (f: (r: IndexRow) => number | null) => (a: IndexRow, b: IndexRow) => {
    const [x, y] = [f(a), f(b)];
    if (x === y) return byDate(a, b);
    if (x === null) return 1;
    if (y === null) return -1;
    return y - x;
  };
  const compare = {
    date: byDate,
    key: text((r) => r.key),
    preset: text((r) => r.preset),
    accuracy: number((r) => r.testAccuracy),
    seconds: number((r) => r.trainSeconds),
  }[field];
  return [...rows].sort(compare);
}

/** Parses `--sort`, refusing an unknown field with the list. */
export function parseSortField(value: string): SortField {
  if (!(SORT_FIELDS as readonly string[]).includes(value)) {
    throw new ConfigError(
      `Cannot sort by --sort ${value} as it must be one of ${SORT_FIELDS.join(", ")}: ` +
        `current value is "${value}"`,
    );
  }
  return value as SortField;
}

/** Writes `index.html` into `runsDir`, linking every row's report; returns its path. */
export async function writeRunsIndex(runsDir: string, index: RunIndex): Promise<string> {
  const path = `${runsDir.replace(/\/+$/, "")}/${INDEX_FILE}`;
  await writeFileAtomic(path, new TextEncoder().encode(renderRunsIndex(index.rows, index.skipped)));
  return path;
}
