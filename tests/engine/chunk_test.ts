import assert from "node:assert/strict";
import {
  chunksOf,
  collect,
  collectSplit,
  decodeChunk,
  encodeChunk,
  memoryDataSet,
} from "../../engine/chunk.ts";

const chunk = (n: number, float = false) => ({
  images: float
    ? Float32Array.from({ length: 6 * n }, (_, i) => i / 7)
    : Uint8Array.from({ length: 6 * n }, (_, i) => i % 256),
  labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
  rows: 2,
  cols: 3,
});

Deno.test("encodeChunk() and decodeChunk() round-trip uint8 and float32 chunks of sizes 0, 1 and odd", () => {
  for (const n of [0, 1, 7]) {
    for (const float of [false, true]) {
      const original = chunk(n, float);
      const back = decodeChunk(encodeChunk(original));
      assert.deepEqual(back, original);
      assert.equal(back.images instanceof Float32Array, float);
    }
  }
});

Deno.test("decodeChunk() refuses a short header, an unknown type and sizes that disagree", () => {
  const bytes = encodeChunk(chunk(3, true));
  assert.throws(() => decodeChunk(bytes.subarray(0, 8)), /needs a 16-byte header: it has 8/);
  const typed = bytes.slice();
  typed[12] = 7;
  assert.throws(() => decodeChunk(typed), /pixel type must be 0 or 1: it is 7/);
  assert.throws(
    () => decodeChunk(bytes.subarray(0, bytes.length - 4)),
    /needs 96 bytes: it has 92/,
  );
});

Deno.test("chunksOf() streams views in order, the last block shorter; an empty chunk streams nothing", async () => {
  const data = chunk(7);
  const blocks = await Array.fromAsync(chunksOf(data, 3));
  assert.deepEqual(blocks.map((b) => [...b.labels]), [[0, 1, 2], [3, 4, 5], [6]]);
  assert.equal(blocks[1].images.buffer, data.images.buffer);
  assert.deepEqual(await Array.fromAsync(chunksOf(chunk(0), 3)), []);
});

Deno.test("collect() joins a stream back into one chunk and refuses a count it does not hold", async () => {
  const data = chunk(7, true);
  const meta = { rows: 2, cols: 3, pixels: "float32" as const };
  assert.deepEqual(await collect(chunksOf(data, 2), 7, meta), data);
  await assert.rejects(
    () => collect(chunksOf(data, 2), 8, meta),
    /expected 8 images from the stream, got 7/,
  );
  await assert.rejects(
    () => collect(chunksOf(data, 2), 5, meta),
    /expected 5 images from the stream, got more/,
  );
});

Deno.test("a memory data set opens each split afresh, as often as asked", async () => {
  const meta = {
    rows: 2,
    cols: 3,
    classes: 10,
    counts: { train: 7, test: 2 },
    pixels: "uint8" as const,
  };
  const data = memoryDataSet(meta, { train: chunk(7), test: chunk(2) }, 4);
  const first = await collectSplit(data, "train");
  const second = await collectSplit(data, "train");
  assert.deepEqual(first, second);
  assert.deepEqual([...(await collectSplit(data, "test")).labels], [0, 1]);
});
