/**
 * The run index page, `runs/index.html`: one self-contained table of every run
 * and comparison folder, each linking its report, and the folders skipped.
 *
 * @module
 */
import { escapeHtml, page, table } from "./html.ts";
import { percent, pValue } from "./format.ts";

/** One arm of a comparison, as the index shows it. */
export interface IndexArm {
  /** The arm's name, e.g. `deskew on`. */
  label: string;
  /** Mean test accuracy over seeds, 0..1. */
  testAccuracy: number;
}

/** One row of the run index: a run folder or a comparison folder. */
export interface IndexRow {
  /** `run` for a run folder, `compare` for a comparison folder. */
  kind: "run" | "compare";
  /** The folder's name inside the runs folder. */
  folder: string;
  /** When it was made, `YYYY-MM-DD HH:MM:SS` (UTC). */
  date: string;
  /** A run's short key (the evaluate stage's key, 8 hex digits); `compare` for a comparison. */
  key: string;
  /** The preset the values started from. */
  preset: string;
  /** The flags that differ from the preset, e.g. `--epochs 1 --no-deskew`. */
  flags: string;
  /** A run's test accuracy, 0..1; null for a comparison. */
  testAccuracy: number | null;
  /** Seconds spent training (a comparison: all its runs); null when unknown. */
  trainSeconds: number | null;
  /** A comparison's two arms. */
  arms?: IndexArm[];
  /** A comparison's McNemar p-value (first seed). */
  pValue?: number;
  /** A comparison's seeds. */
  seeds?: number[];
  /** The report's path relative to the runs folder; null when the folder has none. */
  report: string | null;
}

/** A folder the index left out, and why. */
export interface SkippedFolder {
  /** The folder's name inside the runs folder. */
  folder: string;
  /** Why it is not a run or comparison the index can show. */
  reason: string;
}

/** A comparison's arms and p-value in one line, e.g. `deskew on 97.90% vs deskew off 97.41%, p 0.0012`. */
export function describeArms(row: IndexRow): string {
  if (!row.arms) return "";
  const arms = row.arms.map((a) => `${a.label} ${percent(a.testAccuracy)}`).join(" vs ");
  return `${arms}, p ${row.pValue === undefined ? "–" : pValue(row.pValue)}`;
}

/** What a row's "flags / arms" column says. */
export function rowDetail(row: IndexRow): string {
  return row.kind === "compare"
    ? [describeArms(row), row.flags].filter(Boolean).join("; ")
    : row.flags || "(the preset)";
}

/** The index page: every row linking its report, then the skipped folders. */
export function renderRunsIndex(
  rows: readonly IndexRow[],
  skipped: readonly SkippedFolder[],
): string {
  const link = (row: IndexRow) =>
    row.report === null
      ? escapeHtml(row.folder)
      : `<a href="${escapeHtml(encodeURI(row.report))}">${escapeHtml(row.folder)}</a>`;
  const body = table(
    ["date", "key", "preset", "flags / arms", "test accuracy", "train s", "report"],
    rows.map((row) => [
      row.date,
      row.key,
      row.preset,
      rowDetail(row),
      percent(row.testAccuracy),
      row.trainSeconds === null ? "–" : row.trainSeconds.toFixed(1),
      { html: link(row) },
    ]),
  );
  const notes = skipped.length === 0 ? "" : `<h2>Skipped folders</h2>` +
    table(["folder", "why"], skipped.map((s) => [s.folder, s.reason]));
  const count = `${rows.length} ${rows.length === 1 ? "entry" : "entries"}`;
  return page(
    `runs: ${count}`,
    `<h1>Runs</h1><p class="sub">${
      escapeHtml(count)
    }; written by deno task runs</p>${body}${notes}`,
  );
}
