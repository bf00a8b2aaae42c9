import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { predictFiles } from "../../app/predict.ts";
import {
  appendHistory,
  listVersions,
  readCurrent,
  readHistory,
  registryPaths,
} from "../../registry/registry.ts";
import { captureConsole, idxBytes, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

/** Settings that learn the synthetic set perfectly in a blink (deskew would centre the bars away). */

interface Setup {
  data: string;
  cache: string;
  registry: string;
}

async function setup(): Promise<Setup> {
  return {
    data: await makeDataSet(),
    cache: await tempDir(),
    registry: `${await tempDir()}/models`,
  };
}

async function cli(args: string[]) {
  const c = captureConsole();
  const code = await main(args, c.io);
  return { code, ...c };
}

function retrainCli(s: Setup, ...extra: string[]) {
  return cli([
    "retrain",
    "--data",
    s.data,
    "--cache-dir",
    s.cache,
    "--registry",
    s.registry,
    ...QUICK_TRAINING,
    ...extra,
  ]);
}

/** Rewrites the training labels as (label + 1) mod 4: a model learns them perfectly wrong. */
async function shiftTrainingLabels(data: string): Promise<void> {
  const path = `${data}/train-labels-idx1-ubyte`;
  const bytes = await Deno.readFile(path);
  const labels = bytes.subarray(8).map((l) => (l + 1) % 4);
  await Deno.writeFile(path, idxBytes([labels.length], labels));
}

async function lastDecision(registry: string) {
  return (await readHistory(registry)).at(-1)!;
}

Deno.test("retrain promotes the first model, rejects a worse one, and a tolerance lets it through", async () => {
  const s = await setup();
  const first = await retrainCli(s);
  assert.equal(first.code, 0, first.err.join("\n"));
  assert.match(first.out[0], / v0001 promoted: 100\.00%; first model$/);
  assert.equal(await readCurrent(s.registry), "v0001");

  await shiftTrainingLabels(s.data);
  const worse = await retrainCli(s);
  assert.equal(worse.code, 0, worse.err.join("\n"));
  const rejected = await lastDecision(s.registry);
  assert.equal(rejected.decision, "rejected");
  assert.equal(rejected.version, "v0002");
  assert.equal(rejected.championAccuracy, 1);
  assert.ok(rejected.candidateAccuracy! < 0.5, String(rejected.candidateAccuracy));
  assert.equal(rejected.tolerance, 0);
  assert.equal(rejected.current, "v0001");
  assert.match(
    worse.out[0],
    / v0002 rejected: \d+\.\d\d% vs champion v0001 100\.00% \(tolerance 0\.00%\); champion stays v0001$/,
  );
  assert.equal(await readCurrent(s.registry), "v0001");

  const tolerated = await retrainCli(s, "--force", "--promote-tolerance", "1");
  assert.equal(tolerated.code, 0);
  const promoted = await lastDecision(s.registry);
  assert.deepEqual([promoted.decision, promoted.version, promoted.tolerance], [
    "promoted",
    "v0003",
    1,
  ]);
  assert.equal(await readCurrent(s.registry), "v0003");

  const list = await cli(["models", "--registry", s.registry]);
  assert.equal(list.code, 0);
  assert.equal(list.out.length, 4);
  assert.match(
    list.out[1],
    /^ {2}v0001 +100\.00% {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +[0-9a-f]{12}$/,
  );
  assert.match(list.out[3], /^\* v0003 /);
  const versions = await listVersions(s.registry);
  assert.deepEqual(versions.map((v) => v.id), ["v0001", "v0002", "v0003"]);
  assert.notEqual(versions[0].dataFingerprint, versions[1].dataFingerprint);
  assert.equal(versions[0].testSetFingerprint, versions[1].testSetFingerprint);
  // A version holds every file of its run folder, plus version.json.
  const files = (await Array.fromAsync(Deno.readDir(`${s.registry}/versions/v0001`)))
    .map((e) => e.name).sort();
  assert.deepEqual(files, [
    "config.json",
    "metrics.json",
    "model.mnpm",
    "report.html",
    "version.json",
  ]);
});

Deno.test("an unchanged data folder and config skip; --force, a changed file or flag retrain", async () => {
  const s = await setup();
  assert.equal((await retrainCli(s)).code, 0);
  // Same bytes, new modification times: still the same data.
  for await (const entry of Deno.readDir(s.data)) {
    const path = `${s.data}/${entry.name}`;
    await Deno.writeFile(path, await Deno.readFile(path));
  }
  const skipped = await retrainCli(s, "--cache-dir", await tempDir());
  assert.equal(skipped.code, 0);
  assert.match(skipped.out[0], / - skipped: data and config unchanged since v0001 \(promoted\)/);
  assert.ok(!skipped.err.some((l) => l.startsWith("epoch")), "no training when skipping");
  assert.equal((await lastDecision(s.registry)).decision, "skipped");

  assert.equal((await retrainCli(s, "--force")).code, 0);
  assert.equal((await lastDecision(s.registry)).version, "v0002");
  assert.equal((await retrainCli(s, "--seed", "2")).code, 0);
  assert.equal((await lastDecision(s.registry)).version, "v0003");
  assert.equal((await retrainCli(s, "--seed", "2")).code, 0);
  assert.equal((await lastDecision(s.registry)).decision, "skipped");
  await shiftTrainingLabels(s.data);
  assert.equal((await retrainCli(s, "--seed", "2")).code, 0);
  assert.equal((await lastDecision(s.registry)).version, "v0004");
  assert.deepEqual((await listVersions(s.registry)).map((v) => v.id), [
    "v0001",
    "v0002",
    "v0003",
    "v0004",
  ]);
});

Deno.test("a failing retraining records the failure, keeps the champion, and exits 1", async () => {
  const s = await setup();
  assert.equal((await retrainCli(s)).code, 0);
  const path = `${s.data}/t10k-images-idx3-ubyte`;
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 7));
  const failed = await retrainCli(s);
  assert.equal(failed.code, 1);
  assert.match(failed.err.at(-1)!, /^error: Cannot .*\(truncated\)/);
  const entry = await lastDecision(s.registry);
  assert.equal(entry.decision, "failed");
  assert.match(entry.error!, /truncated/);
  assert.equal(entry.current, "v0001");
  assert.equal(await readCurrent(s.registry), "v0001");
  assert.deepEqual((await listVersions(s.registry)).map((v) => v.id), ["v0001"]);
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(s.registry))).map((e) => e.name).sort(),
    ["current", "history.jsonl", "lock", "versions"],
  );
  // Divergence fails the same way.
  await Deno.writeFile(path, bytes);
  const diverged = await retrainCli(s, "--eta", "1e30", "--seed", "5");
  assert.equal(diverged.code, 1);
  assert.equal((await lastDecision(s.registry)).decision, "failed");
  assert.equal(await readCurrent(s.registry), "v0001");
});

Deno.test("models promote and rollback change the champion by hand; predict --model uses it", async () => {
  const s = await setup();
  await retrainCli(s);
  await shiftTrainingLabels(s.data);
  await retrainCli(s);
  assert.equal(await readCurrent(s.registry), "v0001");
  const predicted = await predictFiles(s.registry, [`${s.data}/t10k-images-idx3-ubyte`]);
  assert.equal(predicted.modelPath, `${s.registry}/versions/v0001/model.mnpm`);

  const missing = await cli(["models", "promote", "v0042", "--registry", s.registry]);
  assert.equal(missing.code, 1);
  assert.match(missing.err[0], /^error: Cannot promote "v0042" as it must be a complete version/);
  const promote = await cli(["models", "promote", "v0002", "--registry", s.registry]);
  assert.equal(promote.code, 0);
  assert.match(
    promote.out[0],
    / v0002 promoted by hand: \d+\.\d\d% vs champion v0001 100\.00%$/,
  );
  assert.equal(await readCurrent(s.registry), "v0002");
  const viaCli = await cli([
    "predict",
    "--model",
    `${s.registry}/`,
    "--json",
    `${s.data}/t10k-images-idx3-ubyte`,
  ]);
  assert.equal(viaCli.code, 0);
  assert.equal(JSON.parse(viaCli.out[0]).predictions.length, 40);

  const back = await cli(["models", "rollback", "--registry", s.registry]);
  assert.equal(back.code, 0);
  assert.match(back.out[0], / v0001 rollback: from v0002 \d+\.\d\d% to v0001 100\.00%$/);
  assert.equal(await readCurrent(s.registry), "v0001");
  const none = await cli(["models", "rollback", "--registry", s.registry]);
  assert.equal(none.code, 1);
  assert.match(
    none.err[0],
    /^error: Cannot roll back as an earlier champion must be in the history/,
  );
  const history = await cli(["models", "history", "--registry", s.registry]);
  assert.deepEqual(history.out.map((l) => l.split(" ").slice(1, 3).join(" ")), [
    "v0001 promoted:",
    "v0002 rejected:",
    "v0002 promoted",
    "v0001 rollback:",
  ]);
});

Deno.test("a changed test set re-evaluates the champion on it and says so", async () => {
  const s = await setup();
  await retrainCli(s);
  const other = await makeDataSet({ seed: 99 });
  for (const name of ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) {
    await Deno.copyFile(`${other}/${name}`, `${s.data}/${name}`);
  }
  const result = await retrainCli(s);
  assert.equal(result.code, 0, result.err.join("\n"));
  const entry = await lastDecision(s.registry);
  assert.equal(entry.version, "v0002");
  assert.match(
    entry.note!,
    /^the test set changed since v0001 was measured \(100\.00% there\); the champion was re-evaluated on the new test set$/,
  );
  assert.equal(typeof entry.championAccuracy, "number");
  const [v1, v2] = await listVersions(s.registry);
  assert.notEqual(v1.testSetFingerprint, v2.testSetFingerprint);
});

Deno.test("listing ignores temp and incomplete folders; the next retraining removes the temps", async () => {
  const s = await setup();
  await retrainCli(s);
  await Deno.mkdir(`${s.registry}/.tmp-deadbeef`);
  await Deno.writeTextFile(`${s.registry}/.tmp-deadbeef/model.mnpm`, "half");
  await Deno.mkdir(`${s.registry}/versions/v0007`);
  assert.deepEqual((await listVersions(s.registry)).map((v) => v.id), ["v0001"]);
  const next = await retrainCli(s, "--force");
  assert.equal(next.code, 0);
  assert.ok(next.err.some((l) => l.includes(".tmp-deadbeef") && l.includes("interrupted")));
  assert.deepEqual((await listVersions(s.registry)).map((v) => v.id), ["v0001", "v0008"]);
  assert.ok(
    !(await Array.fromAsync(Deno.readDir(s.registry))).some((e) => e.name.startsWith(".tmp-")),
  );
});

Deno.test("a torn last history line is ignored, and the next decision starts a fresh line", async () => {
  const registry = `${await tempDir()}/models`;
  await Deno.mkdir(registry);
  const entry = {
    at: "2025-01-01T00:00:00.000Z",
    decision: "skipped" as const,
    by: "retrain" as const,
    version: null,
    champion: null,
    current: null,
  };
  await appendHistory(registry, entry);
  await Deno.writeTextFile(registryPaths(registry).history, '{"at":"2025-01-0', { append: true });
  assert.equal((await readHistory(registry)).length, 1);
  await appendHistory(registry, { ...entry, at: "2025-01-02T00:00:00.000Z" });
  assert.deepEqual((await readHistory(registry)).map((e) => e.at), [
    "2025-01-01T00:00:00.000Z",
    "2025-01-02T00:00:00.000Z",
  ]);
});

Deno.test("retrain refuses --out and --dry-run, and an empty registry lists nothing", async () => {
  const s = await setup();
  const out = await retrainCli(s, "--out", "somewhere");
  assert.equal(out.code, 2);
  assert.match(out.err[0], /^error: Cannot use --out with a retraining as the registry decides/);
  const empty = await cli(["models", "--registry", s.registry]);
  assert.equal(empty.code, 0);
  assert.match(empty.out[0], /^no versions in registry/);
  await Deno.mkdir(`${s.registry}/versions`, { recursive: true });
  const noChampion = await cli([
    "predict",
    "--model",
    s.registry,
    `${s.data}/t10k-images-idx3-ubyte`,
  ]);
  assert.equal(noChampion.code, 1);
  assert.match(
    noChampion.err[0],
    /^error: Cannot load the current model of registry .* no champion yet/,
  );
});

/** Points `current` at a version that does not exist, as a hand edit or a removed folder would. */
async function pointCurrentAt(registry: string, id: string): Promise<void> {
  await Deno.writeTextFile(
    registryPaths(registry).current,
    JSON.stringify({ version: id, since: "2025-01-01T00:00:00.000Z" }) + "\n",
  );
}

function missingChampion(action: string, registry: string, id: string): string {
  return `error: Cannot ${action} as the champion of registry "${registry}" must be a complete ` +
    `version: "${registry}/current" names "${id}", which is missing or incomplete. Hint: run ` +
    "`deno task models` to list the versions and `deno task models promote V` to name one";
}

Deno.test("a champion naming a missing version is reported by models and retrain, never replaced", async () => {
  const s = await setup();
  assert.equal((await retrainCli(s)).code, 0);
  await pointCurrentAt(s.registry, "v0009");
  const before = await readHistory(s.registry);

  const list = await cli(["models", "--registry", s.registry]);
  assert.equal(list.code, 1);
  assert.match(list.out[1], /^ {2}v0001 /, "the versions are still listed, none marked current");
  assert.deepEqual(list.err, [missingChampion("list the models", s.registry, "v0009")]);

  const retrained = await retrainCli(s, "--force");
  assert.equal(retrained.code, 1);
  assert.equal(retrained.err.at(-1), missingChampion("retrain", s.registry, "v0009"));
  assert.equal(await readCurrent(s.registry), "v0009", "current is left for a person to fix");
  assert.deepEqual(await readHistory(s.registry), before, "nothing recorded, nothing recovered");
  assert.deepEqual((await listVersions(s.registry)).map((v) => v.id), ["v0001"]);

  const promote = await cli(["models", "promote", "v0001", "--registry", s.registry]);
  assert.equal(promote.code, 0, promote.err.join("\n"));
  assert.equal(await readCurrent(s.registry), "v0001");
  assert.equal((await retrainCli(s, "--force")).code, 0);
});

Deno.test("rollback refuses a champion naming a missing version and records nothing", async () => {
  const s = await setup();
  await retrainCli(s);
  await retrainCli(s, "--force", "--promote-tolerance", "1");
  assert.equal(await readCurrent(s.registry), "v0002");
  await pointCurrentAt(s.registry, "v0009");
  const before = await readHistory(s.registry);
  const back = await cli(["models", "rollback", "--registry", s.registry]);
  assert.equal(back.code, 1);
  assert.deepEqual(back.err, [missingChampion("roll back", s.registry, "v0009")]);
  assert.deepEqual(await readHistory(s.registry), before);
  assert.equal(await readCurrent(s.registry), "v0009");

  // A rollback target whose folder is gone is refused the same way.
  await pointCurrentAt(s.registry, "v0002");
  await Deno.remove(`${s.registry}/versions/v0001`, { recursive: true });
  const gone = await cli(["models", "rollback", "--registry", s.registry]);
  assert.equal(gone.code, 1);
  assert.match(gone.err[0], /^error: Cannot roll back to "v0001" as it must be a complete version/);
  assert.deepEqual(await readHistory(s.registry), before);
});
