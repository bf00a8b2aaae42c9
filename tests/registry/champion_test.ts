import assert from "node:assert/strict";
import { MODEL_FILE } from "../../engine/run_folder.ts";
import {
  championStack,
  describeDecision,
  promoteVersion,
  reconcile,
  rollbackChampion,
  shouldPromote,
} from "../../registry/champion.ts";
import {
  appendHistory,
  type HistoryEntry,
  installVersion,
  readCurrent,
  readHistory,
  registryPaths,
  versionDir,
  versionId,
  type VersionInfo,
  writeCurrent,
} from "../../registry/registry.ts";
import { tempDir } from "../fixtures.ts";

/** A reporter that keeps its lines. */
function recorder(): { lines: string[]; log(line: string): void } {
  const lines: string[] = [];
  return { lines, log: (line) => lines.push(line) };
}

/** A fresh, empty registry folder path. */
async function registry(): Promise<string> {
  return `${await tempDir({ prefix: "mnp-registry-" })}/models`;
}

/** Adds complete version n with the given test accuracy, as a retraining would. */
async function addVersion(dir: string, n: number, testAccuracy: number): Promise<VersionInfo> {
  await Deno.mkdir(dir, { recursive: true });
  const run = await tempDir();
  await Deno.writeTextFile(`${run}/${MODEL_FILE}`, `model ${n}`);
  await Deno.writeTextFile(`${run}/metrics.json`, "{}");
  const info: VersionInfo = {
    id: versionId(n),
    createdAt: `2025-01-0${n}T00:00:00.000Z`,
    dataFingerprint: "data",
    configHash: "config",
    testAccuracy,
    testSetFingerprint: "test",
    dataSet: "synthetic",
  };
  await installVersion(dir, run, info);
  return info;
}

const entry = (decision: HistoryEntry["decision"], version: string | null): HistoryEntry => ({
  at: "2025-01-01T00:00:00.000Z",
  decision,
  by: "retrain",
  version,
  champion: null,
  current: null,
});

/** A history entry without its time stamp, which no two runs share. */
const untimed = ({ at: _, ...rest }: HistoryEntry) => rest;

Deno.test("shouldPromote() promotes a candidate no worse than the champion minus the tolerance", () => {
  assert.equal(shouldPromote(0.9, 0.9, 0), true);
  assert.equal(shouldPromote(0.91, 0.9, 0), true);
  assert.equal(shouldPromote(0.8999, 0.9, 0), false);
  assert.equal(shouldPromote(0.89, 0.9, 0.01), true);
  assert.equal(shouldPromote(0.88, 0.9, 0.01), false);
  assert.equal(shouldPromote(0, 1, 1), true);
});

Deno.test("shouldPromote() promotes a candidate exactly the tolerance below, though 0.8 − 0.1 > 0.7 in floats", () => {
  assert.ok(0.8 - 0.1 > 0.7);
  assert.equal(shouldPromote(0.7, 0.8, 0.1), true);
  assert.equal(shouldPromote(0.6999, 0.8, 0.1), false);
});

Deno.test("championStack() replays promotions and rollbacks, ignoring every other decision", () => {
  const history = [
    entry("promoted", "v0001"),
    entry("rejected", "v0002"),
    entry("promoted", "v0003"),
    entry("skipped", "v0003"),
    entry("failed", null),
    entry("promoted", "v0003"), // the champion again (a manual promote of the current one)
  ];
  assert.deepEqual(championStack(history), ["v0001", "v0003"]);
  assert.deepEqual(championStack([...history, entry("rollback", "v0001")]), ["v0001"]);
  assert.deepEqual(
    championStack([...history, entry("rollback", "v0001"), entry("recovered", "v0004")]),
    ["v0001", "v0004"],
  );
  assert.deepEqual(championStack([]), []);
});

Deno.test("promoteVersion() makes a version the champion by hand and records it", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  await addVersion(dir, 2, 0.85);
  const reporter = recorder();
  const first = await promoteVersion(dir, "v0001", reporter);
  assert.equal(first.current, "v0001");
  assert.deepEqual(untimed(first.entry!), {
    decision: "promoted",
    by: "manual",
    version: "v0001",
    champion: null,
    current: "v0001",
    candidateAccuracy: 0.9,
  });
  const second = await promoteVersion(dir, "v0002", reporter);
  assert.deepEqual(untimed(second.entry!), {
    decision: "promoted",
    by: "manual",
    version: "v0002",
    champion: "v0001",
    current: "v0002",
    candidateAccuracy: 0.85,
    championAccuracy: 0.9,
  });
  assert.equal(await readCurrent(dir), "v0002");
  assert.deepEqual(await readHistory(dir), [first.entry, second.entry]);
  assert.deepEqual(reporter.lines, []);
});

Deno.test("promoteVersion() of the champion itself changes and records nothing", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  await promoteVersion(dir, "v0001", recorder());
  const again = await promoteVersion(dir, "v0001", recorder());
  assert.deepEqual(again, { entry: null, current: "v0001" });
  assert.equal((await readHistory(dir)).length, 1);
});

Deno.test("promoteVersion() refuses a version that is missing or incomplete, and keeps the champion", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  await promoteVersion(dir, "v0001", recorder());
  // v0002 lost its model file: incomplete.
  await addVersion(dir, 2, 0.95);
  await Deno.remove(`${versionDir(dir, "v0002")}/${MODEL_FILE}`);
  for (const id of ["v0002", "v0009", "latest"]) {
    await assert.rejects(() => promoteVersion(dir, id, recorder()), {
      name: "RegistryError",
      message: `Cannot promote "${id}" as it must be a complete version of registry "${dir}": ` +
        "it is not. Hint: `deno task models` lists the versions",
    });
  }
  assert.equal(await readCurrent(dir), "v0001");
  assert.equal((await readHistory(dir)).length, 1);
});

Deno.test("rollbackChampion() makes the champion before the current one current again, and records it", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  await addVersion(dir, 2, 0.8);
  await promoteVersion(dir, "v0001", recorder());
  await promoteVersion(dir, "v0002", recorder());
  const change = await rollbackChampion(dir, recorder());
  assert.equal(change.current, "v0001");
  assert.deepEqual(untimed(change.entry!), {
    decision: "rollback",
    by: "manual",
    version: "v0001",
    champion: "v0002",
    current: "v0001",
    candidateAccuracy: 0.9,
    championAccuracy: 0.8,
  });
  assert.equal(await readCurrent(dir), "v0001");
  assert.deepEqual((await readHistory(dir)).at(-1), change.entry);
  assert.deepEqual(championStack(await readHistory(dir)), ["v0001"]);
});

Deno.test("rollbackChampion() refuses when no earlier champion is in the history", async () => {
  const dir = await registry();
  await assert.rejects(() => rollbackChampion(dir, recorder()), {
    name: "RegistryError",
    message: `Cannot roll back as an earlier champion must be in the history: current value of ` +
      `--registry is "${dir}", whose champion (none) has none before it. ` +
      "Hint: `deno task models promote V` names any version",
  });
  await addVersion(dir, 1, 0.9);
  await addVersion(dir, 2, 0.8);
  await promoteVersion(dir, "v0001", recorder());
  await promoteVersion(dir, "v0002", recorder());
  await rollbackChampion(dir, recorder());
  // v0001 was the first champion: nothing before it.
  await assert.rejects(() => rollbackChampion(dir, recorder()), {
    name: "RegistryError",
    message: `Cannot roll back as an earlier champion must be in the history: current value of ` +
      `--registry is "${dir}", whose champion v0001 has none before it. ` +
      "Hint: `deno task models promote V` names any version",
  });
  assert.equal(await readCurrent(dir), "v0001");
});

Deno.test("rollbackChampion() refuses to roll back to a version that is gone, and keeps the champion", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  await addVersion(dir, 2, 0.8);
  await promoteVersion(dir, "v0001", recorder());
  await promoteVersion(dir, "v0002", recorder());
  await Deno.remove(versionDir(dir, "v0001"), { recursive: true });
  await assert.rejects(() => rollbackChampion(dir, recorder()), {
    name: "RegistryError",
    message: `Cannot roll back to "v0001" as it must be a complete version of registry "${dir}": ` +
      "it is missing. Hint: `deno task models promote V` names another",
  });
  assert.equal(await readCurrent(dir), "v0002");
  assert.equal((await readHistory(dir)).length, 2);
});

Deno.test("reconcile() records a promotion a killed process made but did not log, once", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  await addVersion(dir, 2, 0.95);
  await promoteVersion(dir, "v0001", recorder());
  // Killed after replacing `current`, before appending the decision.
  await writeCurrent(dir, "v0002");
  const reporter = recorder();
  await reconcile(dir, reporter);
  assert.deepEqual(reporter.lines, [
    "registry: recorded the interrupted promotion of v0002 in the history",
  ]);
  const recovered = (await readHistory(dir)).at(-1)!;
  assert.deepEqual(untimed(recovered), {
    decision: "recovered",
    by: "retrain",
    version: "v0002",
    champion: "v0001",
    current: "v0002",
    candidateAccuracy: 0.95,
    note: "current names v0002 but the history did not record its promotion " +
      "(an interrupted run); recorded now",
  });
  await reconcile(dir, reporter);
  assert.equal(reporter.lines.length, 1);
  assert.equal((await readHistory(dir)).length, 2);
  // A rollback now walks back past the recovered promotion.
  assert.equal((await rollbackChampion(dir, recorder())).current, "v0001");
});

Deno.test("reconcile() of a registry with no champion, or a recorded one, does nothing", async () => {
  const dir = await registry();
  const reporter = recorder();
  await reconcile(dir, reporter);
  await addVersion(dir, 1, 0.9);
  await promoteVersion(dir, "v0001", recorder());
  await reconcile(dir, reporter);
  assert.deepEqual(reporter.lines, []);
  assert.equal((await readHistory(dir)).length, 1);
});

Deno.test("promoteVersion() first removes work in progress a killed run left, and says so", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  const leftover = `${registryPaths(dir).root}/.tmp-run-deadbeef`;
  await Deno.mkdir(leftover);
  await Deno.writeTextFile(`${leftover}/model.mnpm`, "half");
  const reporter = recorder();
  await promoteVersion(dir, "v0001", reporter);
  assert.deepEqual(reporter.lines, [`registry: removed "${leftover}" left by an interrupted run`]);
  await assert.rejects(Deno.stat(leftover), Deno.errors.NotFound);
});

Deno.test("describeDecision() writes one line per kind of decision", () => {
  const at = "2025-01-02T03:04:05.000Z";
  const base = { at, by: "retrain" as const };
  const lines = [
    {
      ...base,
      decision: "promoted",
      version: "v0001",
      champion: null,
      current: "v0001",
      candidateAccuracy: 0.9,
      tolerance: 0,
      note: "first model",
    },
    {
      ...base,
      decision: "promoted",
      version: "v0002",
      champion: "v0001",
      current: "v0002",
      candidateAccuracy: 0.91234,
      championAccuracy: 0.9,
      tolerance: 0.005,
    },
    {
      ...base,
      by: "manual",
      decision: "promoted",
      version: "v0003",
      champion: "v0002",
      current: "v0003",
      candidateAccuracy: 0.5,
      championAccuracy: 0.91234,
    },
    {
      ...base,
      decision: "rejected",
      version: "v0004",
      champion: "v0003",
      current: "v0003",
      candidateAccuracy: 0.25,
      championAccuracy: 0.5,
      tolerance: 0,
    },
    {
      ...base,
      decision: "rejected",
      version: "v0005",
      champion: "v0003",
      current: "v0003",
      candidateAccuracy: 0.25,
      note: "the test set changed",
    },
    {
      ...base,
      decision: "skipped",
      version: "v0004",
      champion: "v0003",
      current: "v0003",
      note: "data and config unchanged since v0004 (rejected)",
    },
    { ...base, decision: "skipped", version: null, champion: null, current: null },
    {
      ...base,
      decision: "failed",
      version: null,
      champion: null,
      current: null,
      error: "Cannot read data folder",
    },
    {
      ...base,
      by: "manual",
      decision: "rollback",
      version: "v0002",
      champion: "v0003",
      current: "v0002",
      candidateAccuracy: 0.91234,
      championAccuracy: 0.5,
    },
    {
      ...base,
      decision: "recovered",
      version: "v0006",
      champion: "v0002",
      current: "v0006",
      note: "recorded now",
    },
  ] as HistoryEntry[];
  assert.deepEqual(lines.map(describeDecision), [
    `${at} v0001 promoted: 90.00%; first model`,
    `${at} v0002 promoted: 91.23% vs champion v0001 90.00% (tolerance 0.50%)`,
    `${at} v0003 promoted by hand: 50.00% vs champion v0002 91.23%`,
    `${at} v0004 rejected: 25.00% vs champion v0003 50.00% (tolerance 0.00%); champion stays v0003`,
    `${at} v0005 rejected: 25.00% vs champion v0003 ?; champion stays v0003; the test set changed`,
    `${at} - skipped: data and config unchanged since v0004 (rejected); champion stays v0003`,
    `${at} - skipped: nothing changed; champion stays (none)`,
    `${at} - failed: Cannot read data folder; champion stays (none)`,
    `${at} v0002 rollback: from v0003 50.00% to v0002 91.23%`,
    `${at} v0006 recovered; recorded now`,
  ]);
});

Deno.test("the history a promotion appends survives a torn line before it", async () => {
  const dir = await registry();
  await addVersion(dir, 1, 0.9);
  await appendHistory(dir, entry("failed", null));
  await Deno.writeTextFile(registryPaths(dir).history, '{"at":"torn', { append: true });
  const { entry: promoted } = await promoteVersion(dir, "v0001", recorder());
  const history = await readHistory(dir);
  assert.equal(history.length, 2);
  assert.deepEqual(history[1], promoted);
});
