/**
 * One retraining: under the registry lock, skip when the data and config are
 * those of the last successful retraining, else run the pipeline, add the run
 * as a new version, and promote it when it is no worse than the champion (on
 * the same test set) minus the tolerance. Every outcome goes to the history.
 *
 * @module
 */
import { BUNDLED_DATA } from "./bundled.ts";
import type { PipelineConfig } from "./config.ts";
import { Interrupted, onCleanup, removeSyncQuietly } from "../engine/cleanup.ts";
import { InputError } from "../engine/errors.ts";
import { ModelFormatError } from "../model/errors.ts";
import { hashJson, sha256, toHex } from "../engine/hash.ts";
import { dataDirOf, runJob } from "./job.ts";
import { MODEL_FILE } from "../engine/run_folder.ts";
import { predictFiles } from "./predict.ts";
import type { Reporter } from "../engine/stage.ts";
import { type DataFiles, findDataFiles, fingerprintData } from "../stages/idx_decode.ts";
import { describeDecision, reconcile, shouldPromote } from "../registry/champion.ts";
import { percent } from "../report/format.ts";
import { withLock } from "../registry/lock.ts";
import {
  appendHistory,
  cleanTemps,
  type HistoryEntry,
  installVersion,
  missingChampionError,
  nextVersionId,
  readChampion,
  readCurrent,
  readHistory,
  readVersion,
  tempName,
  versionDir,
  type VersionInfo,
  writeCurrent,
} from "../registry/registry.ts";

/** The moments a test may stop a retraining at (see `MNIST_PIPELINE_PAUSE_AT` in main.ts). */
export const PAUSE_POINTS = [
  "train",
  "version-half-written",
  "version-renamed",
  "current-replaced",
] as const;

/** One of {@linkcode PAUSE_POINTS}. */
export type PausePoint = typeof PAUSE_POINTS[number];

/** Options of {@linkcode retrain}. */
export interface RetrainOptions {
  /** The registry folder. */
  registry: string;
  /** How much lower than the champion's (0..1) a candidate's test accuracy may be. @default {0} */
  tolerance?: number;
  /** Retrain even when the data and config are unchanged. @default {false} */
  force?: boolean;
  /** Where progress lines go. */
  reporter: Reporter;
  /** A test seam called at each {@linkcode PausePoint}; it may block. @default {() => {}} */
  pause?: (point: PausePoint) => void;
}

/**
 * Hash of the config fields that change the trained model. The data path is
 * left out (the data fingerprint covers the content), and so are the preset
 * name (its values are in the config), where outputs go, and the thread count.
 */
export function trainingConfigHash(config: PipelineConfig): Promise<string> {
  const {
    data: _d,
    preset: _p,
    cacheDir: _c,
    useCache: _u,
    dryRun: _r,
    out: _o,
    json: _j,
    threads: _t, // results are the same bit for bit on any thread count
    ...rest
  } = config;
  return hashJson(rest);
}

/** Content hash of the test images and labels files: which test set accuracies are measured on. */
export async function fingerprintTestSet(files: DataFiles): Promise<string> {
  const images = toHex(await sha256(await Deno.readFile(files.testImages)));
  const labels = toHex(await sha256(await Deno.readFile(files.testLabels)));
  return toHex(await sha256(`testImages:${images}\ntestLabels:${labels}`));
}

/** The champion's accuracy to compare with, and why when it is not the stored one. */
interface ChampionMeasure {
  /** Test accuracy on the candidate's test set, or null when it cannot be measured there. */
  accuracy: number | null;
  /** Why, when the test set changed. */
  note?: string;
}

/**
 * The champion's test accuracy on the candidate's test set: the stored one when
 * the test set is the same, else the champion re-evaluated on the new test set.
 */
async function measureChampion(
  dir: string,
  champion: VersionInfo,
  testSetFingerprint: string,
  files: DataFiles,
): Promise<ChampionMeasure> {
  if (champion.testSetFingerprint === testSetFingerprint) {
    return { accuracy: champion.testAccuracy };
  }
  const changed = `the test set changed since ${champion.id} was measured ` +
    `(${percent(champion.testAccuracy)} there)`;
  try {
    const result = await predictFiles(`${versionDir(dir, champion.id)}/${MODEL_FILE}`, [
      files.testImages,
    ], { labels: files.testLabels });
    return {
      accuracy: result.accuracy!.accuracy,
      note: `${changed}; the champion was re-evaluated on the new test set`,
    };
  } catch (error) {
    if (!(error instanceof InputError || error instanceof ModelFormatError)) throw error;
    return { accuracy: null, note: `${changed} and it cannot be evaluated on the new one` };
  }
}

/**
 * Runs one retraining and returns the decision it recorded. A failure (bad
 * data, divergence) is recorded as `failed`, keeps the champion, and is thrown.
 * Throws {@linkcode LockError} when another retraining holds the registry.
 */
export function retrain(config: PipelineConfig, options: RetrainOptions): Promise<HistoryEntry> {
  const { registry, tolerance = 0, force = false, pause = () => {} } = options;
  const log = options.reporter;
  return withLock(registry, "retrain", async () => {
    await cleanTemps(registry, log);
    // Checked first: a champion that names a missing version is reported, never replaced.
    const champion = await readChampion(registry, "retrain");
    await reconcile(registry, log);
    const configHash = await trainingConfigHash(config);
    const base = { by: "retrain" as const, champion, tolerance, configHash };
    let version: string | null = null;
    let dataFingerprint: string | undefined;
    try {
      const files = await findDataFiles(dataDirOf(config));
      dataFingerprint = await fingerprintData(files);
      const testSetFingerprint = await fingerprintTestSet(files);
      if (!force) {
        const last = (await readHistory(registry)).findLast((e) =>
          e.by === "retrain" && (e.decision === "promoted" || e.decision === "rejected")
        );
        if (last?.dataFingerprint === dataFingerprint && last.configHash === configHash) {
          const entry: HistoryEntry = {
            at: new Date().toISOString(),
            decision: "skipped",
            ...base,
            version: last.version,
            current: champion,
            dataFingerprint,
            testSetFingerprint,
            note: `data and config unchanged since ${last.version} (${last.decision}); ` +
              `--force retrains anyway`,
          };
          await appendHistory(registry, entry);
          return entry;
        }
      }
      let trainingSeen = false;
      const reporter: Reporter = {
        log(line) {
          log.log(line);
          if (!trainingSeen && /^epoch\b/.test(line)) {
            trainingSeen = true;
            pause("train");
          }
        },
        // Passed on: the caller's reporter is where Ctrl-C stops training (cli/io.ts).
        progress: (p) => log.progress?.(p),
      };
      const runDir = tempName(registry, "run-");
      // Until installVersion has moved its files in and removed it, Ctrl-C removes it.
      const forgetRunDir = onCleanup(() => removeSyncQuietly(runDir));
      let info: VersionInfo;
      try {
        const job = await runJob({ ...config, out: runDir, dryRun: false, json: false }, reporter);
        if (job.kind !== "run") throw new Error("runJob planned instead of running");
        version = await nextVersionId(registry);
        info = {
          id: version,
          createdAt: new Date().toISOString(),
          dataFingerprint,
          configHash,
          testAccuracy: job.metrics.testAccuracy,
          testSetFingerprint,
          dataSet: config.data ?? BUNDLED_DATA,
        };
        await installVersion(registry, runDir, info, pause);
      } finally {
        forgetRunDir();
      }
      pause("version-renamed");
      const championInfo = champion ? await readVersion(registry, champion) : null;
      if (champion && !championInfo) throw missingChampionError(registry, champion, "retrain");
      const measure = championInfo
        ? await measureChampion(registry, championInfo, testSetFingerprint, files)
        : { accuracy: null, note: "first model" };
      const promote = measure.accuracy === null ||
        shouldPromote(info.testAccuracy, measure.accuracy, tolerance);
      if (promote) {
        await writeCurrent(registry, version);
        pause("current-replaced");
      }
      const entry: HistoryEntry = {
        at: new Date().toISOString(),
        decision: promote ? "promoted" : "rejected",
        ...base,
        version,
        current: promote ? version : champion,
        candidateAccuracy: info.testAccuracy,
        ...(measure.accuracy === null ? {} : { championAccuracy: measure.accuracy }),
        dataFingerprint,
        testSetFingerprint,
        ...(measure.note ? { note: measure.note } : {}),
      };
      await appendHistory(registry, entry);
      return entry;
    } catch (error) {
      // Stopped by Ctrl-C or SIGTERM: like a kill, it records nothing; main.ts cleans up.
      if (error instanceof Interrupted) throw error;
      const entry: HistoryEntry = {
        at: new Date().toISOString(),
        decision: "failed",
        ...base,
        version,
        // Read again: a failure after the promotion (while recording it) leaves the new champion.
        current: await readCurrent(registry).catch(() => champion),
        ...(dataFingerprint ? { dataFingerprint } : {}),
        error: error instanceof Error ? error.message : String(error),
      };
      await appendHistory(registry, entry);
      log.log(describeDecision(entry));
      throw error;
    }
  });
}
