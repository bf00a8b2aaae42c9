import assert from "node:assert/strict";
import { InputError } from "../../engine/errors.ts";
import { collectSplit } from "../../engine/chunk.ts";
import {
  decodeDataSet,
  decodeIdxFile,
  decodeImagesAndLabels,
  findDataFiles,
  fingerprintData,
  IdxDecoderStream,
  ImageChunkStream,
  readIdxHeader,
} from "../../stages/idx_decode.ts";
import { gzip, idxBytes, makeDataSet, tempDir } from "../fixtures.ts";

async function tempFile(bytes: Uint8Array, name = "file"): Promise<string> {
  const dir = await tempDir({ prefix: "mnp-idx-" });
  await Deno.writeFile(`${dir}/${name}`, bytes);
  return `${dir}/${name}`;
}

const pixels = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 10);

Deno.test("decodeIdxFile() round-trips a raw images file", async () => {
  const path = await tempFile(idxBytes([2, 3, 4], pixels));
  const { dims, data } = await decodeIdxFile(path, 3);
  assert.deepEqual(dims, [2, 3, 4]);
  assert.deepEqual(data, pixels);
});

Deno.test("decodeIdxFile() sniffs and decompresses gzip whatever the file is called", async () => {
  const path = await tempFile(await gzip(idxBytes([2, 3, 4], pixels)), "images-no-extension");
  assert.deepEqual((await decodeIdxFile(path, 3)).data, pixels);
});

Deno.test("IdxDecoderStream emits whole items when bytes arrive one at a time", async () => {
  const bytes = idxBytes([3, 1, 2], [1, 2, 3, 4, 5, 6]);
  const blocks = await Array.fromAsync(
    ReadableStream.from(Array.from(bytes, (b) => new Uint8Array([b]))).pipeThrough(
      new IdxDecoderStream({ source: "s", dimensions: 3 }),
    ),
  );
  assert.ok(blocks.every((b) => b.data.length % 2 === 0));
  assert.deepEqual(blocks.flatMap((b) => [...b.data]), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(blocks[0].header.dims, [3, 1, 2]);
});

Deno.test("decodeIdxFile() names the file and the magic rule when the magic is wrong", async () => {
  const path = await tempFile(idxBytes([4], [0, 1, 2, 3]));
  await assert.rejects(
    () => decodeIdxFile(path, 3),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.startsWith(
        `Cannot decode IDX file "${path}" as magic number must be 0x00000803: current value is 0x00000801`,
      ),
  );
});

Deno.test("decodeIdxFile() rejects a truncated file with the declared and actual sizes", async () => {
  const path = await tempFile(idxBytes([2, 3, 4], pixels).subarray(0, 16 + 20));
  await assert.rejects(
    () => decodeIdxFile(path, 3),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.includes("declares 2×3×4 = 24 data bytes: the file holds 20 (truncated)"),
  );
});

Deno.test("decodeIdxFile() rejects trailing bytes beyond the declared data", async () => {
  const path = await tempFile(idxBytes([2, 3, 4], [...pixels, 9, 9]));
  await assert.rejects(
    () => decodeIdxFile(path, 3),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.includes("declares 2×3×4 = 24 data bytes: the file holds 26"),
  );
});

Deno.test("decodeIdxFile() checks a raw header's counts against the file size before reading data", async () => {
  const path = await tempFile(idxBytes([4294967295, 28, 28], pixels));
  await assert.rejects(
    () => decodeIdxFile(path, 3),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.includes(
        "declares 4294967295×28×28 = 3367254359280 data bytes: the file holds 24 (truncated)",
      ),
  );
});

Deno.test("decodeIdxFile() rejects an empty file, a zero dimension and a damaged gzip", async () => {
  await assert.rejects(
    async () => decodeIdxFile(await tempFile(new Uint8Array(0)), 1),
    (e: unknown) =>
      e instanceof InputError && e.message.includes("must start with a 8-byte header"),
  );
  await assert.rejects(
    async () => decodeIdxFile(await tempFile(idxBytes([0, 3, 4], [])), 3),
    (e: unknown) =>
      e instanceof InputError && e.message.includes("every dimension must be at least 1"),
  );
  const zipped = await gzip(idxBytes([2, 3, 4], pixels));
  await assert.rejects(
    async () => decodeIdxFile(await tempFile(zipped.subarray(0, zipped.length - 6)), 3),
    (e: unknown) => e instanceof InputError && e.message.includes("gzip stream must be complete"),
  );
});

Deno.test("findDataFiles() reports the missing file and what the folder must hold", async () => {
  const dir = await tempDir();
  await assert.rejects(
    () => findDataFiles(dir),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.startsWith(
        `Cannot read data folder "${dir}" as it must hold "train-images-idx3-ubyte" or "train-images-idx3-ubyte.gz"`,
      ),
  );
});

Deno.test("findDataFiles() says when the data folder does not exist", async () => {
  const dir = `${await tempDir()}/nowhere`;
  await assert.rejects(
    () => findDataFiles(dir),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.startsWith(
        `Cannot read data folder "${dir}" as it must be a folder: it does not exist`,
      ),
  );
});

Deno.test("decodeDataSet() reads raw and gz sets alike and counts classes from the labels", async () => {
  for (const zipped of [false, true]) {
    const dir = await makeDataSet({ gzip: zipped });
    const data = await decodeDataSet(await findDataFiles(dir), (work) => work(), 16);
    assert.equal(data.meta.classes, 4);
    assert.deepEqual(data.meta.counts, { train: 120, test: 40 });
    assert.equal(data.meta.rows, 10);
    const chunks = await Array.fromAsync(data.open("train"));
    assert.deepEqual(chunks.map((c) => c.labels.length), [16, 16, 16, 16, 16, 16, 16, 8]);
    const test = await collectSplit(data, "test");
    assert.equal(test.images.length, 40 * 10 * 10);
  }
});

Deno.test("decodeDataSet() rejects image and label counts that disagree", async () => {
  const dir = await makeDataSet();
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idxBytes([39], new Uint8Array(39)));
  await assert.rejects(
    async () => decodeDataSet(await findDataFiles(dir)),
    (e: unknown) =>
      e instanceof InputError && e.message.includes("counts must match: 40 images, 39 labels"),
  );
});

Deno.test("decodeDataSet() rejects a training label far outside the classes the others name", async () => {
  const dir = await makeDataSet();
  const labels = Uint8Array.from({ length: 120 }, (_, i) => i % 4);
  labels[17] = 200;
  await Deno.writeFile(`${dir}/train-labels-idx1-ubyte`, idxBytes([120], labels));
  await assert.rejects(
    async () => decodeDataSet(await findDataFiles(dir)),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.includes(
        "every class in the range 0..200 must have training images: 196 have none (4, 5, 6, 7, 8, …)",
      ) &&
      e.message.includes("Hint: label 200 at index 17"),
  );
});

Deno.test("decodeDataSet() rejects a test label outside the training class range", async () => {
  const dir = await makeDataSet();
  const labels = new Uint8Array(40);
  labels[5] = 9;
  await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idxBytes([40], labels));
  await assert.rejects(
    async () => decodeDataSet(await findDataFiles(dir)),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.includes("range 0..3: label 9 at index 5"),
  );
});

Deno.test("a multi-member gzip file (cat a.gz b.gz) decodes as one file", async () => {
  const bytes = idxBytes([2, 3, 4], pixels);
  const joined = new Uint8Array([
    ...(await gzip(bytes.subarray(0, 10))),
    ...(await gzip(bytes.subarray(10))),
  ]);
  const path = await tempFile(joined);
  assert.deepEqual((await decodeIdxFile(path, 3)).data, pixels);
});

Deno.test("a gzip bomb stops as soon as it inflates past its header's declared size", async () => {
  // The header declares 1 image of 4×4; the stream then inflates to 64 MiB of zeros.
  const header = idxBytes([1, 4, 4], new Uint8Array(16));
  const body = new Uint8Array(64 * 2 ** 20);
  body.set(header);
  const path = await tempFile(await gzip(body));
  const before = Deno.memoryUsage().rss;
  await assert.rejects(
    () => decodeIdxFile(path, 3),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.includes("declares 1×4×4 = 16 data bytes: the file holds more"),
  );
  assert.ok(Deno.memoryUsage().rss - before < 48 * 2 ** 20, "inflated far past the header");
});

Deno.test("a header declaring gigabytes is not allocated before the data proves it", async () => {
  const path = await tempFile(await gzip(idxBytes([1000000, 64, 64], new Uint8Array(100))));
  const before = Deno.memoryUsage().rss;
  await assert.rejects(
    () => decodeIdxFile(path, 3),
    (e: unknown) =>
      e instanceof InputError &&
      e.message.includes("declares 1000000×64×64 = 4096000000 data bytes: the file holds 100"),
  );
  assert.ok(Deno.memoryUsage().rss - before < 64 * 2 ** 20);
  const whole = await tempFile(idxBytes([2, 3, 4], pixels));
  assert.deepEqual((await readIdxHeader(whole, 3)).dims, [2, 3, 4]);
});

Deno.test("ImageChunkStream cuts blocks of any size into chunks of the asked size with their labels", async () => {
  const labels = Uint8Array.from({ length: 7 }, (_, i) => i);
  const block = (from: number, to: number) => ({
    header: { magic: 0x803, dims: [7, 1, 2] },
    data: Uint8Array.from({ length: 2 * (to - from) }, (_, i) => 2 * from + i),
  });
  const chunks = await Array.fromAsync(
    ReadableStream.from([block(0, 1), block(1, 5), block(5, 7)]).pipeThrough(
      new ImageChunkStream(labels, 3),
    ),
  );
  assert.deepEqual(chunks.map((c) => [...c.labels]), [[0, 1, 2], [3, 4, 5], [6]]);
  assert.deepEqual(chunks.flatMap((c) => [...c.images]), Array.from({ length: 14 }, (_, i) => i));
});

Deno.test("decodeImagesAndLabels() reads a whole split; fingerprintData() hashes content, not names", async () => {
  const dir = await makeDataSet();
  const files = await findDataFiles(dir);
  const test = await decodeImagesAndLabels(files.testImages, files.testLabels);
  assert.equal(test.labels.length, 40);
  const copy = await makeDataSet({ gzip: true });
  assert.notEqual(await fingerprintData(files), await fingerprintData(await findDataFiles(copy)));
  assert.equal(await fingerprintData(files), await fingerprintData(await findDataFiles(dir)));
});
