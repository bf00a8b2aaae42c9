/**
 * `deno task runs`: a table of every run and comparison folder, and
 * `runs/index.html` linking their reports.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { parseSortField, scanRuns, sortRows, writeRunsIndex } from "../app/runs.ts";
import { percent } from "../report/format.ts";
import { type IndexRow, rowDetail } from "../report/runs_page.ts";
import { type Console, EXIT_CODES_HELP, noPositionals } from "./io.ts";
import { permissionsHelp } from "./permissions.ts";

/** The help text of `runs`. */
export const RUNS_HELP = `Usage: deno task runs [--sort FIELD] [--json] [--runs-dir DIR]

Prints one line per run folder and comparison folder: date, short key, preset, the flags that
differ from the preset (a comparison: its two arms' test accuracy and McNemar p-value), test
accuracy and training seconds. Writes DIR/index.html, a self-contained page linking every report.
Folders that are not runs (or do not parse) are skipped with a note on stderr.

  --sort FIELD      date (the default), key, preset, accuracy (best first) or seconds
                    (slowest first)
  --json            print the rows and the skipped folders as JSON on stdout
  --runs-dir DIR    the runs folder (default runs/)
  --help            this text

${permissionsHelp("runs")}
${EXIT_CODES_HELP}`;

/** The flags of `runs`. */
export const RUNS_OPTIONS = {
  sort: { type: "string" },
  json: { type: "boolean" },
  "runs-dir": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/** The rows as an aligned text table, one string per line. */
export function formatRunsTable(rows: readonly IndexRow[]): string[] {
  const head = ["date", "key", "preset", "test acc", "train s", "flags / arms"];
  const cells = rows.map((r) => [
    r.date,
    r.key,
    r.preset,
    percent(r.testAccuracy),
    r.trainSeconds === null ? "–" : r.trainSeconds.toFixed(1),
    rowDetail(r),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const right = [false, false, false, true, true, false];
  const line = (c: string[]) =>
    c.map((v, i) => i === c.length - 1 ? v : right[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))
      .join("  ");
  return [line(head), ...cells.map(line)];
}

/** Runs `runs`. */
export async function runsCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: RUNS_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(RUNS_HELP);
    return 0;
  }
  if (!noPositionals("runs", positionals, io)) return 2;
  const sort = parseSortField(values.sort ?? "date");
  const runsDir = (values["runs-dir"] ?? "runs").replace(/(.)\/+$/, "$1");
  const index = await scanRuns(runsDir);
  const rows = sortRows(index.rows, sort);
  for (const s of index.skipped) io.err(`note: skipped ${runsDir}/${s.folder}: ${s.reason}`);
  if (values.json) {
    io.out(JSON.stringify({ runs: rows, skipped: index.skipped }));
  } else if (rows.length === 0) {
    io.out(`no runs in ${runsDir}/ yet: deno task pipeline makes one`);
  } else {
    for (const line of formatRunsTable(rows)) io.out(line);
  }
  if (rows.length === 0 && index.skipped.length === 0) return 0;
  const page = await writeRunsIndex(runsDir, { rows, skipped: index.skipped });
  if (!values.json) io.err(`index ${page}`);
  return 0;
}
