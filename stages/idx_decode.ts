/**
 * IDX decode: streams IDX files (raw or gzip, sniffed by magic) into uint8
 * chunks, checking the header, the counts against the data size, and labels.
 *
 * IDX layout: two zero bytes, a type byte (0x08 = unsigned byte), a dimension
 * count, then one big-endian u32 per dimension, then the data.
 *
 * @module
 */
import { InputError } from "../engine/errors.ts";
import { sha256, toHex } from "../engine/hash.ts";
import type { Chunk, DataSplits } from "../engine/chunk.ts";
import type { Codec, Stage } from "../engine/stage.ts";
import { dataSplitsCodec } from "../engine/chunk.ts";

/** The IDX type byte for unsigned bytes, the only type MNIST-like files use. */
const UBYTE = 0x08;

/** A parsed IDX header. */
export interface IdxHeader {
  /** Magic number, e.g. 0x00000803 for (n, rows, cols) unsigned bytes. */
  magic: number;
  /** Dimensions, items first: `[n]` for labels, `[n, rows, cols]` for images. */
  dims: number[];
}

/** A run of whole items from an IDX file. */
export interface IdxBlock {
  /** The file's header. */
  header: IdxHeader;
  /** Whole items, `itemSize` bytes each. */
  data: Uint8Array;
}

/** Options of {@linkcode IdxDecoderStream}. */
export interface IdxDecoderOptions {
  /** File name used in error messages. */
  source: string;
  /** Required number of dimensions: 1 for labels, 3 for images. */
  dimensions: number;
  /** The whole file's size when known (raw files), checked against the header before any data. */
  byteLength?: number;
}

const hex8 = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

/**
 * Transforms the bytes of one IDX file into blocks of whole items, checking
 * the magic number and that the data is exactly as long as the header declares.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdxDecoderStream } from "./idx_decode.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]);
 * const blocks = await Array.fromAsync(
 *   ReadableStream.from([bytes]).pipeThrough(
 *     new IdxDecoderStream({ source: "labels", dimensions: 1 }),
 *   ),
 * );
 * assert.deepEqual([...blocks[0].data], [7, 9]);
 * ```
 */
export class IdxDecoderStream extends TransformStream<Uint8Array, IdxBlock> {
  /** Creates a decoder for one file. */
  constructor(options: IdxDecoderOptions) {
    const { source, dimensions, byteLength } = options;
    const expectedMagic = (UBYTE << 8) | dimensions;
    const fail = (rule: string, hint?: string) =>
      new InputError(
        `Cannot decode IDX file "${source}" as ${rule}${hint ? `. Hint: ${hint}` : ""}`,
      );
    let head = new Uint8Array(0);
    let header: IdxHeader | null = null;
    let itemSize = 1;
    let expected = 0;
    let received = 0;
    let carry = new Uint8Array(0);

    /** Parses the header once complete; returns the data bytes that followed it, or null. */
    const parseHeader = (): Uint8Array | null => {
      if (head.length < 4) return null;
      const view = new DataView(head.buffer, head.byteOffset, head.length);
      const magic = view.getUint32(0);
      if (magic !== expectedMagic) {
        throw fail(
          `magic number must be ${hex8(expectedMagic)}: current value is ${hex8(magic)}`,
          magic === 0x1f8b0800 || (magic >>> 16) === 0x1f8b
            ? "the file looks gzip-compressed but could not be read as gzip"
            : dimensions === 3
            ? "is this a labels file (0x00000801) in place of an images file?"
            : "is this an images file (0x00000803) in place of a labels file?",
        );
      }
      const headerSize = 4 + 4 * dimensions;
      if (head.length < headerSize) return null;
      const dims = Array.from({ length: dimensions }, (_, i) => view.getUint32(4 + 4 * i));
      if (dims.some((d) => d === 0)) {
        throw fail(`every dimension must be at least 1: current value is [${dims.join(", ")}]`);
      }
      header = { magic, dims };
      itemSize = dims.slice(1).reduce((a, b) => a * b, 1);
      expected = dims[0] * itemSize;
      if (byteLength !== undefined && headerSize + expected !== byteLength) {
        const held = byteLength - headerSize;
        throw fail(
          `its header declares ${dims.join("×")} = ${expected} data bytes: the file holds ${held}` +
            (held < expected ? " (truncated)" : ""),
          held < expected
            ? "the file is truncated; fetch it again"
            : "the header or the file is damaged",
        );
      }
      const rest = head.subarray(headerSize);
      head = new Uint8Array(0);
      return rest;
    };

    const acceptData = (
      bytes: Uint8Array,
      controller: TransformStreamDefaultController<IdxBlock>,
    ) => {
      received += bytes.length;
      if (received > expected) {
        throw fail(
          `its header declares ${
            header!.dims.join("×")
          } = ${expected} data bytes: the file holds more (at least ${received})`,
          "the header or the file is damaged",
        );
      }
      let data = bytes;
      if (carry.length > 0) {
        const need = itemSize - carry.length;
        const joined = new Uint8Array(carry.length + Math.min(need, data.length));
        joined.set(carry);
        joined.set(data.subarray(0, need), carry.length);
        data = data.subarray(Math.min(need, data.length));
        if (joined.length < itemSize) {
          carry = joined;
          return;
        }
        controller.enqueue({ header: header!, data: joined });
        carry = new Uint8Array(0);
      }
      const whole = data.length - (data.length % itemSize);
      if (whole > 0) controller.enqueue({ header: header!, data: data.slice(0, whole) });
      if (whole < data.length) carry = data.slice(whole);
    };

    super({
      transform(bytes, controller) {
        if (header) return acceptData(bytes, controller);
        const joined = new Uint8Array(head.length + bytes.length);
        joined.set(head);
        joined.set(bytes, head.length);
        head = joined;
        const rest = parseHeader();
        if (rest && rest.length > 0) acceptData(rest, controller);
      },
      flush() {
        if (!header) {
          throw fail(
            `it must start with a ${
              4 + 4 * dimensions
            }-byte header: the file holds ${head.length} bytes`,
            "the file is empty or truncated",
          );
        }
        if (received < expected) {
          throw fail(
            `its header declares ${
              header.dims.join("×")
            } = ${expected} data bytes: the file holds ${received} (truncated)`,
            "the file is truncated; fetch it again",
          );
        }
      },
    });
  }
}

/** The four files of an IDX data set, each raw or `.gz`. */
export interface DataFiles {
  /** Training images (idx3). */
  trainImages: string;
  /** Training labels (idx1). */
  trainLabels: string;
  /** Test images (idx3). */
  testImages: string;
  /** Test labels (idx1). */
  testLabels: string;
}

/** The base names a data folder must hold, raw or with `.gz`. */
export const DATA_FILE_NAMES: Readonly<DataFiles> = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
};

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Finds the four IDX files in a folder, preferring the raw name over `.gz`. */
export async function findDataFiles(dir: string): Promise<DataFiles> {
  const folder = await Deno.stat(dir).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  });
  if (!folder?.isDirectory) {
    throw new InputError(
      `Cannot read data folder "${dir}" as it must be a folder: ${
        folder ? "it is a file" : "it does not exist"
      }. ` +
        `Hint: --data DIR needs a folder holding ${Object.values(DATA_FILE_NAMES).join(", ")}`,
    );
  }
  const found: Partial<DataFiles> = {};
  for (const [role, name] of Object.entries(DATA_FILE_NAMES) as [keyof DataFiles, string][]) {
    const raw = `${dir}/${name}`;
    if (await isFile(raw)) found[role] = raw;
    else if (await isFile(`${raw}.gz`)) found[role] = `${raw}.gz`;
    else {
      throw new InputError(
        `Cannot read data folder "${dir}" as it must hold "${name}" or "${name}.gz": neither exists. ` +
          `Hint: --data DIR needs ${Object.values(DATA_FILE_NAMES).join(", ")}`,
      );
    }
  }
  return found as DataFiles;
}

/** A content hash of the four files (never their paths or times): the source key. */
export async function fingerprintData(files: DataFiles): Promise<string> {
  const parts: string[] = [];
  for (const role of Object.keys(DATA_FILE_NAMES) as (keyof DataFiles)[]) {
    parts.push(`${role}:${toHex(await sha256(await Deno.readFile(files[role])))}`);
  }
  return toHex(await sha256(parts.join("\n")));
}

/** An opened IDX file: its (decompressed) bytes, whether it was gzip, and its size on disk. */
interface OpenedFile {
  bytes: ReadableStream<Uint8Array>;
  gzip: boolean;
  size: number;
}

/** Opens a file as a byte stream, decompressing when it starts with the gzip magic 1f 8b. */
async function openMaybeGzip(path: string): Promise<OpenedFile> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new InputError(`Cannot read IDX file "${path}" as it does not exist`);
    }
    throw error;
  }
  const { size } = await file.stat();
  // Peek at the first bytes through the stream itself, so pipes (which cannot seek) work too.
  const reader = file.readable.getReader();
  let head = new Uint8Array(0);
  while (head.length < 2) {
    const { value, done } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(head.length + value.length);
    joined.set(head);
    joined.set(value, head.length);
    head = joined;
  }
  const bytes = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.length > 0) controller.enqueue(head);
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  return {
    bytes: gzip
      ? bytes.pipeThrough(
        new DecompressionStream("gzip") as TransformStream<Uint8Array, Uint8Array>,
      )
      : bytes,
    gzip,
    size,
  };
}

/** Decodes one IDX file into its header and all its data bytes. */
export async function decodeIdxFile(
  path: string,
  dimensions: number,
): Promise<{ dims: number[]; data: Uint8Array }> {
  const opened = await openMaybeGzip(path);
  const stream = opened.bytes.pipeThrough(
    new IdxDecoderStream({
      source: path,
      dimensions,
      // A regular raw file's size is known up front; pipes report 0.
      byteLength: opened.gzip || opened.size === 0 ? undefined : opened.size,
    }),
  );
  let data: Uint8Array | null = null;
  let dims: number[] = [];
  let filled = 0;
  try {
    for await (const block of stream) {
      if (!data) {
        dims = block.header.dims;
        const total = dims.reduce((a, b) => a * b, 1);
        try {
          data = new Uint8Array(total);
        } catch {
          throw new InputError(
            `Cannot decode IDX file "${path}" as its header declares ${
              dims.join("×")
            } = ${total} ` +
              `data bytes, more than fit in memory. Hint: the header is damaged`,
          );
        }
      }
      data.set(block.data, filled);
      filled += block.data.length;
    }
  } catch (error) {
    if (error instanceof InputError || !opened.gzip) throw error;
    throw new InputError(
      `Cannot decode IDX file "${path}" as its gzip stream must be complete and valid: ${
        (error as Error).message
      }. Hint: the file is damaged or truncated; fetch it again`,
    );
  }
  if (!data) throw new InputError(`Cannot decode IDX file "${path}" as it holds no data`);
  return { dims, data };
}

/** Decodes an images file and a labels file into one chunk, checking they pair up. */
export async function decodeImagesAndLabels(
  imagesPath: string,
  labelsPath: string,
): Promise<Chunk<Uint8Array>> {
  const images = await decodeIdxFile(imagesPath, 3);
  const labels = await decodeIdxFile(labelsPath, 1);
  if (images.dims[0] !== labels.dims[0]) {
    throw new InputError(
      `Cannot pair IDX files "${imagesPath}" and "${labelsPath}" as their counts must match: ` +
        `${images.dims[0]} images, ${labels.dims[0]} labels`,
    );
  }
  return { images: images.data, labels: labels.data, rows: images.dims[1], cols: images.dims[2] };
}

/** Returns the index of the first label ≥ `classes`, or −1. */
function firstLabelOutside(labels: Uint8Array, classes: number): number {
  for (let i = 0; i < labels.length; i++) if (labels[i] >= classes) return i;
  return -1;
}

/** Decodes and checks a whole data set; `classes` is one more than the largest training label. */
export async function decodeDataSet(files: DataFiles): Promise<DataSplits<Uint8Array>> {
  const train = await decodeImagesAndLabels(files.trainImages, files.trainLabels);
  const test = await decodeImagesAndLabels(files.testImages, files.testLabels);
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new InputError(
      `Cannot use test images "${files.testImages}" as their size must match the training images ` +
        `(${train.rows}×${train.cols}): current value is ${test.rows}×${test.cols}`,
    );
  }
  const perClass = new Array<number>(256).fill(0);
  for (const label of train.labels) perClass[label]++;
  const classes = perClass.findLastIndex((n) => n > 0) + 1;
  if (classes < 2) {
    throw new InputError(
      `Cannot train on labels "${files.trainLabels}" as they must name at least 2 classes: ` +
        `the largest label is ${classes - 1}`,
    );
  }
  const empty = perClass.slice(0, classes).flatMap((n, c) => (n === 0 ? [c] : []));
  if (empty.length > 0) {
    const largest = classes - 1;
    throw new InputError(
      `Cannot train on labels "${files.trainLabels}" as every class in the range 0..${largest} ` +
        `must have training images: ${empty.length} have none (${empty.slice(0, 5).join(", ")}` +
        `${empty.length > 5 ? ", …" : ""}). Hint: label ${largest} at index ` +
        `${train.labels.indexOf(largest)} may be outside the intended class range`,
    );
  }
  const outside = firstLabelOutside(test.labels, classes);
  if (outside >= 0) {
    throw new InputError(
      `Cannot use test labels "${files.testLabels}" as every label must be in the training class ` +
        `range 0..${classes - 1}: label ${test.labels[outside]} at index ${outside}`,
    );
  }
  return { train, test, classes };
}

/** The decode stage: data files in, uint8 train and test chunks out. */
export function idxDecodeStage(): Stage<DataFiles, DataSplits<Uint8Array>> {
  return {
    name: "decode",
    version: 1,
    params: {},
    run: (files) => decodeDataSet(files),
    codec: dataSplitsCodec as Codec<DataSplits<Uint8Array>>,
  };
}
