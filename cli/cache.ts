/**
 * `deno task cache`: lists the stage cache, bounds it, or empties it.
 *
 * @module
 */
import { parseArgs } from "node:util";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { pathFlag } from "../app/config.ts";
import {
  type CacheEntry,
  type CacheListing,
  checkCacheLocation,
  cleanCache,
  formatSize,
  listCache,
  parseSize,
  pruneCache,
  type SweepResult,
  TEMP_SWEEP_AGE_MS,
} from "../engine/cache_store.ts";
import { UsageError } from "../engine/errors.ts";
import { type Console, EXIT_CODES_HELP, readFlags } from "./io.ts";
import { permissionsHelp, requireAccess } from "./permissions.ts";

/** The help text of `cache`. */
export const CACHE_HELP = `Usage: deno task cache [list | prune --max-size SIZE | clean] [flags]

The stage cache holds each stage's output under its key: <stage>/<key>.bin for a value (a
minibatch plan, a model, an evaluation), <key>.train.bin and <key>.test.bin for a data set. An
entry is the file(s) of one key, and goes whole.

  list             (the default) every entry by stage: kind, size, when it was written; the total
  prune            evict entries until the total is at most --max-size: first a data entry that
                   lost a split, then the least recently written (by the files' mtime: reads do
                   not reliably update atime, see engine/cache_store.ts)
  clean            remove every entry
  --max-size SIZE  for prune: 500MB, 2GB, 1.5GiB, 0, … (KB, MB, GB, TB count in 1000s; KiB, MiB,
                   GiB, TiB in 1024s; B or no unit in bytes)
  --cache-dir DIR  the cache folder (default .cache/)
  --json           print the cache (after the command) as JSON
  --help           this text

Every command first removes the temp files of entries a crash left: those unwritten for ${
  TEMP_SWEEP_AGE_MS / 60_000
} minutes
(a running pipeline writes its own every few seconds, so they are never taken). A folder that
holds anything but entries and their temp files is refused, with nothing removed; so are the file
system's root, the home folder and the project folder (or a folder above them) as --cache-dir.
A running pipeline that loses an entry it reads recomputes it.

${permissionsHelp("cache")}
${EXIT_CODES_HELP}`;

/** The flags of `cache`. */
export const CACHE_OPTIONS = {
  "cache-dir": { type: "string" },
  "max-size": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const SUBCOMMANDS = ["list", "prune", "clean"] as const;

/** The order stages run in, so a listing reads like the pipeline. */
const STAGE_ORDER = ["decode", "normalize", "deskew", "minibatch", "train", "evaluate"];

/** The project folder, which a cache folder must not be. */
const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The home folder when the process may ask for it (the cache task may), else null. */
function homeFolder(): string | null {
  try {
    if (Deno.permissions.querySync({ name: "sys", kind: "homedir" }).state !== "granted") {
      return null;
    }
    return os.homedir();
  } catch {
    return null;
  }
}

/** `12 min ago`, `3 h ago`, `2 d ago`. */
function ago(ms: number, now: number): string {
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
const entries = (n: number) => n === 1 ? "1 entry" : `${n} entries`;

function entryJson(entry: CacheEntry) {
  return { ...entry, written: new Date(entry.written).toISOString() };
}

/** The listing as lines: each stage with its entries, then the total. */
function formatListing(listing: CacheListing, now: number): string[] {
  const lines: string[] = [];
  const stages = [...new Set(listing.entries.map((e) => e.stage))].sort((a, b) => {
    const rank = (s: string) => STAGE_ORDER.includes(s) ? STAGE_ORDER.indexOf(s) : 99;
    return rank(a) - rank(b) || a.localeCompare(b);
  });
  for (const stage of stages) {
    const own = listing.entries.filter((e) => e.stage === stage).reverse();
    const bytes = own.reduce((sum, e) => sum + e.bytes, 0);
    lines.push(
      `${stage.padEnd(10)} ${entries(own.length).padEnd(11)} ${formatSize(bytes).padStart(9)}`,
    );
    for (const e of own) {
      const note = e.complete ? "" : "  incomplete: a split is missing";
      lines.push(
        `  ${e.key.slice(0, 12)}  ${e.kind.padEnd(5)} ${formatSize(e.bytes).padStart(9)}  ` +
          `written ${ago(e.written, now)}${note}`,
      );
    }
  }
  const count = entries(listing.entries.length);
  lines.push(
    `${"total".padEnd(10)} ${count.padEnd(11)} ${formatSize(listing.bytes).padStart(9)}` +
      `  in ${listing.dir}${listing.exists ? "" : " (no such folder yet)"}`,
  );
  if (listing.temps.length > 0) {
    lines.push(
      `being written: ${plural(listing.temps.length, "temp file")} ` +
        `(${formatSize(listing.temps.reduce((sum, t) => sum + t.bytes, 0))})`,
    );
  }
  return lines;
}

/** Runs `cache`. */
export async function cacheCommand(args: string[], io: Console): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: CACHE_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  if (values.help) {
    io.out(CACHE_HELP);
    return 0;
  }
  const { sub, dir, maxBytes } = readFlags(() => {
    const [sub = "list", ...rest] = positionals;
    if (!SUBCOMMANDS.includes(sub as typeof SUBCOMMANDS[number])) {
      throw new UsageError(
        `Cannot run cache as its subcommand must be one of ${SUBCOMMANDS.join(", ")}: ` +
          `current value is "${sub}". Hint: deno task cache --help`,
      );
    }
    if (rest.length > 0) {
      throw new UsageError(
        `Cannot run cache ${sub} as it takes no further arguments: current value is ` +
          `"${rest.join(" ")}"`,
      );
    }
    const size = values["max-size"];
    if ((sub === "prune") !== (size !== undefined)) {
      throw new UsageError(
        sub === "prune"
          ? "Cannot prune the cache as --max-size must be given: it is missing. Hint: --max-size 2GB"
          : `Cannot use --max-size with cache ${sub} as only prune takes it: current value is ` +
            `"${size}". Hint: deno task cache prune --max-size ${size}`,
      );
    }
    return {
      sub,
      dir: pathFlag("cache-dir", values["cache-dir"] ?? ".cache"),
      maxBytes: size === undefined ? 0 : parseSize("max-size", size),
    };
  });
  await checkCacheLocation(dir, { projectRoot: PROJECT_ROOT, home: homeFolder() });
  requireAccess("cache", args, {
    read: [[dir, "--cache-dir"]],
    write: [[dir, "--cache-dir"]],
  });

  const now = Date.now();
  let result: SweepResult & { removed?: CacheEntry[] };
  if (sub === "prune") result = await pruneCache(dir, maxBytes, { now });
  else if (sub === "clean") result = await cleanCache(dir, { now });
  else result = await listCache(dir, { now });
  const { listing, swept, removed = [] } = result;

  if (values.json) {
    io.out(JSON.stringify({
      dir: listing.dir,
      exists: listing.exists,
      bytes: listing.bytes,
      entries: listing.entries.map(entryJson),
      removed: removed.map(entryJson),
      swept: swept.map((t) => t.path),
      writing: listing.temps.map((t) => t.path),
    }));
    return 0;
  }
  if (swept.length > 0) {
    io.err(
      `swept ${plural(swept.length, "temp file")} a crash left ` +
        `(${formatSize(swept.reduce((sum, t) => sum + t.bytes, 0))})`,
    );
  }
  if (sub !== "list") {
    const freed = formatSize(removed.reduce((sum, e) => sum + e.bytes, 0));
    io.out(`removed ${entries(removed.length)} (${freed})`);
  }
  for (const line of formatListing(listing, now)) io.out(line);
  return 0;
}
