import assert from "node:assert/strict";
import { entryPath } from "../../engine/cache.ts";
import { planPipeline, runPipeline, stageKeys } from "../../engine/runner.ts";
import type { AnyStage, Codec, Stage } from "../../engine/stage.ts";
import { tempDir } from "../fixtures.ts";

const numberCodec: Codec<number> = {
  encode: (n) => new TextEncoder().encode(String(n)),
  decode: (b) => Number(new TextDecoder().decode(b)),
};

/** A chain of stages that add their param to the input, counting how often each runs. */
function chain(adds: number[], runs: Map<string, number>): AnyStage[] {
  return adds.map((add, i): Stage<number, number> => ({
    name: `s${i}`,
    version: 1,
    params: { add },
    run: (input) => {
      runs.set(`s${i}`, (runs.get(`s${i}`) ?? 0) + 1);
      return Promise.resolve(input + add);
    },
    codec: numberCodec,
  }));
}

const quiet = { log() {} };

Deno.test("stageKeys() changes exactly the keys from the changed stage onwards", async () => {
  const a = await stageKeys(chain([1, 2, 3, 4], new Map()), "source");
  const b = await stageKeys(chain([1, 2, 9, 4], new Map()), "source");
  assert.deepEqual(a.map((k, i) => k === b[i]), [true, true, false, false]);
  const c = await stageKeys(chain([1, 2, 3, 4], new Map()), "other source");
  assert.ok(a.every((k, i) => k !== c[i]));
});

Deno.test("stageKeys() changes with the stage version", async () => {
  const stages = chain([1, 2], new Map());
  const a = await stageKeys(stages, "source");
  const bumped = [stages[0], { ...stages[1], version: 2 }];
  const b = await stageKeys(bumped, "source");
  assert.equal(a[0], b[0]);
  assert.notEqual(a[1], b[1]);
});

Deno.test("runPipeline() caches outputs and a changed param reruns only downstream stages", async () => {
  const cacheDir = await tempDir();
  const runs = new Map<string, number>();
  const options = { source: { key: "src", value: 10 }, cacheDir, reporter: quiet };
  const first = await runPipeline({ ...options, stages: chain([1, 2, 3], runs) });
  assert.deepEqual(first.records.map((r) => r.status), ["ran", "ran", "ran"]);
  assert.equal(first.outputs.size, 3);

  const again = await runPipeline({ ...options, stages: chain([1, 2, 3], runs) });
  assert.deepEqual(again.records.map((r) => r.status), ["skipped", "skipped", "cached"]);
  assert.deepEqual(again.records.map((r) => r.cached), [true, true, true]);

  const changed = chain([1, 5, 3], runs);
  const plan = await planPipeline({ ...options, stages: changed });
  assert.deepEqual(plan.map((p) => p.willRun), [false, true, true]);
  const third = await runPipeline({ ...options, stages: changed });
  assert.deepEqual(third.records.map((r) => r.status), ["cached", "ran", "ran"]);
  assert.equal(third.outputs.get(changed[2]), 19);
  assert.deepEqual(Object.fromEntries(runs), { s0: 1, s1: 2, s2: 2 });
});

Deno.test("runPipeline() reports a damaged entry and recomputes it", async () => {
  const cacheDir = await tempDir();
  const runs = new Map<string, number>();
  const lines: string[] = [];
  const stages = chain([1, 2], runs);
  const options = {
    source: { key: "src", value: 0 },
    cacheDir,
    stages,
    reporter: { log: (l: string) => lines.push(l) },
  };
  await runPipeline(options);
  const [, key] = await stageKeys(stages, "src");
  const path = entryPath(cacheDir, "s1", key);
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 1] ^= 1;
  await Deno.writeFile(path, bytes);
  const result = await runPipeline(options);
  assert.equal(result.outputs.get(stages[1]), 3);
  assert.ok(
    lines.some((l) => l.startsWith("warning: Cannot use cache entry") && l.includes("checksum")),
  );
  assert.deepEqual(result.records.map((r) => r.status), ["cached", "ran"]);
  assert.equal(runs.get("s1"), 2);
});

Deno.test("runPipeline() recomputes an entry its codec cannot decode", async () => {
  const cacheDir = await tempDir();
  const lines: string[] = [];
  const stages = chain([1], new Map());
  const options = {
    source: { key: "src", value: 0 },
    cacheDir,
    stages,
    reporter: { log: (l: string) => lines.push(l) },
  };
  await runPipeline(options);
  const picky: Stage<number, number> = {
    ...(stages[0] as Stage<number, number>),
    codec: {
      ...numberCodec,
      decode: () => {
        throw new RangeError("format changed");
      },
    },
  };
  const result = await runPipeline({ ...options, stages: [picky] });
  assert.equal(result.outputs.get(picky), 1);
  assert.deepEqual(result.records.map((r) => r.status), ["ran"]);
  assert.ok(lines.some((l) => l.includes("must be able to decode it: format changed")));
});

Deno.test("runPipeline() with useCache false reruns everything and overwrites the cache", async () => {
  const cacheDir = await tempDir();
  const runs = new Map<string, number>();
  const options = {
    source: { key: "src", value: 0 },
    cacheDir,
    stages: chain([1, 2], runs),
    reporter: quiet,
  };
  await runPipeline(options);
  const result = await runPipeline({ ...options, useCache: false });
  assert.deepEqual(result.records.map((r) => r.status), ["ran", "ran"]);
  assert.deepEqual(Object.fromEntries(runs), { s0: 2, s1: 2 });
});

Deno.test("runPipeline() hands a stage the outputs it declares in uses", async () => {
  const cacheDir = await tempDir();
  const [first, second] = chain([1, 2], new Map());
  const third: Stage<number, number> = {
    name: "s2",
    version: 1,
    params: {},
    uses: [first],
    run: (input, context) => Promise.resolve(input * 100 + context.outputOf(first)),
    codec: numberCodec,
  };
  const { outputs } = await runPipeline({
    source: { key: "src", value: 0 },
    cacheDir,
    stages: [first, second, third],
    reporter: quiet,
  });
  assert.equal(outputs.get(third), 301);
});
