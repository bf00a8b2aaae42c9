/**
 * What the command line says about itself: the version, the list of commands
 * for `--help`, and the "did you mean" hints for a mistyped command or flag.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };

/** The project's name: deno.json's package name without its scope (`@mnist-pipeline/core` → `mnist-pipeline`). */
export const NAME: string = denoJson.name.replace(/^@([^/]+)\/.*$/, "$1");

/** The project's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** A command's one-line summary, shown by `--help`. */
export interface CommandSummary {
  /** The command's name, e.g. `pipeline`. */
  name: string;
  /** One line on what it does. */
  summary: string;
}

/** The help text of `main.ts` (and of no command): the commands with one line each. */
export function mainHelp(commands: readonly CommandSummary[]): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    `${NAME} ${VERSION}: trains MLPs on MNIST IDX data through cached, streamed stages.`,
    "",
    "Usage: deno task COMMAND [flags]     (or: deno run -A main.ts COMMAND [flags])",
    "",
    "Commands",
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run deno task COMMAND --help for a command's flags; --version prints the version.",
  ].join("\n");
}

/**
 * The Levenshtein distance between two strings: the fewest single-character
 * insertions, deletions and substitutions that turn one into the other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(editDistance("epoch", "epochs"), 1);
 * ```
 */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The candidate closest to `word`, when it is close enough to be a typo (at
 * most a third of its length, and at least 1, edits away); null otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(closest("pipline", ["pipeline", "compare"]), "pipeline");
 * assert.equal(closest("zzz", ["pipeline", "compare"]), null);
 * ```
 */
export function closest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** The long flags a help text documents (every `--name` in it), for "did you mean". */
export function flagsInHelp(help: string): string[] {
  return [...new Set([...help.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]))];
}
