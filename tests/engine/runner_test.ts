import assert from "node:assert/strict";
import { entryPath } from "../../engine/cache.ts";
import {
  type Chunk,
  collectSplit,
  type DataMeta,
  type DataSet,
  memoryDataSet,
} from "../../engine/chunk.ts";
import { Pipeline } from "../../engine/runner.ts";
import { chunkStage, type Codec, type DataStage, type ValueStage } from "../../engine/stage.ts";
import { tempDir } from "../fixtures.ts";

const numberCodec: Codec<number> = {
  encode: (n) => new TextEncoder().encode(String(n)),
  decode: (b) => Number(new TextDecoder().decode(b)),
};

/** A value stage adding its param to its input's value, counting its runs. */
function adder(name: string, add: number, runs: Map<string, number>): ValueStage<[number], number> {
  return {
    kind: "value",
    name,
    version: 1,
    params: { add },
    run: ([input]) => {
      runs.set(name, (runs.get(name) ?? 0) + 1);
      return Promise.resolve(input + add);
    },
    codec: numberCodec,
  };
}

/** s0 → s1 → s2 over a number source. */
function chain(adds: number[], runs: Map<string, number>, cacheDir: string, lines: string[] = []) {
  const pipeline = new Pipeline({ cacheDir, reporter: { log: (l) => lines.push(l) } });
  let node = pipeline.source("source", "src", 10);
  const nodes = adds.map((add, i) => (node = pipeline.add(adder(`s${i}`, add, runs), node)));
  return { pipeline, nodes };
}

Deno.test("Pipeline keys change exactly from the changed stage onwards, and with a version", async () => {
  const dir = await tempDir();
  const keys = async (adds: number[]) => {
    const { pipeline, nodes } = chain(adds, new Map(), dir);
    return await Promise.all(nodes.map((n) => pipeline.key(n)));
  };
  const a = await keys([1, 2, 3, 4]);
  const b = await keys([1, 2, 9, 4]);
  assert.deepEqual(a.map((k, i) => k === b[i]), [true, true, false, false]);
  const bumped = new Pipeline({ cacheDir: dir, reporter: { log() {} } });
  const source = bumped.source("source", "src", 10);
  const first = bumped.add(adder("s0", 1, new Map()), source);
  const second = bumped.add({ ...adder("s1", 2, new Map()), version: 2 }, first);
  assert.equal(await bumped.key(first), a[0]);
  assert.notEqual(await bumped.key(second), a[1]);
});

Deno.test("a stage's key covers every stage it uses, not only the one before it", async () => {
  const dir = await tempDir();
  const keyOfSum = async (usedAdd: number) => {
    const pipeline = new Pipeline({ cacheDir: dir, reporter: { log() {} } });
    const source = pipeline.source("source", "src", 1);
    const used = pipeline.add(adder("used", usedAdd, new Map()), source);
    const main = pipeline.add(adder("main", 5, new Map()), source);
    const sum: ValueStage<[number, number], number> = {
      kind: "value",
      name: "sum",
      version: 1,
      params: {},
      run: ([a, b]) => Promise.resolve(a + b),
      codec: numberCodec,
    };
    const node = pipeline.add(sum, main, used);
    return { key: await pipeline.key(node), mainKey: await pipeline.key(main), pipeline, node };
  };
  const a = await keyOfSum(1), b = await keyOfSum(2);
  assert.equal(a.mainKey, b.mainKey);
  assert.notEqual(a.key, b.key);
  const { outputs } = await b.pipeline.run([b.node]);
  assert.deepEqual(outputs, [1 + 5 + 1 + 2]);
});

Deno.test("a re-run reads the cache, and a changed param reruns only what follows it", async () => {
  const cacheDir = await tempDir();
  const runs = new Map<string, number>();
  const first = chain([1, 2, 3], runs, cacheDir);
  const one = await first.pipeline.run([first.nodes[2]]);
  assert.deepEqual(one.outputs, [16]);
  assert.deepEqual(one.records.map((r) => r.status), ["ran", "ran", "ran"]);

  const again = chain([1, 2, 3], runs, cacheDir);
  const two = await again.pipeline.run([again.nodes[2]]);
  assert.deepEqual(two.records.map((r) => r.status), ["skipped", "skipped", "cached"]);
  assert.deepEqual(two.records.map((r) => r.cached), [true, true, true]);

  const changed = chain([1, 5, 3], runs, cacheDir);
  const plan = await changed.pipeline.plan([changed.nodes[2]]);
  assert.deepEqual(plan.map((p) => p.willRun), [false, true, true]);
  const three = await changed.pipeline.run([changed.nodes[2]]);
  assert.deepEqual(three.records.map((r) => r.status), ["cached", "ran", "ran"]);
  assert.deepEqual(three.outputs, [19]);
  assert.deepEqual(Object.fromEntries(runs), { s0: 1, s1: 2, s2: 2 });
});

Deno.test("a damaged value entry is reported and recomputed", async () => {
  const cacheDir = await tempDir();
  const runs = new Map<string, number>();
  const lines: string[] = [];
  const { pipeline, nodes } = chain([1, 2], runs, cacheDir, lines);
  await pipeline.run([nodes[1]]);
  const path = entryPath(cacheDir, "s1", await pipeline.key(nodes[1]));
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 70] ^= 1;
  await Deno.writeFile(path, bytes);
  const again = chain([1, 2], runs, cacheDir, lines);
  const result = await again.pipeline.run([again.nodes[1]]);
  assert.deepEqual(result.outputs, [13]);
  assert.ok(
    lines.some((l) => l.startsWith("warning: Cannot use cache entry") && l.includes("checksum")),
  );
  assert.deepEqual(result.records.map((r) => r.status), ["cached", "ran"]);
  assert.equal(runs.get("s1"), 2);
});

Deno.test("an entry its codec cannot decode is recomputed", async () => {
  const cacheDir = await tempDir();
  const lines: string[] = [];
  const { pipeline, nodes } = chain([1], new Map(), cacheDir);
  await pipeline.run([nodes[0]]);
  const picky = new Pipeline({ cacheDir, reporter: { log: (l) => lines.push(l) } });
  const source = picky.source("source", "src", 10);
  const stage = adder("s0", 1, new Map());
  const node = picky.add({
    ...stage,
    codec: {
      ...numberCodec,
      decode: () => {
        throw new RangeError("format changed");
      },
    },
  }, source);
  const result = await picky.run([node]);
  assert.deepEqual(result.outputs, [11]);
  assert.deepEqual(result.records.map((r) => r.status), ["ran"]);
  assert.ok(lines.some((l) => l.includes("must be able to decode it: format changed")));
});

Deno.test("useCache false reruns everything and overwrites the cache", async () => {
  const cacheDir = await tempDir();
  const runs = new Map<string, number>();
  const first = chain([1, 2], runs, cacheDir);
  await first.pipeline.run([first.nodes[1]]);
  const again = new Pipeline({ cacheDir, useCache: false, reporter: { log() {} } });
  let node = again.source("source", "src", 10);
  for (const [i, add] of [1, 2].entries()) node = again.add(adder(`s${i}`, add, runs), node);
  const result = await again.run([node]);
  assert.deepEqual(result.records.map((r) => r.status), ["ran", "ran"]);
  assert.deepEqual(Object.fromEntries(runs), { s0: 2, s1: 2 });
});

Deno.test("a cache that cannot be written is a warning, and the run goes on with what it computed", async () => {
  const cacheDir = await tempDir();
  await Deno.writeTextFile(`${cacheDir}/s0`, "a file where the stage folder would go");
  const lines: string[] = [];
  const { pipeline, nodes } = chain([1, 2], new Map(), cacheDir, lines);
  const result = await pipeline.run([nodes[1]]);
  assert.deepEqual(result.outputs, [13]);
  assert.ok(lines.some((l) =>
    l.startsWith(`warning: Cannot write cache entry "${cacheDir}/s0/`) &&
    l.includes("the run goes on without caching it")
  ));
});

// --- data stages -----------------------------------------------------------------------------

const META: DataMeta = {
  rows: 1,
  cols: 2,
  classes: 3,
  counts: { train: 10, test: 4 },
  pixels: "uint8",
};

/** A source of 10 + 4 tiny images, streamed in chunks of 3 (so entries hold several frames). */
function generator(opened: string[]): DataStage<[number], Uint8Array, DataMeta> {
  const split = (n: number, base: number): Chunk<Uint8Array> => ({
    images: Uint8Array.from({ length: 2 * n }, (_, i) => base + i),
    labels: Uint8Array.from({ length: n }, (_, i) => i % 3),
    rows: 1,
    cols: 2,
  });
  const data = memoryDataSet(META, { train: split(10, 0), test: split(4, 100) }, 3);
  return {
    kind: "data",
    name: "gen",
    version: 1,
    params: {},
    build: () =>
      Promise.resolve({
        meta: META,
        open: (s) => {
          opened.push(s);
          return data.open(s);
        },
      }),
  };
}

const double = chunkStage<Uint8Array, Uint8Array, DataMeta, DataMeta>({
  name: "double",
  version: 1,
  params: {},
  fit: (input) => Promise.resolve(input.meta),
  map: () => (chunk) => ({ ...chunk, images: chunk.images.map((v) => 2 * v) }),
});

/** A value stage that sums a data set's training pixels. */
const total: ValueStage<[DataSet<Uint8Array>], number> = {
  kind: "value",
  name: "total",
  version: 1,
  params: {},
  run: async ([data]) => {
    const train = await collectSplit(data, "train");
    return train.images.reduce((a, b) => a + b, 0);
  },
  codec: numberCodec,
};

function dataPipeline(cacheDir: string, opened: string[], lines: string[] = []) {
  const pipeline = new Pipeline({ cacheDir, reporter: { log: (l) => lines.push(l) } });
  const source = pipeline.source("source", "src", 0);
  const gen = pipeline.add(generator(opened), source);
  const doubled = pipeline.add(double, gen);
  const sum = pipeline.add(total, doubled);
  return { pipeline, gen, doubled, sum };
}

const EXPECTED_SUM = 2 * (19 * 20) / 2;

Deno.test("data stages stream in one pass that writes every entry in several frames", async () => {
  const cacheDir = await tempDir();
  const opened: string[] = [];
  const { pipeline, doubled, sum } = dataPipeline(cacheDir, opened);
  const { outputs, records } = await pipeline.run([sum, doubled]);
  assert.deepEqual(outputs[0], EXPECTED_SUM);
  assert.deepEqual(records.map((r) => r.status), ["ran", "ran", "ran"]);
  // The source was read once per split: the doubling pass teed both entries.
  assert.deepEqual(opened.sort(), ["test", "train"]);
  for (const stage of ["gen", "double"]) {
    const names = (await Array.fromAsync(Deno.readDir(`${cacheDir}/${stage}`))).map((e) => e.name);
    assert.equal(
      names.filter((n) => n.endsWith(".train.bin") || n.endsWith(".test.bin")).length,
      2,
    );
    assert.ok(names.every((n) => !n.startsWith(".tmp-")));
  }
  const test = await collectSplit(outputs[1], "test");
  assert.deepEqual([...test.images], [200, 202, 204, 206, 208, 210, 212, 214]);
});

Deno.test("a cached data set streams back equal, and a flipped byte in a middle chunk is recomputed", async () => {
  const cacheDir = await tempDir();
  const first = dataPipeline(cacheDir, []);
  const { outputs: [, original] } = await first.pipeline.run([first.sum, first.doubled]);
  const before = await collectSplit(original, "train");

  const path = entryPath(cacheDir, "double", await first.pipeline.key(first.doubled), "train");
  const bytes = await Deno.readFile(path);
  bytes[bytes.length - 120] ^= 0xff; // inside the last but one frame's payload
  await Deno.writeFile(path, bytes);

  const opened: string[] = [];
  const lines: string[] = [];
  const again = dataPipeline(cacheDir, opened, lines);
  const { outputs: [, reread], records } = await again.pipeline.run([again.sum, again.doubled]);
  assert.deepEqual(records.map((r) => r.status), ["skipped", "cached", "cached"]);
  const after = await collectSplit(reread, "train");
  assert.deepEqual(after, before);
  const warnings = lines.filter((l) => l.startsWith("warning:"));
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0],
    /Cannot use cache entry ".*double.*train\.bin" as frame \d must match its checksum/,
  );
  // Only the damaged stage was recomputed: its input came from its own cache entry.
  assert.deepEqual(opened, []);
  // The recomputed split was written again, whole.
  const third = dataPipeline(cacheDir, [], lines);
  const { outputs: [, clean] } = await third.pipeline.run([third.sum, third.doubled]);
  assert.deepEqual(await collectSplit(clean, "train"), before);
  assert.equal(lines.filter((l) => l.startsWith("warning:")).length, 1);
});

Deno.test("a truncated data entry is never read as a short data set", async () => {
  const cacheDir = await tempDir();
  const first = dataPipeline(cacheDir, []);
  await first.pipeline.run([first.sum]);
  const path = entryPath(cacheDir, "double", await first.pipeline.key(first.doubled), "train");
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes.subarray(0, bytes.length - 100));
  const lines: string[] = [];
  const again = dataPipeline(cacheDir, [], lines);
  const { outputs: [, data] } = await again.pipeline.run([again.sum, again.doubled]);
  const train = await collectSplit(data, "train");
  assert.equal(train.labels.length, 10);
  assert.equal(train.images.reduce((a, b) => a + b, 0), EXPECTED_SUM);
  assert.ok(lines.some((l) => l.includes("cut short")));
});

Deno.test("plan() and a dry run say which data stages would run", async () => {
  const cacheDir = await tempDir();
  const first = dataPipeline(cacheDir, []);
  assert.deepEqual((await first.pipeline.plan([first.sum])).map((p) => p.willRun), [
    true,
    true,
    true,
  ]);
  await first.pipeline.run([first.sum]);
  const again = dataPipeline(cacheDir, []);
  const plan = await again.pipeline.plan([again.sum]);
  assert.deepEqual(plan.map((p) => [p.cached, p.willRun]), [[true, false], [true, false], [
    true,
    false,
  ]]);
});
