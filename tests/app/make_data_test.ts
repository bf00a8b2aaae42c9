import assert from "node:assert/strict";
import { makeData, type MakeDataOptions, shiftImage } from "../../app/make_data.ts";
import { ConfigError, InputError } from "../../engine/errors.ts";
import { DATA_FILE_NAMES } from "../../stages/idx_decode.ts";
import { gzip, idxBytes, makeDataSet, tempDir } from "../fixtures.ts";

/** makeDataSet's shape: 120 training and 40 test images of 10×10, 4 classes. */
const TRAIN = 120, TEST = 40, ROWS = 10, COLS = 10, SIZE = ROWS * COLS;
const NAMES = Object.values(DATA_FILE_NAMES).sort();

/** An IDX file's dimensions and data, read by hand so the test trusts no decoder. */
async function readIdx(path: string): Promise<{ dims: number[]; data: Uint8Array }> {
  const bytes = await Deno.readFile(path);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint16(0), 0);
  assert.equal(bytes[2], 0x08);
  const dims = Array.from({ length: bytes[3] }, (_, i) => view.getUint32(4 + 4 * i));
  return { dims, data: bytes.subarray(4 + 4 * dims.length) };
}

async function make(options: Partial<MakeDataOptions> & { dataDir: string }) {
  const outDir = options.outDir ?? `${await tempDir({ prefix: "mnp-made-" })}/out`;
  const result = await makeData({ copies: 3, shift: 2, ...options, outDir });
  return { outDir, result };
}

async function listing(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort();
}

/** The image `src` moved (dx, dy), zero filled, computed pixel by pixel. */
function naiveShift(src: Uint8Array, dx: number, dy: number): Uint8Array {
  const out = new Uint8Array(SIZE);
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS; c++) {
      const sr = r - dy, sc = c - dx;
      if (sr >= 0 && sr < ROWS && sc >= 0 && sc < COLS) out[r * COLS + c] = src[sr * COLS + sc];
    }
  }
  return out;
}

const sum = (a: Uint8Array) => a.reduce((s, v) => s + v, 0);

Deno.test("makeData() writes copies × images with the source's image size, labels to match, and reports it", async () => {
  const data = await makeDataSet();
  const { outDir, result } = await make({ dataDir: data, copies: 3 });
  assert.deepEqual(await listing(outDir), NAMES);
  assert.deepEqual({ ...result, files: undefined }, {
    files: undefined,
    trainImages: 3 * TRAIN,
    testImages: TEST,
    rows: ROWS,
    cols: COLS,
  });
  const images = await readIdx(`${outDir}/${DATA_FILE_NAMES.trainImages}`);
  assert.deepEqual(images.dims, [3 * TRAIN, ROWS, COLS]);
  assert.equal(images.data.length, 3 * TRAIN * SIZE);
  const labels = await readIdx(`${outDir}/${DATA_FILE_NAMES.trainLabels}`);
  assert.deepEqual(labels.dims, [3 * TRAIN]);
  const source = await readIdx(`${data}/${DATA_FILE_NAMES.trainLabels}`);
  for (let copy = 0; copy < 3; copy++) {
    assert.deepEqual(labels.data.subarray(copy * TRAIN, (copy + 1) * TRAIN), source.data);
  }
});

Deno.test("makeData() writes copy 1 as the originals and each later image as a shift within ±PX that keeps the ink not pushed off the edge", async () => {
  const data = await makeDataSet();
  const shift = 2;
  const { outDir } = await make({ dataDir: data, copies: 4, shift });
  const source = (await readIdx(`${data}/${DATA_FILE_NAMES.trainImages}`)).data;
  const written = (await readIdx(`${outDir}/${DATA_FILE_NAMES.trainImages}`)).data;
  assert.deepEqual(written.subarray(0, TRAIN * SIZE), source);
  const seen = new Set<string>();
  let lostSomewhere = false;
  for (let i = TRAIN; i < 4 * TRAIN; i++) {
    const src = source.subarray((i % TRAIN) * SIZE, (i % TRAIN + 1) * SIZE);
    const out = written.subarray(i * SIZE, (i + 1) * SIZE);
    const matches: [number, number][] = [];
    for (let dx = -shift; dx <= shift; dx++) {
      for (let dy = -shift; dy <= shift; dy++) {
        if (naiveShift(src, dx, dy).every((v, k) => v === out[k])) matches.push([dx, dy]);
      }
    }
    assert.ok(matches.length > 0, `image ${i} is no shift of its original within ±${shift}`);
    const [dx, dy] = matches[0];
    seen.add(`${dx},${dy}`);
    let lost = 0;
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS; c++) {
        const r2 = r + dy, c2 = c + dx;
        if (r2 < 0 || r2 >= ROWS || c2 < 0 || c2 >= COLS) lost += src[r * COLS + c];
      }
    }
    assert.equal(sum(out), sum(src) - lost, `image ${i}: ink must be kept but for the edge`);
    if (lost > 0) lostSomewhere = true;
  }
  // 360 draws from 25 offsets: every offset shows up, so the range is the whole ±PX square.
  assert.equal(seen.size, (2 * shift + 1) ** 2);
  assert.ok(lostSomewhere, "some ink should fall off the edge of 10×10 bars");
});

Deno.test("makeData() copies the test files byte for byte", async () => {
  const data = await makeDataSet();
  const { outDir } = await make({ dataDir: data });
  for (const name of [DATA_FILE_NAMES.testImages, DATA_FILE_NAMES.testLabels]) {
    assert.deepEqual(
      await Deno.readFile(`${outDir}/${name}`),
      await Deno.readFile(`${data}/${name}`),
    );
  }
});

Deno.test("makeData() writes the same bytes for the same seed, and other shifts for another", async () => {
  const data = await makeDataSet();
  const a = await make({ dataDir: data, seed: 5 });
  const b = await make({ dataDir: data, seed: 5 });
  const c = await make({ dataDir: data, seed: 6 });
  for (const name of NAMES) {
    assert.deepEqual(
      await Deno.readFile(`${a.outDir}/${name}`),
      await Deno.readFile(`${b.outDir}/${name}`),
    );
  }
  const imagesA = await Deno.readFile(`${a.outDir}/${DATA_FILE_NAMES.trainImages}`);
  const imagesC = await Deno.readFile(`${c.outDir}/${DATA_FILE_NAMES.trainImages}`);
  const firstCopyEnd = 16 + TRAIN * SIZE;
  assert.deepEqual(imagesA.subarray(0, firstCopyEnd), imagesC.subarray(0, firstCopyEnd));
  assert.notDeepEqual(imagesA.subarray(firstCopyEnd), imagesC.subarray(firstCopyEnd));
  assert.deepEqual(
    await Deno.readFile(`${a.outDir}/${DATA_FILE_NAMES.trainLabels}`),
    await Deno.readFile(`${c.outDir}/${DATA_FILE_NAMES.trainLabels}`),
  );
});

Deno.test("makeData() with --shift 0 repeats the originals exactly", async () => {
  const data = await makeDataSet();
  const { outDir } = await make({ dataDir: data, copies: 2, shift: 0 });
  const source = (await readIdx(`${data}/${DATA_FILE_NAMES.trainImages}`)).data;
  const written = (await readIdx(`${outDir}/${DATA_FILE_NAMES.trainImages}`)).data;
  assert.deepEqual(written.subarray(TRAIN * SIZE), source);
});

Deno.test("makeData() reads a gzip source and writes the same raw files as from the raw source", async () => {
  const raw = await make({ dataDir: await makeDataSet() });
  const zipped = await make({ dataDir: await makeDataSet({ gzip: true }) });
  for (const name of NAMES) {
    assert.deepEqual(
      await Deno.readFile(`${zipped.outDir}/${name}`),
      await Deno.readFile(`${raw.outDir}/${name}`),
    );
  }
});

Deno.test("makeData() replaces an earlier output and leaves no temp files", async () => {
  const data = await makeDataSet();
  const { outDir } = await make({ dataDir: data, copies: 2 });
  await make({ dataDir: data, outDir, copies: 3 });
  assert.deepEqual(await listing(outDir), NAMES);
  assert.deepEqual((await readIdx(`${outDir}/${DATA_FILE_NAMES.trainLabels}`)).dims, [3 * TRAIN]);
});

Deno.test("makeData() that fails part way leaves an earlier output whole and no temp files", async () => {
  const data = await makeDataSet();
  const { outDir } = await make({ dataDir: data, copies: 2 });
  const before = await Promise.all(NAMES.map((n) => Deno.readFile(`${outDir}/${n}`)));
  // A gzip test-images file cut short is found out only once the training files are written.
  const broken = await makeDataSet();
  const name = DATA_FILE_NAMES.testImages;
  const zipped = await gzip(await Deno.readFile(`${broken}/${name}`));
  await Deno.remove(`${broken}/${name}`);
  await Deno.writeFile(`${broken}/${name}.gz`, zipped.subarray(0, zipped.length - 40));
  const lines: string[] = [];
  await assert.rejects(
    () => make({ dataDir: broken, outDir, copies: 3, log: (line) => lines.push(line) }),
    (error: Error) => error instanceof InputError && error.message.includes(`${name}.gz`),
  );
  assert.equal(lines.length, 3, "the training copies were written before the failure");
  assert.deepEqual(await listing(outDir), NAMES);
  assert.deepEqual(await Promise.all(NAMES.map((n) => Deno.readFile(`${outDir}/${n}`))), before);
});

Deno.test("makeData() clears the temp files an interrupted run left in its folder", async () => {
  const data = await makeDataSet();
  const { outDir } = await make({ dataDir: data, copies: 1 });
  await Deno.writeFile(`${outDir}/.tmp-${DATA_FILE_NAMES.trainImages}-deadbeef`, new Uint8Array(9));
  await make({ dataDir: data, outDir, copies: 1 });
  assert.deepEqual(await listing(outDir), NAMES);
});

Deno.test("makeData() refuses a folder holding anything but its own files, and writes nothing there", async () => {
  const data = await makeDataSet();
  const outDir = await tempDir({ prefix: "mnp-foreign-" });
  await Deno.writeTextFile(`${outDir}/notes.txt`, "keep me");
  await assert.rejects(() => make({ dataDir: data, outDir }), {
    name: "InputError",
    message: `Cannot write make-data folder "${outDir}" as it must be new or an earlier ` +
      `make-data folder: it holds "notes.txt". Hint: pick another --out`,
  });
  assert.deepEqual(await listing(outDir), ["notes.txt"]);
});

Deno.test("makeData() refuses to write into its own source folder", async () => {
  const data = await makeDataSet();
  await assert.rejects(() => make({ dataDir: data, outDir: `${data}/.` }), {
    name: "InputError",
    message: `Cannot write make-data folder "${data}/." as it must not be the --data folder: ` +
      `it would overwrite the source. Hint: pick another --out`,
  });
});

Deno.test("makeData() refuses bad options with the flag, the rule and the value", async () => {
  const data = await makeDataSet();
  const cases: [Partial<MakeDataOptions>, string][] = [
    [{ copies: 0 }, `Cannot use --copies as it must be an integer ≥ 1: current value is "0"`],
    [{ copies: 1.5 }, `Cannot use --copies as it must be an integer ≥ 1: current value is "1.5"`],
    [{ shift: -1 }, `Cannot use --shift as it must be an integer ≥ 0: current value is "-1"`],
    [
      { seed: 2 ** 32 },
      `Cannot use --seed as it must be an integer ≥ 0 and ≤ 4294967295: current value is ` +
      `"4294967296"`,
    ],
    [
      { shift: 10 },
      `Cannot use --shift as it must be smaller than the images (10×10), or every pixel could ` +
      `fall off the edge: current value is "10"`,
    ],
    [
      { copies: 35791395 },
      `Cannot use --copies as copies × training images must fit an IDX count (at most ` +
      `4294967295): current value is "35791395" (35791395 × 120 = 4294967400). Hint: use ` +
      `--copies 35791394 or fewer`,
    ],
  ];
  for (const [options, message] of cases) {
    const outDir = `${await tempDir()}/out`;
    await assert.rejects(() => make({ dataDir: data, outDir, ...options }), (error: Error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.message, message);
      return true;
    });
    assert.equal(await Deno.stat(outDir).catch(() => null), null, "nothing written");
  }
});

Deno.test("makeData() refuses a source whose training images and labels differ in count", async () => {
  const data = await makeDataSet();
  const labels = `${data}/${DATA_FILE_NAMES.trainLabels}`;
  await Deno.writeFile(labels, idxBytes([3], [0, 1, 2]));
  await assert.rejects(() => make({ dataDir: data }), {
    name: "InputError",
    message: `Cannot pair IDX files "${data}/${DATA_FILE_NAMES.trainImages}" and "${labels}" ` +
      `as their counts must match: ${TRAIN} images, 3 labels`,
  });
});

Deno.test("shiftImage() moves pixels, fills the uncovered part with what the target holds, and drops what leaves", () => {
  const src = Uint8Array.from({ length: 6 }, (_, i) => i + 1); // 2 rows × 3 cols: [1 2 3 / 4 5 6]
  const at = (dx: number, dy: number) => {
    const out = new Uint8Array(8); // offsets: source and target both start at 1
    const padded = new Uint8Array(8);
    padded.set(src, 1);
    shiftImage(padded, 1, out, 1, 2, 3, dx, dy);
    return [...out];
  };
  assert.deepEqual(at(0, 0), [0, 1, 2, 3, 4, 5, 6, 0]);
  assert.deepEqual(at(1, 0), [0, 0, 1, 2, 0, 4, 5, 0]);
  assert.deepEqual(at(-1, 0), [0, 2, 3, 0, 5, 6, 0, 0]);
  assert.deepEqual(at(0, 1), [0, 0, 0, 0, 1, 2, 3, 0]);
  assert.deepEqual(at(-2, -1), [0, 6, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(at(3, 0), [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(at(0, -2), [0, 0, 0, 0, 0, 0, 0, 0]);
});
