/**
 * Who the champion is and how it changes: the promotion rule, the champion
 * history that rollback walks back, manual promotion and rollback, and the
 * recovery of a decision a killed process acted on but did not record.
 *
 * @module
 */
import { RegistryError } from "../engine/errors.ts";
import { percent } from "../report/format.ts";
import type { Reporter } from "../engine/stage.ts";
import { withLock } from "./lock.ts";
import {
  appendHistory,
  cleanTemps,
  type HistoryEntry,
  readChampion,
  readCurrent,
  readHistory,
  readVersion,
  writeCurrent,
} from "./registry.ts";

/**
 * Slack for float rounding: accuracies are ratios of counts, and `a - t` can
 * land a hair above a value that equals it on paper.
 */
const ROUNDING = 1e-12;

/**
 * The promotion rule: a candidate replaces the champion when its test accuracy
 * is at least the champion's minus the tolerance (all fractions 0..1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(shouldPromote(0.95, 0.96, 0.01), true);
 * assert.equal(shouldPromote(0.94, 0.96, 0.01), false);
 * ```
 */
export function shouldPromote(candidate: number, champion: number, tolerance: number): boolean {
  return candidate >= champion - tolerance - ROUNDING;
}

/**
 * The champions in order, replayed from the history: a promotion (or a
 * recovered one) pushes its version, a rollback pops back to the one before.
 */
export function championStack(history: readonly HistoryEntry[]): string[] {
  const stack: string[] = [];
  for (const entry of history) {
    if (entry.version === null) continue;
    if (entry.decision === "promoted" || entry.decision === "recovered") {
      if (stack.at(-1) !== entry.version) stack.push(entry.version);
    } else if (entry.decision === "rollback") {
      stack.pop();
      if (stack.at(-1) !== entry.version) stack.push(entry.version);
    }
  }
  return stack;
}

/**
 * Records a champion change the history lacks: a process killed after it
 * replaced `current` but before it appended its decision. Call under the lock.
 */
export async function reconcile(dir: string, reporter: Reporter): Promise<void> {
  const current = await readCurrent(dir);
  if (current === null) return;
  const top = championStack(await readHistory(dir)).at(-1) ?? null;
  if (top === current) return;
  const info = await readVersion(dir, current);
  // A missing version is no promotion to record; whoever needs the champion reports it.
  if (!info) return;
  await appendHistory(dir, {
    at: new Date().toISOString(),
    decision: "recovered",
    by: "retrain",
    version: current,
    champion: top,
    current,
    candidateAccuracy: info.testAccuracy,
    note: `current names ${current} but the history did not record its promotion ` +
      `(an interrupted run); recorded now`,
  });
  reporter.log(`registry: recorded the interrupted promotion of ${current} in the history`);
}

/** What a manual promotion or rollback did. */
export interface ChampionChange {
  /** The history entry written, or null when the version already was the champion. */
  entry: HistoryEntry | null;
  /** The champion now. */
  current: string;
}

/** Makes version `id` the champion by hand (`models promote V`) and records it. */
export function promoteVersion(
  dir: string,
  id: string,
  reporter: Reporter,
): Promise<ChampionChange> {
  return withLock(dir, `promote ${id}`, async () => {
    await cleanTemps(dir, reporter);
    await reconcile(dir, reporter);
    const info = await readVersion(dir, id);
    if (!info) {
      throw new RegistryError(
        `Cannot promote "${id}" as it must be a complete version of registry "${dir}": it is ` +
          `not. Hint: \`deno task models\` lists the versions`,
      );
    }
    const champion = await readCurrent(dir);
    if (champion === id) return { entry: null, current: id };
    const previous = champion ? await readVersion(dir, champion) : null;
    await writeCurrent(dir, id);
    const entry: HistoryEntry = {
      at: new Date().toISOString(),
      decision: "promoted",
      by: "manual",
      version: id,
      champion,
      current: id,
      candidateAccuracy: info.testAccuracy,
      ...(previous ? { championAccuracy: previous.testAccuracy } : {}),
    };
    await appendHistory(dir, entry);
    return { entry, current: id };
  });
}

/** Makes the champion before the current one the champion again (`models rollback`). */
export function rollbackChampion(dir: string, reporter: Reporter): Promise<ChampionChange> {
  return withLock(dir, "roll back", async () => {
    await cleanTemps(dir, reporter);
    await reconcile(dir, reporter);
    const current = await readChampion(dir, "roll back");
    const stack = championStack(await readHistory(dir));
    const target = stack.at(-2);
    if (current === null || target === undefined) {
      throw new RegistryError(
        `Cannot roll back as an earlier champion must be in the history: current value of ` +
          `--registry is "${dir}", whose champion ${current ?? "(none)"} has none before it. ` +
          `Hint: \`deno task models promote V\` names any version`,
      );
    }
    const info = await readVersion(dir, target);
    if (!info) {
      throw new RegistryError(
        `Cannot roll back to "${target}" as it must be a complete version of registry "${dir}": ` +
          `it is missing. Hint: \`deno task models promote V\` names another`,
      );
    }
    const previous = await readVersion(dir, current);
    await writeCurrent(dir, target);
    const entry: HistoryEntry = {
      at: new Date().toISOString(),
      decision: "rollback",
      by: "manual",
      version: target,
      champion: current,
      current: target,
      candidateAccuracy: info.testAccuracy,
      ...(previous ? { championAccuracy: previous.testAccuracy } : {}),
    };
    await appendHistory(dir, entry);
    return { entry, current: target };
  });
}

/** One log line for a decision: time, version, decision, new vs champion accuracy. */
export function describeDecision(e: HistoryEntry): string {
  const versus = e.champion === null
    ? "no champion"
    : `champion ${e.champion} ${percent(e.championAccuracy, "?")}`;
  const tolerance = e.tolerance === undefined ? "" : ` (tolerance ${percent(e.tolerance, "?")})`;
  const note = e.note ? `; ${e.note}` : "";
  const stays = `champion stays ${e.current ?? "(none)"}`;
  switch (e.decision) {
    case "promoted":
      return `${e.at} ${e.version} promoted${e.by === "manual" ? " by hand" : ""}: ` +
        `${percent(e.candidateAccuracy, "?")}` +
        (e.champion === null ? "" : ` vs ${versus}${e.by === "manual" ? "" : tolerance}`) + note;
    case "rejected":
      return `${e.at} ${e.version} rejected: ${percent(e.candidateAccuracy, "?")} vs ${versus}` +
        `${tolerance}; ${stays}${note}`;
    case "skipped":
      return `${e.at} - skipped: ${e.note ?? "nothing changed"}; ${stays}`;
    case "failed":
      return `${e.at} ${e.version ?? "-"} failed: ${e.error ?? "unknown error"}; ${stays}`;
    case "rollback":
      return `${e.at} ${e.version} rollback: from ${e.champion} ` +
        `${percent(e.championAccuracy, "?")} to ${e.version} ${percent(e.candidateAccuracy, "?")}`;
    case "recovered":
      return `${e.at} ${e.version} recovered${note}`;
  }
}
