import assert from "node:assert/strict";
import { main } from "../../main.ts";
import { DENO } from "../child.ts";
import { loadModel } from "../../app/predict.ts";
import {
  type HistoryEntry,
  listVersions,
  readCurrent,
  readHistory,
} from "../../registry/registry.ts";
import { PAUSE_POINTS, type PausePoint } from "../../app/retrain.ts";
import { captureConsole, makeDataSet, QUICK_TRAINING, tempDir } from "../fixtures.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** What each kill point leaves: the complete versions and the champion. */
const AFTER_KILL: Record<PausePoint, { versions: string[]; current: string }> = {
  "train": { versions: ["v0001"], current: "v0001" },
  "version-half-written": { versions: ["v0001"], current: "v0001" },
  "version-renamed": { versions: ["v0001", "v0002"], current: "v0001" },
  "current-replaced": { versions: ["v0001", "v0002"], current: "v0002" },
};

/**
 * Starts `main.ts retrain` in a child process that stops at `point`, waits for
 * its `paused at` line, and kills it with SIGKILL.
 */
async function retrainKilledAt(point: PausePoint, args: string[]): Promise<string> {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env=MNIST_PIPELINE_PAUSE_AT",
      "main.ts",
      "retrain",
      ...args,
    ],
    cwd: ROOT,
    env: { MNIST_PIPELINE_PAUSE_AT: point, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let seen = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  // A generous limit on waiting for the marker, not a timing assertion: a slow machine still passes.
  const limit = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    while (!seen.includes(`paused at ${point}\n`)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.ok(seen.includes(`paused at ${point}\n`), `no pause marker; stderr:\n${seen}`);
    child.kill("SIGKILL");
  } finally {
    clearTimeout(limit);
    await reader.cancel();
    const status = await child.status;
    assert.equal(status.signal, "SIGKILL", seen);
  }
  return seen;
}

for (const point of PAUSE_POINTS) {
  Deno.test(`a retraining killed at "${point}" leaves the registry consistent, and the next one takes over`, async () => {
    const data = await makeDataSet();
    const registry = `${await tempDir()}/models`;
    const common = ["--data", data, "--registry", registry, ...QUICK_TRAINING];
    const first = captureConsole();
    assert.equal(
      await main(["retrain", ...common, "--cache-dir", await tempDir()], first.io),
      0,
      first.err.join("\n"),
    );

    // A fresh cache, so the child trains; a tolerance of 1 makes it promote whatever it scores.
    const childArgs = [
      ...common,
      "--seed",
      "2",
      "--cache-dir",
      await tempDir(),
      "--promote-tolerance",
      "1",
    ];
    await retrainKilledAt(point, childArgs);

    const expected = AFTER_KILL[point];
    assert.deepEqual((await listVersions(registry)).map((v) => v.id), expected.versions);
    assert.equal(await readCurrent(registry), expected.current);
    const { model, path } = await loadModel(registry);
    assert.equal(path, `${registry}/versions/${expected.current}/model.mnpm`);
    assert.deepEqual(model.spec.sizes, [100, 8, 4]);
    const decisions = (await readHistory(registry)).map((e: HistoryEntry) => e.decision);
    assert.deepEqual(decisions, ["promoted"], "the killed run recorded nothing");
    const names = (await Array.fromAsync(Deno.readDir(registry))).map((e) => e.name);
    assert.ok(names.includes("lock"), "the lock file is permanent");
    if (point === "version-half-written") {
      const temps = names.filter((n) => /^\.tmp-[0-9a-f]{8}$/.test(n));
      assert.equal(temps.length, 1, names.join(" "));
      const inside = (await Array.fromAsync(Deno.readDir(`${registry}/${temps[0]}`))).map((e) =>
        e.name
      );
      assert.deepEqual(inside, ["model.mnpm"], "killed with the version folder half written");
    }

    const next = captureConsole();
    const code = await main([
      "retrain",
      ...common,
      "--seed",
      "3",
      "--cache-dir",
      await tempDir(),
    ], next.io);
    // The kernel let go of the killed process's lock: the next retraining just takes it.
    assert.equal(code, 0, next.err.join("\n"));
    assert.ok(!next.err.some((l) => /lock/.test(l)), next.err.join("\n"));
    const after = await readHistory(registry);
    if (point === "current-replaced") {
      assert.equal(after[1].decision, "recovered");
      assert.equal(after[1].version, "v0002");
    }
    const last = after.at(-1)!;
    assert.ok(last.decision === "promoted" || last.decision === "rejected", last.decision);
    assert.equal(last.version, `v000${expected.versions.length + 1}`);
    const left = (await Array.fromAsync(Deno.readDir(registry))).map((e) => e.name).sort();
    assert.deepEqual(left, ["current", "history.jsonl", "lock", "versions"], "no temps");
    assert.equal(await Deno.readTextFile(`${registry}/lock`), "", "released");
  });
}
