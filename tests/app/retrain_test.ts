import assert from "node:assert/strict";
import { buildConfig, type PipelineConfig, type RawFlags } from "../../app/config.ts";
import {
  fingerprintTestSet,
  PAUSE_POINTS,
  type PausePoint,
  retrain,
  type RetrainOptions,
  trainingConfigHash,
} from "../../app/retrain.ts";
import { InputError } from "../../engine/errors.ts";
import { TEMP_PREFIX } from "../../engine/files.ts";
import { MODEL_FILE } from "../../engine/run_folder.ts";
import { promoteVersion } from "../../registry/champion.ts";
import {
  installVersion,
  listVersions,
  readCurrent,
  readHistory,
  readVersion,
  versionDir,
  type VersionInfo,
  writeCurrent,
} from "../../registry/registry.ts";
import { findDataFiles, fingerprintData } from "../../stages/idx_decode.ts";
import { idxBytes, makeDataSet, tempDir } from "../fixtures.ts";

/** QUICK_TRAINING as flags: learns makeDataSet's set perfectly in a blink. */
const QUICK: RawFlags = {
  "no-deskew": true,
  epochs: "3",
  eta: "0.01",
  hidden: "8",
  "batch-size": "16",
  threads: "1",
};

interface Setup {
  data: string;
  registry: string;
  config: PipelineConfig;
}

async function setup(flags: RawFlags = {}): Promise<Setup> {
  const data = await makeDataSet();
  const config = buildConfig({ data, "cache-dir": await tempDir(), ...QUICK, ...flags });
  return { data, registry: `${await tempDir()}/models`, config };
}

/** Retrains, recording the pause points it passes and the lines it logs. */
async function run(
  config: PipelineConfig,
  options: Partial<RetrainOptions> & { registry: string },
) {
  const pauses: PausePoint[] = [];
  const lines: string[] = [];
  const entry = await retrain(config, {
    reporter: { log: (line) => lines.push(line) },
    pause: (point) => pauses.push(point),
    ...options,
  });
  return { entry, pauses, lines };
}

/** Installs a champion that was never trained: its model file is junk. */
async function fakeChampion(registry: string, info: Partial<VersionInfo>): Promise<void> {
  await Deno.mkdir(registry, { recursive: true });
  const runDir = await tempDir();
  await Deno.writeTextFile(`${runDir}/${MODEL_FILE}`, "not a model");
  await installVersion(registry, runDir, {
    id: "v0001",
    createdAt: "2025-01-01T00:00:00.000Z",
    dataFingerprint: "old data",
    configHash: "old config",
    testAccuracy: 1,
    testSetFingerprint: "old test set",
    dataSet: "elsewhere",
    ...info,
  });
  await writeCurrent(registry, "v0001");
}

const untimed = <T extends { at: string }>({ at: _, ...rest }: T) => rest;

/** Work in progress left in the registry folder. */
async function leftovers(registry: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(registry)))
    .map((e) => e.name)
    .filter((name) => name.startsWith(TEMP_PREFIX));
}

/** Asserts the registry lock is free: another locked operation (a no-op promotion) goes through. */
async function assertUnlocked(registry: string, champion: string): Promise<void> {
  const change = await promoteVersion(registry, champion, { log() {} });
  assert.deepEqual(change, { entry: null, current: champion });
}

Deno.test("retrain() promotes the first model and records what it was trained and tested on", async () => {
  const s = await setup();
  const { entry, pauses } = await run(s.config, { registry: s.registry });
  const files = await findDataFiles(s.data);
  const dataFingerprint = await fingerprintData(files);
  const testSetFingerprint = await fingerprintTestSet(files);
  const configHash = await trainingConfigHash(s.config);
  assert.deepEqual(untimed(entry), {
    decision: "promoted",
    by: "retrain",
    champion: null,
    tolerance: 0,
    configHash,
    version: "v0001",
    current: "v0001",
    candidateAccuracy: 1,
    dataFingerprint,
    testSetFingerprint,
    note: "first model",
  });
  assert.deepEqual(pauses, [...PAUSE_POINTS]);
  assert.equal(await readCurrent(s.registry), "v0001");
  assert.deepEqual(await readHistory(s.registry), [entry]);
  const info = await readVersion(s.registry, "v0001");
  assert.deepEqual({ ...info!, createdAt: "" }, {
    id: "v0001",
    createdAt: "",
    dataFingerprint,
    configHash,
    testAccuracy: 1,
    testSetFingerprint,
    dataSet: s.data,
  });
  const inside = (await Array.fromAsync(Deno.readDir(versionDir(s.registry, "v0001"))))
    .map((e) => e.name).sort();
  assert.deepEqual(inside, [
    "config.json",
    "metrics.json",
    "model.mnpm",
    "report.html",
    "version.json",
  ]);
  assert.deepEqual(await leftovers(s.registry), []);
  await assertUnlocked(s.registry, "v0001");
});

Deno.test("retrain() skips data and config it already retrained on, and force retrains them", async () => {
  const s = await setup();
  await run(s.config, { registry: s.registry });
  // Where outputs go and how many threads run change nothing that is trained.
  const same = { ...s.config, cacheDir: await tempDir(), threads: 2, json: true };
  const skipped = await run(same, { registry: s.registry });
  assert.equal(skipped.entry.decision, "skipped");
  assert.equal(skipped.entry.version, "v0001");
  assert.equal(skipped.entry.current, "v0001");
  assert.equal(
    skipped.entry.note,
    "data and config unchanged since v0001 (promoted); --force retrains anyway",
  );
  assert.deepEqual(skipped.pauses, []);
  const forced = await run(s.config, { registry: s.registry, force: true });
  assert.equal(forced.entry.decision, "promoted");
  assert.equal(forced.entry.version, "v0002");
  // Same test set: the champion's stored accuracy is the one compared with.
  assert.equal(forced.entry.championAccuracy, 1);
  assert.equal(forced.entry.note, undefined);
  assert.deepEqual((await listVersions(s.registry)).map((v) => v.id), ["v0001", "v0002"]);
  assert.deepEqual(
    (await readHistory(s.registry)).map((e) => e.decision),
    ["promoted", "skipped", "promoted"],
  );
});

Deno.test("retrain() keeps a better champion, adds the candidate anyway, and a tolerance lets it through", async () => {
  // One epoch at a tiny rate: the candidate stays near chance.
  const s = await setup({ epochs: "1", eta: "0.0001" });
  const files = await findDataFiles(s.data);
  await fakeChampion(s.registry, { testSetFingerprint: await fingerprintTestSet(files) });
  const worse = await run(s.config, { registry: s.registry });
  assert.equal(worse.entry.decision, "rejected");
  assert.equal(worse.entry.version, "v0002");
  assert.equal(worse.entry.champion, "v0001");
  assert.equal(worse.entry.current, "v0001");
  assert.equal(worse.entry.championAccuracy, 1);
  assert.ok(worse.entry.candidateAccuracy! < 0.5, String(worse.entry.candidateAccuracy));
  assert.deepEqual(worse.pauses, ["train", "version-half-written", "version-renamed"]);
  assert.equal(await readCurrent(s.registry), "v0001");
  assert.notEqual(await readVersion(s.registry, "v0002"), null);

  const tolerated = await run(s.config, { registry: s.registry, tolerance: 0.9, force: true });
  assert.equal(tolerated.entry.decision, "promoted");
  assert.equal(tolerated.entry.version, "v0003");
  assert.equal(tolerated.entry.tolerance, 0.9);
  assert.equal(await readCurrent(s.registry), "v0003");
});

Deno.test("retrain() promotes over a champion it cannot evaluate on a changed test set, and says why", async () => {
  const s = await setup();
  await fakeChampion(s.registry, { testAccuracy: 0.97 });
  const { entry } = await run(s.config, { registry: s.registry });
  assert.equal(entry.decision, "promoted");
  assert.equal(entry.championAccuracy, undefined);
  assert.equal(
    entry.note,
    "the test set changed since v0001 was measured (97.00% there) and it cannot be evaluated " +
      "on the new one",
  );
  assert.equal(await readCurrent(s.registry), "v0002");
});

Deno.test("retrain() records a failure, keeps the champion and rethrows the error", async () => {
  const s = await setup();
  await run(s.config, { registry: s.registry });
  const missing = `${s.data}/gone`;
  const config = { ...s.config, data: missing };
  const lines: string[] = [];
  await assert.rejects(
    () => retrain(config, { registry: s.registry, reporter: { log: (l) => lines.push(l) } }),
    (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /^Cannot read data folder ".*\/gone" as it must be a folder/);
      return true;
    },
  );
  const failed = (await readHistory(s.registry)).at(-1)!;
  assert.equal(failed.decision, "failed");
  assert.equal(failed.version, null);
  assert.equal(failed.champion, "v0001");
  assert.equal(failed.current, "v0001");
  assert.equal(failed.dataFingerprint, undefined);
  assert.match(failed.error!, /^Cannot read data folder/);
  assert.ok(lines.at(-1)!.endsWith(` - failed: ${failed.error}; champion stays v0001`));
  assert.equal(await readCurrent(s.registry), "v0001");
  assert.deepEqual(await leftovers(s.registry), []);
  await assertUnlocked(s.registry, "v0001");
});

Deno.test("trainingConfigHash() ignores where data, cache and outputs live, and changes with whatever trains", async () => {
  const config = buildConfig({ data: "/a", ...QUICK });
  const hash = await trainingConfigHash(config);
  assert.match(hash, /^[0-9a-f]{64}$/);
  for (
    const same of [
      { data: "/b" },
      { cacheDir: "/elsewhere" },
      { useCache: false },
      { dryRun: true },
      { out: "/runs/x" },
      { json: true },
      { threads: 7 },
      { preset: "textbook" as const },
    ]
  ) {
    assert.equal(await trainingConfigHash({ ...config, ...same }), hash, JSON.stringify(same));
  }
  for (
    const other of [
      { eta: 0.02 },
      { seed: 2 },
      { hidden: [9] },
      { deskew: true },
      { epochs: 4 },
      { activation: "tanh" as const },
    ]
  ) {
    assert.notEqual(await trainingConfigHash({ ...config, ...other }), hash, JSON.stringify(other));
  }
});

Deno.test("fingerprintTestSet() changes with the test files only, not with the training files", async () => {
  const data = await makeDataSet();
  const files = await findDataFiles(data);
  const before = await fingerprintTestSet(files);
  assert.match(before, /^[0-9a-f]{64}$/);
  assert.equal(await fingerprintTestSet(await findDataFiles(await makeDataSet())), before);
  await Deno.writeFile(files.trainLabels, idxBytes([120], new Uint8Array(120)));
  assert.equal(await fingerprintTestSet(files), before);
  await Deno.writeFile(files.testLabels, idxBytes([40], new Uint8Array(40)));
  assert.notEqual(await fingerprintTestSet(files), before);
});
