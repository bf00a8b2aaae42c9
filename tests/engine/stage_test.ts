import assert from "node:assert/strict";
import { collectSplit, type DataMeta, memoryDataSet } from "../../engine/chunk.ts";
import { ChunkMapStream, chunkStage, type StageContext } from "../../engine/stage.ts";

const chunk = (values: number[]) => ({
  images: Uint8Array.from(values),
  labels: new Uint8Array(values.length),
  rows: 1,
  cols: 1,
});

Deno.test("ChunkMapStream maps every chunk once, in order, and counts the map's time through its timer", async () => {
  let timed = 0;
  const stream = new ChunkMapStream(
    (c: ReturnType<typeof chunk>) => ({ ...c, images: c.images.map((v) => v + 1) }),
    (work) => {
      timed++;
      return work();
    },
  );
  const out = await Array.fromAsync(
    ReadableStream.from([chunk([1, 2]), chunk([3])]).pipeThrough(stream),
  );
  assert.deepEqual(out.map((c) => [...c.images]), [[2, 3], [4]]);
  assert.equal(timed, 2);
});

Deno.test("ChunkMapStream of no chunks yields nothing", async () => {
  const out = await Array.fromAsync(
    ReadableStream.from<ReturnType<typeof chunk>>([]).pipeThrough(new ChunkMapStream((c) => c)),
  );
  assert.deepEqual(out, []);
});

Deno.test("chunkStage() fits once on the training split and maps both splits with the fitted meta", async () => {
  const meta: DataMeta = {
    rows: 1,
    cols: 1,
    classes: 2,
    counts: { train: 3, test: 2 },
    pixels: "uint8",
  };
  const input = memoryDataSet(meta, { train: chunk([1, 2, 3]), test: chunk([10, 20]) }, 2);
  let fits = 0;
  const stage = chunkStage<Uint8Array, Uint8Array, DataMeta, DataMeta & { offset: number }>({
    name: "shift",
    version: 1,
    params: {},
    fit: async (data) => {
      fits++;
      let max = 0;
      for await (const c of data.open("train")) max = Math.max(max, ...c.images);
      return { ...data.meta, offset: max };
    },
    map: (fitted) => (c) => ({ ...c, images: c.images.map((v) => v + fitted.offset) }),
  });
  let ms = 0;
  const context: StageContext = {
    reporter: { log() {} },
    timed: (work) => {
      const started = performance.now();
      try {
        return work();
      } finally {
        ms += performance.now() - started;
      }
    },
  };
  const out = await stage.build([input], context);
  assert.equal(out.meta.offset, 3);
  assert.deepEqual([...(await collectSplit(out, "train")).images], [4, 5, 6]);
  assert.deepEqual([...(await collectSplit(out, "test")).images], [13, 23]);
  assert.equal(fits, 1);
  assert.equal(stage.kind, "data");
  assert.ok(ms >= 0);
});
