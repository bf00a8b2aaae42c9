/**
 * make-data: writes a larger IDX data set from a source one, the training set
 * repeated N times (each copy after the first shifted by seeded random whole
 * pixels), streaming in chunks so memory stays flat however large N is.
 *
 * @module
 */
import { bundledDataDir } from "./bundled.ts";
import { numberFlag } from "./config.ts";
import { ConfigError, InputError } from "../engine/errors.ts";
import { createPendingFile, type PendingFile, TEMP_PREFIX } from "../engine/files.ts";
import { checkOutputFolder } from "../engine/run_folder.ts";
import {
  DATA_FILE_NAMES,
  type DataFiles,
  findDataFiles,
  idxBlocks,
  type IdxHeader,
  readIdxHeader,
} from "../stages/idx_decode.ts";
import { type Random, seededRandom } from "../model/rng.ts";

/** The largest item count an IDX header holds: one big-endian u32. */
const IDX_MAX_COUNT = 0xffffffff;

/** What the output folder is called in errors. */
const FOLDER_KIND = "make-data folder";

/**
 * Copies one (rows × cols) image from `source` at `sourceOffset` into `target`
 * at `targetOffset`, moved `dx` pixels right and `dy` down; pixels moved off the
 * edge are lost, and those uncovered are left as `target` holds them (zero in a
 * fresh buffer: background).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shiftImage } from "./make_data.ts";
 * const target = new Uint8Array(4);
 * shiftImage(new Uint8Array([1, 2, 3, 4]), 0, target, 0, 2, 2, 1, 0);
 * assert.deepEqual([...target], [0, 1, 0, 3]);
 * ```
 */
export function shiftImage(
  source: Uint8Array,
  sourceOffset: number,
  target: Uint8Array,
  targetOffset: number,
  rows: number,
  cols: number,
  dx: number,
  dy: number,
): void {
  const firstRow = Math.max(0, dy), endRow = Math.min(rows, rows + dy);
  const firstCol = Math.max(0, dx), endCol = Math.min(cols, cols + dx);
  for (let r = firstRow; r < endRow; r++) {
    const from = sourceOffset + (r - dy) * cols - dx;
    const to = targetOffset + r * cols;
    for (let c = firstCol; c < endCol; c++) target[to + c] = source[from + c];
  }
}

/** Options of {@linkcode makeData}. */
export interface MakeDataOptions {
  /** The source IDX folder (raw or `.gz` files). @default the bundled MNIST */
  dataDir?: string;
  /** The output folder: absent, or an earlier make-data output, which is replaced. */
  outDir: string;
  /** How many copies of the training set to write, the first unshifted; at least 1. */
  copies: number;
  /** The largest offset in pixels, each way and on each axis; 0 repeats the originals. */
  shift: number;
  /** Seed of the offsets. @default 1 */
  seed?: number;
  /** Receives a progress line per copy written. @default nothing */
  log?: (line: string) => void;
}

/** What {@linkcode makeData} wrote. */
export interface MakeDataResult {
  /** The four files written, raw, under their standard names. */
  files: DataFiles;
  /** Training images written: copies × source training images. */
  trainImages: number;
  /** Test images written (the source's, unchanged). */
  testImages: number;
  /** Image height. */
  rows: number;
  /** Image width. */
  cols: number;
}

/**
 * Writes an IDX data set into `outDir`: the source training set `copies` times
 * in copy-major order (copy 1 the originals, every further copy each image
 * moved by a seeded random offset (dx, dy) in [−shift, shift] with zero fill),
 * its labels repeated to match, and the test files unchanged. The source is
 * streamed once per copy, so memory does not grow with `copies`; the same
 * seed gives the same bytes. Every file goes to a temp name first, and the four
 * are renamed into place only once all are complete, so an earlier output in
 * `outDir` survives a failure whole.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { makeData } from "./make_data.ts";
 * import { DATA_FILE_NAMES } from "../stages/idx_decode.ts";
 * const dir = await Deno.makeTempDir();
 * const labels = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 3, 5]);
 * const images = new Uint8Array([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 9, 7]);
 * await Deno.mkdir(`${dir}/src`);
 * for (const name of Object.values(DATA_FILE_NAMES)) {
 *   await Deno.writeFile(`${dir}/src/${name}`, name.includes("images") ? images : labels);
 * }
 * const result = await makeData({ dataDir: `${dir}/src`, outDir: `${dir}/out`, copies: 3, shift: 0 });
 * assert.equal(result.trainImages, 6);
 * const written = await Deno.readFile(result.files.trainLabels);
 * assert.deepEqual([...written.subarray(8)], [3, 5, 3, 5, 3, 5]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function makeData(options: MakeDataOptions): Promise<MakeDataResult> {
  const { dataDir = bundledDataDir(), outDir, copies, shift, seed = 1, log = () => {} } = options;
  numberFlag("copies", String(copies), { integer: true, min: 1 });
  numberFlag("shift", String(shift), { integer: true, min: 0 });
  numberFlag("seed", String(seed), { integer: true, min: 0, max: 2 ** 32 - 1 });

  const source = await findDataFiles(dataDir);
  const trainImages = await readIdxHeader(source.trainImages, 3);
  const trainLabels = await readIdxHeader(source.trainLabels, 1);
  const testImages = await readIdxHeader(source.testImages, 3);
  const testLabels = await readIdxHeader(source.testLabels, 1);
  checkPair(source.trainImages, trainImages, source.trainLabels, trainLabels);
  checkPair(source.testImages, testImages, source.testLabels, testLabels);
  const [count, rows, cols] = trainImages.dims;
  if (testImages.dims[1] !== rows || testImages.dims[2] !== cols) {
    throw new InputError(
      `Cannot use test images "${source.testImages}" as their size must match the training ` +
        `images (${rows}×${cols}): current value is ${testImages.dims[1]}×${testImages.dims[2]}`,
    );
  }
  if (copies * count > IDX_MAX_COUNT) {
    throw new ConfigError(
      `Cannot use --copies as copies × training images must fit an IDX count (at most ` +
        `${IDX_MAX_COUNT}): current value is "${copies}" (${copies} × ${count} = ${
          copies * count
        }). Hint: use --copies ${Math.floor(IDX_MAX_COUNT / count)} or fewer`,
    );
  }
  if (shift >= rows || shift >= cols) {
    throw new ConfigError(
      `Cannot use --shift as it must be smaller than the images (${rows}×${cols}), or every ` +
        `pixel could fall off the edge: current value is "${shift}"`,
    );
  }

  await checkMakeDataFolder(outDir, dataDir);
  await Deno.mkdir(outDir, { recursive: true });
  await removeLeftovers(outDir);
  const out: DataFiles = {
    trainImages: `${outDir}/${DATA_FILE_NAMES.trainImages}`,
    trainLabels: `${outDir}/${DATA_FILE_NAMES.trainLabels}`,
    testImages: `${outDir}/${DATA_FILE_NAMES.testImages}`,
    testLabels: `${outDir}/${DATA_FILE_NAMES.testLabels}`,
  };
  const pending: PendingFile[] = [];
  const open = async (path: string) => {
    const file = await createPendingFile(path);
    pending.push(file);
    return file;
  };
  try {
    const images = await open(out.trainImages);
    const labels = await open(out.trainLabels);
    await images.write(headerBytes([copies * count, rows, cols]));
    await labels.write(headerBytes([copies * count]));
    const itemSize = rows * cols;
    let buffer = new Uint8Array(0);
    for (let copy = 1; copy <= copies; copy++) {
      const random = seededRandom(seed, "make-data shift", copy);
      for await (const block of await idxBlocks(source.trainImages, 3)) {
        if (copy === 1 || shift === 0) {
          await images.write(block.data);
          continue;
        }
        if (buffer.length < block.data.length) buffer = new Uint8Array(block.data.length);
        const shifted = buffer.subarray(0, block.data.length);
        shifted.fill(0);
        for (let at = 0; at < block.data.length; at += itemSize) {
          const dx = offset(random, shift), dy = offset(random, shift);
          shiftImage(block.data, at, shifted, at, rows, cols, dx, dy);
        }
        await images.write(shifted);
      }
      for await (const block of await idxBlocks(source.trainLabels, 1)) {
        await labels.write(block.data);
      }
      log(
        `make-data: copy ${copy}/${copies} written (${count} images${
          copy === 1
            ? ", the originals"
            : shift === 0
            ? ", unshifted"
            : `, each shifted by up to ±${shift} px`
        })`,
      );
    }
    await images.close();
    await labels.close();
    for (
      const [role, header] of [["testImages", testImages], ["testLabels", testLabels]] as const
    ) {
      const file = await open(out[role]);
      await file.write(headerBytes(header.dims));
      for await (const block of await idxBlocks(source[role], header.dims.length)) {
        await file.write(block.data);
      }
      await file.close();
    }
    for (const file of pending) await file.commit();
  } catch (error) {
    for (const file of pending) await file.discard();
    throw error;
  }
  return { files: out, trainImages: copies * count, testImages: testImages.dims[0], rows, cols };
}

/** A whole-pixel offset drawn uniformly from [−shift, shift]. */
function offset(random: Random, shift: number): number {
  return Math.floor(random() * (2 * shift + 1)) - shift;
}

/** The IDX header of unsigned-byte data with these dimensions. */
function headerBytes(dims: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(bytes.buffer);
  bytes[2] = 0x08;
  bytes[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  return bytes;
}

/** Refuses an images and a labels file whose counts differ. */
function checkPair(imagesPath: string, images: IdxHeader, labelsPath: string, labels: IdxHeader) {
  if (images.dims[0] !== labels.dims[0]) {
    throw new InputError(
      `Cannot pair IDX files "${imagesPath}" and "${labelsPath}" as their counts must match: ` +
        `${images.dims[0]} images, ${labels.dims[0]} labels`,
    );
  }
}

/** The four output names, and the temp files an interrupted make-data leaves beside them. */
function isMakeDataEntry(name: string): boolean {
  return Object.values(DATA_FILE_NAMES).some((file) =>
    name === file || name.startsWith(`${TEMP_PREFIX}${file}-`)
  );
}

/**
 * Checks that `outDir` is absent or an earlier make-data output (the four
 * files, and the temp files of an interrupted run), and not the source folder.
 */
async function checkMakeDataFolder(outDir: string, dataDir: string): Promise<void> {
  const [out, data] = await Promise.all([realPathOrNull(outDir), realPathOrNull(dataDir)]);
  if (out !== null && out === data) {
    throw new InputError(
      `Cannot write ${FOLDER_KIND} "${outDir}" as it must not be the --data folder: it would ` +
        `overwrite the source. Hint: pick another --out`,
    );
  }
  await checkOutputFolder(outDir, FOLDER_KIND, (e) => e.isFile && isMakeDataEntry(e.name));
}

/** Removes the temp files an interrupted make-data left (the guard allowed only those). */
async function removeLeftovers(outDir: string): Promise<void> {
  for await (const entry of Deno.readDir(outDir)) {
    if (entry.name.startsWith(TEMP_PREFIX)) await Deno.remove(`${outDir}/${entry.name}`);
  }
}

async function realPathOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
