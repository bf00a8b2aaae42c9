import assert from "node:assert/strict";
import { entryPath } from "../../engine/cache.ts";
import { collectSplit } from "../../engine/chunk.ts";
import { Pipeline } from "../../engine/runner.ts";
import { deskewChunk, deskewStage } from "../../stages/deskew.ts";
import {
  decodeImagesAndLabels,
  decodeStage,
  findDataFiles,
  fingerprintData,
} from "../../stages/idx_decode.ts";
import { normalizeChunk, normalizeStage } from "../../stages/normalize.ts";
import { makeDataSet, tempDir } from "../fixtures.ts";

/** decode (chunks of 16) → normalize → deskew over the 120 + 40 image fixture. */
async function chain(cacheDir: string, lines: string[]) {
  const files = await findDataFiles(await makeDataSet());
  const pipeline = new Pipeline({ cacheDir, reporter: { log: (l) => lines.push(l) } });
  const source = pipeline.source("data", await fingerprintData(files), files);
  const decoded = pipeline.add(decodeStage(16), source);
  const normalized = pipeline.add(normalizeStage("scale"), decoded);
  const deskewed = pipeline.add(deskewStage(), normalized);
  return { pipeline, deskewed, files };
}

async function expected(files: Awaited<ReturnType<typeof findDataFiles>>) {
  const raw = await decodeImagesAndLabels(files.trainImages, files.trainLabels);
  const n = normalizeChunk(raw, { mode: "scale", mean: 0, std: 1 });
  return deskewChunk(n);
}

Deno.test("decode → normalize → deskew streams into framed entries that read back equal", async () => {
  const cacheDir = await tempDir();
  const lines: string[] = [];
  const first = await chain(cacheDir, lines);
  const { outputs: [data], records } = await first.pipeline.run([first.deskewed]);
  assert.deepEqual(records.map((r) => r.status), ["ran", "ran", "ran"]);
  const computed = await collectSplit(data, "train");
  assert.deepEqual(computed, await expected(first.files));
  // 120 training images in chunks of 16: 8 frames, each verified on the way back.
  const again = await chain(cacheDir, lines);
  const { outputs: [cached], records: second } = await again.pipeline.run([again.deskewed]);
  assert.deepEqual(second.map((r) => r.status), ["skipped", "skipped", "cached"]);
  const chunks = await Array.fromAsync(cached.open("train"));
  assert.deepEqual(chunks.map((c) => c.labels.length), [16, 16, 16, 16, 16, 16, 16, 8]);
  assert.deepEqual(await collectSplit(cached, "train"), computed);
  assert.equal(lines.filter((l) => l.startsWith("warning")).length, 0);
});

for (const damage of ["a flipped byte in a middle chunk", "a truncated entry"]) {
  Deno.test(`${damage} of the deskew entry is reported once and recomputed, never read short`, async () => {
    const cacheDir = await tempDir();
    const lines: string[] = [];
    const first = await chain(cacheDir, lines);
    await first.pipeline.run([first.deskewed]);
    const key = await first.pipeline.key(first.deskewed);
    const path = entryPath(cacheDir, "deskew", key, "train");
    const bytes = await Deno.readFile(path);
    if (damage.startsWith("a flipped")) {
      bytes[Math.floor(bytes.length / 2)] ^= 0x40;
      await Deno.writeFile(path, bytes);
    } else {
      await Deno.writeFile(path, bytes.subarray(0, bytes.length - 3000));
    }
    const again = await chain(cacheDir, lines);
    const { outputs: [data] } = await again.pipeline.run([again.deskewed]);
    assert.deepEqual(await collectSplit(data, "train"), await expected(first.files));
    const warnings = lines.filter((l) => l.startsWith("warning: Cannot use cache entry"));
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.ok(warnings[0].includes("deskew"));
    // The recomputed entry is whole again: a third run reads it, cached, without a warning.
    const third = await chain(cacheDir, lines);
    const { outputs: [clean], records } = await third.pipeline.run([third.deskewed]);
    assert.deepEqual(records.map((r) => r.status), ["skipped", "skipped", "cached"]);
    assert.deepEqual(await collectSplit(clean, "train"), await expected(first.files));
    assert.equal(lines.filter((l) => l.startsWith("warning")).length, 1);
  });
}
